package planpreview

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/syncplan"
)

const (
	// RevisionCap is Cloud Run's limit of revisions per service; beyond it Cloud Run deletes the oldest
	// revisions that serve no traffic.
	RevisionCap = 1000
	// lowHeadroom is the number of free revisions below which the preview warns.
	lowHeadroom = 100
)

type level string

const (
	levelOK    level = "ok"
	levelWarn  level = "warning"
	levelError level = "error"
)

// finding is the result of one pre-flight check.
type finding struct {
	level level
	text  string
}

func (f finding) String() string {
	return fmt.Sprintf("[%s] %s", f.level, f.text)
}

func (pv *preview) add(l level, format string, args ...any) {
	pv.findings = append(pv.findings, finding{level: l, text: fmt.Sprintf(format, args...)})
}

// preflight runs the checks for carrying out plan on service id over live (nil when the service does not exist).
func (pv *preview) preflight(ctx context.Context, client *provider.Client, plan *syncplan.Plan, id string, live *runpb.Service, newRevision bool) {
	rev := pv.checkValidateOnly(ctx, client, plan, id, live)

	if n := len(rev); n > naming.MaxRevisionNameLength {
		pv.add(levelError, "revision name %s is %d characters long, Cloud Run allows at most %d", rev, n, naming.MaxRevisionNameLength)
	} else {
		pv.add(levelOK, "revision name %s: %d characters, at most %d allowed", rev, n, naming.MaxRevisionNameLength)
	}

	if tag, err := naming.PreviewTag(id, pv.want.Commit); err != nil {
		pv.add(levelWarn, "preview tag (CLOUDRUN_SYNC option tag: true) cannot be used: %v", err)
	} else {
		pv.add(levelOK, "preview tag %s (CLOUDRUN_SYNC option tag: true): %d + %d characters with the service name, at most %d allowed",
			tag, len(tag), len(id), naming.MaxTagAndServiceLength)
	}

	if live == nil {
		pv.add(levelOK, "revisions: the service does not exist yet; it starts with 1 of %d", RevisionCap)
		return
	}
	revs, err := client.ListRevisions(ctx, live.GetName())
	if err != nil {
		pv.add(levelError, "cannot list the revisions of service %s: %v", id, err)
		return
	}
	pv.checkReuse(revs, rev, live, newRevision)
	pv.checkHeadroom(len(revs), newRevision)
}

// checkValidateOnly sends the requests CLOUDRUN_SYNC would send as validate_only requests, so Cloud Run checks
// them without applying them. When Cloud Run refuses the new revision's name with ALREADY_EXISTS (a revision
// of that name exists with another template, or existed and was deleted), it checks the next names as
// CLOUDRUN_SYNC would try them (plan.Next) and warns which one the deployment would take. It returns the
// name checked last.
func (pv *preview) checkValidateOnly(ctx context.Context, client *provider.Client, plan *syncplan.Plan, id string, live *runpb.Service) string {
	what := "update of service"
	if live == nil {
		what = "creation of service"
	}
	rev := plan.Revision()
	for {
		req, err := plan.Request(live, rev)
		if err != nil {
			pv.add(levelError, "CLOUDRUN_SYNC would fail: %v", err) // err says what it cannot compute
			return rev
		}
		err = client.ValidateService(ctx, req, live == nil)
		if err == nil {
			pv.add(levelOK, "Cloud Run accepts the %s %s (validate_only)", what, id)
			return rev
		}
		next := ""
		if errors.Is(err, provider.ErrAlreadyExists) && !plan.Reused {
			next = plan.Next(rev)
		}
		if next == "" {
			pv.add(levelError, "Cloud Run rejects the %s %s (validate_only): %v", what, id, err)
			return rev
		}
		pv.add(levelWarn, "Cloud Run refuses the revision name %s (validate_only: %v): a revision of that name exists with another template, "+
			"or existed and was deleted; CLOUDRUN_SYNC then tries the name %s", rev, err, next)
		rev = next
	}
}

// checkReuse reports whether the revision name is already taken.
func (pv *preview) checkReuse(revs []*runpb.Revision, rev string, live *runpb.Service, newRevision bool) {
	if !newRevision && rev == live.GetTemplate().GetRevision() {
		pv.add(levelOK, "revision %s is the live template's revision: the deployment creates no revision", rev)
		return
	}
	for _, r := range revs {
		if naming.ShortName(r.GetName()) != rev {
			continue
		}
		pv.add(levelWarn, "revision name %s is already taken by a revision created %s: Cloud Run accepts the deployment only if "+
			"that revision has exactly the same template (see the validate_only check), otherwise it answers ALREADY_EXISTS",
			rev, r.GetCreateTime().AsTime().UTC().Format("2006-01-02 15:04:05 MST"))
		return
	}
	pv.add(levelOK, "revision name %s is not taken yet", rev)
}

// checkHeadroom compares the number of revisions with Cloud Run's limit.
func (pv *preview) checkHeadroom(count int, newRevision bool) {
	after := count
	if newRevision {
		after++
	}
	left := RevisionCap - after
	switch {
	case left < 0:
		pv.add(levelWarn, "revisions: %d after the deployment, over Cloud Run's limit of %d: Cloud Run will delete the oldest revisions that serve no traffic; "+
			"add CLOUDRUN_CANARY_CLEANUP to the pipeline or set quickSync.prune to delete them yourself", after, RevisionCap)
	case left < lowHeadroom:
		pv.add(levelWarn, "revisions: %d of %d after the deployment, only %d left before Cloud Run deletes old revisions by itself; "+
			"add CLOUDRUN_CANARY_CLEANUP to the pipeline or set quickSync.prune", after, RevisionCap, left)
	default:
		pv.add(levelOK, "revisions: %d of %d after the deployment, %d left", after, RevisionCap, left)
	}
}
