package livestate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// Resource types reported to piped.
const (
	ResourceTypeService  = "Service"
	ResourceTypeRevision = "Revision"
)

// Share is what one revision receives from the traffic of a service.
type Share struct {
	// Revision is the short revision name.
	Revision string
	// Percent is the share of the traffic.
	Percent int32
	// Tags are the traffic tags of the revision, and URLs their URLs when Cloud Run reports them.
	Tags, URLs []string
	// Pending is true for a revision that the service's traffic asks for but that Cloud Run does not
	// route to (yet): its rollout is in progress or failed. Its Percent is 0 and Tags are the requested ones.
	Pending bool
}

// Serving returns the revisions of svc that serve traffic or carry a tag, most traffic first. It reads the
// traffic Cloud Run reports as applied (traffic statuses), or the requested traffic while Cloud Run reports
// none; a LATEST entry counts for the latest ready revision. Revisions that the requested traffic names but
// the applied traffic does not are added as Pending.
func Serving(svc *runpb.Service) []Share {
	latest := provider.ShortName(svc.GetLatestReadyRevision())
	var shares []*Share
	find := func(name string) *Share {
		for _, s := range shares {
			if s.Revision == name {
				return s
			}
		}
		s := &Share{Revision: name}
		shares = append(shares, s)
		return s
	}
	add := func(latestType bool, revision, tag, uri string, percent int32) {
		if latestType || revision == "" {
			revision = latest
		}
		if revision == "" || (percent == 0 && tag == "") {
			return
		}
		s := find(revision)
		s.Percent += percent
		if tag != "" {
			s.Tags = append(s.Tags, tag)
		}
		if uri != "" {
			s.URLs = append(s.URLs, uri)
		}
	}
	const typeLatest = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
	statuses := svc.GetTrafficStatuses()
	for _, s := range statuses {
		add(s.GetType() == typeLatest, s.GetRevision(), s.GetTag(), s.GetUri(), s.GetPercent())
	}
	applied := len(shares)
	for _, t := range svc.GetTraffic() {
		if len(statuses) == 0 {
			add(t.GetType() == typeLatest, t.GetRevision(), t.GetTag(), "", t.GetPercent())
			continue
		}
		if t.GetType() == typeLatest || t.GetRevision() == "" || (t.GetPercent() == 0 && t.GetTag() == "") ||
			slices.ContainsFunc(shares[:applied], func(s *Share) bool { return s.Revision == t.GetRevision() }) {
			continue
		}
		s := find(t.GetRevision())
		s.Pending = true
		if t.GetTag() != "" {
			s.Tags = append(s.Tags, t.GetTag())
		}
	}
	if len(svc.GetTraffic()) == 0 && len(statuses) == 0 {
		add(true, "", "", "", 100)
	}
	out := make([]Share, 0, len(shares))
	for _, s := range shares {
		out = append(out, *s)
	}
	slices.SortStableFunc(out, func(a, b Share) int {
		return cmp.Or(cmp.Compare(b.Percent, a.Percent), cmp.Compare(a.Revision, b.Revision))
	})
	return out
}

// PercentOf returns the share of the traffic of revision (short name) in shares.
func PercentOf(shares []Share, revision string) int32 {
	for _, s := range shares {
		if s.Revision == revision {
			return s.Percent
		}
	}
	return 0
}

// DescribeShares renders the revisions that serve traffic on one line, e.g. "web-a 90%, web-b 10% (tag canary)".
func DescribeShares(shares []Share) string {
	parts := make([]string, 0, len(shares))
	for _, s := range shares {
		if s.Pending {
			continue
		}
		p := fmt.Sprintf("%s %d%%", s.Revision, s.Percent)
		if len(s.Tags) > 0 {
			p += " (tag " + strings.Join(s.Tags, ", ") + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "no revision serves traffic"
	}
	return strings.Join(parts, ", ")
}

// resourceStates returns the service and the revisions that serve traffic or carry a tag.
func resourceStates(ctx context.Context, client *provider.Client, target string, svc *runpb.Service) ([]sdk.ResourceState, error) {
	shares := Serving(svc)
	states := []sdk.ResourceState{serviceState(target, svc, shares)}
	for _, s := range shares {
		name := provider.RevisionName(svc.GetName(), s.Revision)
		rev, err := client.GetRevision(ctx, name)
		if errors.Is(err, provider.ErrNotFound) {
			states = append(states, sdk.ResourceState{
				ID: name, ParentIDs: []string{svc.GetName()}, Name: s.Revision, ResourceType: ResourceTypeRevision,
				HealthStatus: sdk.ResourceHealthStateUnhealthy, HealthDescription: describeRevision(s, nil) + "; the revision does not exist",
				DeployTarget: target, ResourceMetadata: shareMetadata(s),
			})
			continue
		}
		if err != nil {
			return nil, err
		}
		states = append(states, revisionState(target, svc.GetName(), rev, s))
	}
	return states, nil
}

func serviceState(target string, svc *runpb.Service, shares []Share) sdk.ResourceState {
	health, desc := serviceHealth(svc)
	desc += "; traffic: " + DescribeShares(shares)
	if svc.GetUri() != "" {
		desc += "; " + svc.GetUri()
	}
	meta := map[string]string{
		"uri":                   svc.GetUri(),
		"generation":            strconv.FormatInt(svc.GetGeneration(), 10),
		"observedGeneration":    strconv.FormatInt(svc.GetObservedGeneration(), 10),
		"latestReadyRevision":   provider.ShortName(svc.GetLatestReadyRevision()),
		"latestCreatedRevision": provider.ShortName(svc.GetLatestCreatedRevision()),
		"templateRevision":      svc.GetTemplate().GetRevision(),
		"commit":                svc.GetLabels()[provider.LabelCommitHash],
	}
	return sdk.ResourceState{
		ID:                svc.GetName(),
		Name:              provider.ShortName(svc.GetName()),
		ResourceType:      ResourceTypeService,
		ResourceMetadata:  withoutEmpty(meta),
		HealthStatus:      health,
		HealthDescription: desc,
		DeployTarget:      target,
		CreatedAt:         svc.GetCreateTime().AsTime(),
	}
}

// serviceHealth reads the service's terminal (Ready) condition and its other conditions.
func serviceHealth(svc *runpb.Service) (sdk.ResourceHealthStatus, string) {
	for _, c := range svc.GetConditions() {
		if c.GetState() == runpb.Condition_CONDITION_FAILED && c.GetSeverity() != runpb.Condition_INFO {
			return sdk.ResourceHealthStateUnhealthy, "Not ready: " + c.GetType() + ": " + orDefault(c.GetMessage(), "failed")
		}
	}
	tc := svc.GetTerminalCondition()
	switch tc.GetState() {
	case runpb.Condition_CONDITION_SUCCEEDED:
		return sdk.ResourceHealthStateHealthy, "Ready"
	case runpb.Condition_CONDITION_FAILED:
		return sdk.ResourceHealthStateUnhealthy, "Not ready: " + orDefault(tc.GetMessage(), "the last rollout failed")
	case runpb.Condition_CONDITION_RECONCILING, runpb.Condition_CONDITION_PENDING:
		return sdk.ResourceHealthStateUnknown, "Reconciling: " + orDefault(tc.GetMessage(), "a rollout is in progress")
	}
	return sdk.ResourceHealthStateUnknown, "Cloud Run reports no Ready condition yet"
}

func revisionState(target, service string, rev *runpb.Revision, s Share) sdk.ResourceState {
	var health sdk.ResourceHealthStatus
	state, msg := provider.RevisionReadiness(rev)
	switch state {
	case provider.ReadinessReady:
		health = sdk.ResourceHealthStateHealthy
	case provider.ReadinessFailed:
		health = sdk.ResourceHealthStateUnhealthy
	default:
		health = sdk.ResourceHealthStateUnknown
	}
	desc := describeRevision(s, rev)
	if health != sdk.ResourceHealthStateHealthy && msg != "" {
		desc += "; " + msg
	}
	meta := shareMetadata(s)
	meta["image"] = strings.Join(images(rev), ", ")
	return sdk.ResourceState{
		ID:                rev.GetName(),
		ParentIDs:         []string{service},
		Name:              s.Revision,
		ResourceType:      ResourceTypeRevision,
		ResourceMetadata:  withoutEmpty(meta),
		HealthStatus:      health,
		HealthDescription: desc,
		DeployTarget:      target,
		CreatedAt:         rev.GetCreateTime().AsTime(),
	}
}

// describeRevision renders the revision on one line: traffic, tags and images.
func describeRevision(s Share, rev *runpb.Revision) string {
	desc := fmt.Sprintf("%d%% of the traffic", s.Percent)
	if s.Pending {
		desc = "requested in the traffic but not serving"
	}
	if len(s.Tags) > 0 {
		desc += ", tag " + strings.Join(s.Tags, ", ")
	}
	if imgs := images(rev); len(imgs) > 0 {
		desc += ", image " + strings.Join(imgs, ", ")
	}
	return desc
}

func shareMetadata(s Share) map[string]string {
	return map[string]string{
		"percent": strconv.Itoa(int(s.Percent)),
		"tags":    strings.Join(s.Tags, ","),
		"urls":    strings.Join(s.URLs, ","),
	}
}

func images(rev *runpb.Revision) []string {
	var out []string
	for _, c := range rev.GetContainers() {
		out = append(out, c.GetImage())
	}
	return out
}

func withoutEmpty(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" || v == "0" && k != "percent" {
			delete(m, k)
		}
	}
	return m
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
