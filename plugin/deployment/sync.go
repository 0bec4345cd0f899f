package deployment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// previewURLMetadataKey is the stage metadata key (suffixed with the deploy target) of the preview URL.
const previewURLMetadataKey = "cloudrun.previewURL."

// executeSync deploys the new revision on every deploy target.
//
// Per target: read the service; if it does not exist, create it with 100% to the new revision. Otherwise
// record the traffic before the deployment (once), apply the new template with the traffic pinned (LATEST
// replaced by the current latest ready revision, the new revision at 0%, plus its preview tag), wait until
// the new revision is ready, and then, unless skipTrafficShift, route 100% to it keeping tagged entries as
// 0% tag-only entries. If the revision fails or times out, the traffic is left as it was.
func (p *Plugin) executeSync(ctx context.Context, lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], dts []*sdk.DeployTarget[config.RawDeployTargetConfig]) sdk.StageStatus {
	store := p.metadata(input.Client)
	src, err := LoadSource(input.Request.TargetDeploymentSource)
	if err != nil {
		lp.Errorf("Invalid application configuration: %v", err)
		return sdk.StageStatusFailure
	}
	opts, quick, err := syncOptions(ctx, store, input, src.Spec)
	if err != nil {
		lp.Errorf("Invalid stage options: %v", err)
		return sdk.StageStatusFailure
	}
	lp.Infof("Deploying commit %s, image %s", short(src.Commit), strings.Join(src.Manifest.Images(), ", "))

	var mu sync.Mutex
	var urls []string
	status := p.forEachTarget(ctx, lp, dts, func(ctx context.Context, t *target) error {
		url, err := p.syncTarget(ctx, t, store, src, input.Request.Deployment, input.Request.RunningDeploymentSource.CommitHash, opts, quick)
		if url != "" {
			mu.Lock()
			urls = append(urls, url)
			mu.Unlock()
			if err := store.PutStageMetadata(ctx, previewURLMetadataKey+t.name, url); err != nil {
				t.lp.Errorf("Failed to save the preview URL in the stage metadata: %v", err)
			}
		}
		return err
	})
	if len(urls) > 0 {
		slices.Sort(urls)
		if err := store.PutStageMetadata(ctx, sdk.MetadataKeyStageDisplay, "Preview: "+strings.Join(urls, " ")); err != nil {
			lp.Errorf("Failed to save the preview URL in the stage metadata: %v", err)
		}
	}
	return status
}

// syncOptions returns the options of this CLOUDRUN_SYNC run and whether it is a quick sync. A quick sync
// uses spec.quickSync and ignores the stage config, which piped may fill with an unrelated stage's `with`.
func syncOptions(ctx context.Context, store metadataStore, input *sdk.ExecuteStageInput[config.RawApplicationSpec], spec config.ApplicationSpec) (config.SyncStageOptions, bool, error) {
	own, err := usesStageConfig(ctx, store, input)
	if err != nil {
		return config.SyncStageOptions{}, false, err
	}
	if !own {
		return spec.QuickSync.SyncStageOptions(), true, nil
	}
	opts, err := config.DecodeSyncStageOptions(input.Request.StageConfig)
	return opts, false, err
}

// usesStageConfig reports whether the stage config piped sent belongs to this stage. It does not for the
// stages of a quick sync (marked at planning) and for stages the pipeline does not list: a quick sync of an
// application without a Cloud Run pipeline, or the automatic rollback stage, which borrows another stage's
// index and so receives that stage's `with`.
func usesStageConfig(ctx context.Context, store metadataStore, input *sdk.ExecuteStageInput[config.RawApplicationSpec]) (bool, error) {
	v, found, err := store.GetStageMetadata(ctx, quickSyncMetadataKey)
	if err != nil {
		return false, fmt.Errorf("failed to read the stage metadata: %w", err)
	}
	if found && v == "true" {
		return false, nil
	}
	cfg := input.Request.TargetDeploymentSource.ApplicationConfig
	return cfg != nil && cfg.HasStage(input.Request.StageName), nil
}

// syncTarget runs CLOUDRUN_SYNC on one deploy target and returns the preview URL, if any. runningCommit is
// the commit of the previous successful deployment, whose preview tag the new traffic no longer carries.
func (p *Plugin) syncTarget(ctx context.Context, t *target, store metadataStore, src *Source, d sdk.Deployment, runningCommit string, opts config.SyncStageOptions, quick bool) (string, error) {
	want, err := src.desired(t.cfg, d)
	if err != nil {
		return "", err
	}
	tag := ""
	if opts.Tag {
		if tag, err = naming.PreviewTag(want.id, src.Commit); err != nil {
			return "", err
		}
	}
	oldTag := ""
	if runningCommit != "" && runningCommit != src.Commit {
		oldTag, _ = naming.PreviewTag(want.id, runningCommit) // no tag can be built: nothing to drop
	}
	name := want.svc.GetName()
	live, err := t.client.GetService(ctx, name)
	switch {
	case errors.Is(err, provider.ErrNotFound):
		return p.deployFresh(ctx, t, store, want, tag, opts, nil)
	case err != nil:
		return "", err
	case live.GetLatestReadyRevision() == "":
		return p.deployFresh(ctx, t, store, want, tag, opts, live)
	}

	// The service exists. Keep its revision when the template did not change.
	reused := want.reuseLiveRevision(live)
	before, err := pinned(live)
	if err != nil {
		return "", err
	}
	pre, err := encodeService(live)
	if err != nil {
		return "", err
	}
	rec, err := saveSyncRecordOnce(ctx, store, t.name, &syncRecord{
		Service: name, Revision: want.revision, Traffic: toEntries(before), PreviewTag: tag,
		CommitLabel: want.svc.GetLabels()[provider.LabelCommitHash], Before: pre,
	})
	if err != nil {
		return "", err
	}
	if !reused {
		want.adoptRecorded(rec)
	}
	if reused {
		t.lp.Infof("Service %s: the revision template is unchanged, so revision %s is kept and only the service settings are applied", want.id, want.revision)
	} else {
		t.lp.Infof("Service %s, new revision %s", want.id, want.revision)
	}

	if alreadyApplied(live, want) {
		t.lp.Infof("The service already runs this template (an earlier run of this stage applied it); not applying it again")
	} else {
		err = p.writeService(ctx, t, name, live, func(live *runpb.Service) error {
			for {
				cur, err := pinned(live)
				if err != nil {
					return err
				}
				next, err := traffic.KeepExisting(withoutTag(cur, oldTag), want.revision, tag)
				if err != nil {
					return fmt.Errorf("cannot compute the traffic for the template update: %w", err)
				}
				svc := cloneService(want.svc)
				svc.Etag = live.GetEtag()
				svc.Traffic = next
				_, err = t.client.ReplaceService(ctx, svc)
				err = p.checkApplied(ctx, t, name, want.revision, err)
				if reused || !errors.Is(err, provider.ErrAlreadyExists) {
					return err
				}
				// A refused name changed nothing, so the same read (and etag) serves the next name.
				if err := p.renameRevision(ctx, t, store, want, err); err != nil {
					return err
				}
			}
		})
		if err != nil {
			return "", fmt.Errorf("failed to apply the new template; the traffic is unchanged: %w", err)
		}
		if !reused {
			t.lp.Infof("Applied the new template with the traffic pinned; revision %s gets no traffic until it is ready", want.revision)
		}
	}

	if err := p.waitReady(ctx, t, provider.RevisionName(name, want.revision), opts.Timeout.Duration()); err != nil {
		return "", err
	}

	var after *runpb.Service
	err = p.writeService(ctx, t, name, nil, func(live *runpb.Service) error {
		after = live
		if opts.SkipTrafficShift && !quick {
			return nil
		}
		cur, err := pinned(live)
		if err != nil {
			return err
		}
		next, err := traffic.RouteAll(withoutTag(cur, oldTag), want.revision, tag)
		if err != nil {
			return err
		}
		if traffic.Equal(cur, next) {
			return nil
		}
		after, err = t.client.UpdateTraffic(ctx, name, live.GetEtag(), next)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("revision %s is ready but routing traffic to it failed: %w", want.revision, err)
	}
	t.lp.Infof("Traffic of service %s:\n%s", want.id, traffic.Render(fromEntries(rec.Traffic), after.GetTraffic()))
	url := previewURL(after, tag)
	if url != "" {
		t.lp.Infof("Preview URL of revision %s: %s", want.revision, url)
	}
	if u := after.GetUri(); u != "" {
		t.lp.Infof("Service URL: %s", u)
	}
	t.lp.Successf("Deployed revision %s of service %s", want.revision, want.id)

	if opts.Prune {
		if err := p.cleanupTarget(ctx, t, store, config.DefaultCleanupStageOptions()); err != nil {
			return url, fmt.Errorf("the deployment succeeded but pruning old revisions failed: %w", err)
		}
	}
	return url, nil
}

// deployFresh deploys to a service that serves nothing: 100% of the traffic to the new revision. live is
// nil when the service does not exist yet (first deployment); otherwise it has never had a ready revision
// (for example after a failed first deployment), so there is no traffic to protect or to restore.
func (p *Plugin) deployFresh(ctx context.Context, t *target, store metadataStore, want *desiredService, tag string, opts config.SyncStageOptions, live *runpb.Service) (string, error) {
	name := want.svc.GetName()
	rec, err := saveSyncRecordOnce(ctx, store, t.name, &syncRecord{Service: name, Revision: want.revision, Created: true, PreviewTag: tag})
	if err != nil {
		return "", err
	}
	want.adoptRecorded(rec)
	svc := freshService(want, tag)
	if live == nil {
		t.lp.Infof("Service %s does not exist yet: creating it with revision %s (first deployment, 100%% of the traffic)", want.id, want.revision)
		_, err := t.client.CreateService(ctx, svc)
		if err = p.checkApplied(ctx, t, name, want.revision, err); err != nil && !errors.Is(err, provider.ErrAlreadyExists) {
			return "", err
		}
	} else {
		t.lp.Infof("Service %s has no ready revision, so it serves nothing: deploying revision %s with 100%% of the traffic", want.id, want.revision)
		err := p.writeService(ctx, t, name, live, func(live *runpb.Service) error {
			for {
				svc := freshService(want, tag)
				svc.Etag = live.GetEtag()
				_, err := t.client.ReplaceService(ctx, svc)
				err = p.checkApplied(ctx, t, name, want.revision, err)
				if !errors.Is(err, provider.ErrAlreadyExists) {
					return err
				}
				if err := p.renameRevision(ctx, t, store, want, err); err != nil {
					return err
				}
			}
		})
		if err != nil {
			return "", err
		}
	}
	if err := p.waitReady(ctx, t, provider.RevisionName(name, want.revision), opts.Timeout.Duration()); err != nil {
		return "", err
	}
	after, err := t.client.GetService(ctx, name)
	if err != nil {
		return "", err
	}
	t.lp.Infof("Traffic of service %s:\n%s", want.id, traffic.Table(after.GetTraffic()))
	url := previewURL(after, tag)
	if url != "" {
		t.lp.Infof("Preview URL of revision %s: %s", want.revision, url)
	}
	if u := after.GetUri(); u != "" {
		t.lp.Infof("Service URL: %s", u)
	}
	t.lp.Successf("Created service %s with revision %s", want.id, want.revision)
	return url, nil
}

// freshService is want with 100% of the traffic on its new revision, and the preview tag when not empty.
func freshService(want *desiredService, tag string) *runpb.Service {
	svc := cloneService(want.svc)
	svc.Traffic = []*runpb.TrafficTarget{traffic.Revision(want.revision, 100, "")}
	if tag != "" {
		svc.Traffic = append(svc.Traffic, traffic.Revision(want.revision, 0, tag))
	}
	return svc
}

// renameRevision gives want the next name of its template (naming.RevisionNameAt) after Cloud Run refused
// want.revision with ALREADY_EXISTS (refused): a revision of that name exists with another template or,
// more likely, existed and was deleted (by CLOUDRUN_CANARY_CLEANUP, say, before a revert to this commit),
// and Cloud Run does not give a deleted revision's name again. The new name is recorded before it is
// used, so that a re-run of the stage applies it too rather than creating another revision.
func (p *Plugin) renameRevision(ctx context.Context, t *target, store metadataStore, want *desiredService, refused error) error {
	gen := naming.Generation(want.revision) + 1
	if gen > naming.MaxRevisionGeneration {
		return fmt.Errorf("all %d names of the new revision were refused, the last being %s, because revisions of those names exist or existed: %w; "+
			"change the revision template (for example a label under spec.template.metadata.labels of the service manifest) so that a new name is computed",
			naming.MaxRevisionGeneration, want.revision, refused)
	}
	next, err := naming.RevisionNameAt(want.id, want.commit, want.svc.GetTemplate(), gen)
	if err != nil {
		return fmt.Errorf("cannot name the new revision: %w", err)
	}
	rec, found, err := loadSyncRecord(ctx, store, t.name)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("the deployment metadata of deploy target %s has no record of this deployment to save the revision name %s in", t.name, next)
	}
	rec.Revision = next
	if err := putSyncRecord(ctx, store, t.name, rec); err != nil {
		return err
	}
	t.lp.Infof("Cloud Run refused the revision name %s: a revision of that name exists with another template, or existed and was deleted (Cloud Run does not reuse a deleted revision's name). Naming the new revision %s instead", want.revision, next)
	want.setRevision(next)
	return nil
}

// withoutTag returns traffic without tag: the plugin's preview tag of the previous deployment is its own and
// would otherwise pile up and keep old revisions from being cleaned up. A 0% entry carrying it goes away, an
// entry with traffic keeps its share. The rollback still restores it, as it restores the whole block.
func withoutTag(current []*runpb.TrafficTarget, tag string) []*runpb.TrafficTarget {
	if tag == "" {
		return current
	}
	out := traffic.Clone(current)
	for _, t := range out {
		if t.GetTag() == tag {
			t.Tag = ""
		}
	}
	return traffic.Merge(out)
}

// checkApplied looks at the error of a template update. The request may have been accepted while its
// operation already failed, usually because the new revision cannot start: then the revision's own
// condition says what to fix, and waitReady reports it. A refused revision name (ALREADY_EXISTS) and any
// other error are returned as they are.
func (p *Plugin) checkApplied(ctx context.Context, t *target, service, revision string, err error) error {
	if !errors.Is(err, provider.ErrOperationFailed) || errors.Is(err, provider.ErrAlreadyExists) {
		return err
	}
	if _, gerr := t.client.GetRevision(ctx, provider.RevisionName(service, revision)); gerr != nil {
		return err // The revision was not even created: the operation's error is all there is.
	}
	return nil
}

// alreadyApplied reports whether live already carries the template and commit of want, as after an
// earlier run of the same stage.
func alreadyApplied(live *runpb.Service, want *desiredService) bool {
	return live.GetTemplate().GetRevision() == want.revision &&
		live.GetLabels()[provider.LabelCommitHash] == want.svc.GetLabels()[provider.LabelCommitHash]
}

// pinned returns the traffic of live with LATEST pinned to the latest ready revision.
func pinned(live *runpb.Service) ([]*runpb.TrafficTarget, error) {
	cur, err := traffic.Pin(live.GetTraffic(), live.GetLatestReadyRevision())
	if err != nil {
		return nil, fmt.Errorf("service %s: %w; fix or delete the service, then deploy again", provider.ShortName(live.GetName()), err)
	}
	return cur, nil
}

// waitReady polls the revision until it is ready, fails, or timeout passes. Traffic is never changed here.
func (p *Plugin) waitReady(ctx context.Context, t *target, revision string, timeout time.Duration) error {
	short := provider.ShortName(revision)
	t.lp.Infof("Waiting up to %s for revision %s to become ready", timeout, short)
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, errReadinessTimeout)
	defer cancel()
	last := ""
	for {
		rev, err := t.client.GetRevision(wctx, revision)
		switch {
		case err == nil:
			state, msg := provider.RevisionReadiness(rev)
			switch state {
			case provider.ReadinessReady:
				t.lp.Successf("Revision %s is ready", short)
				return nil
			case provider.ReadinessFailed:
				return fmt.Errorf("revision %s failed to become ready: %s. The traffic was not changed. Fix the service manifest (image, port, command, environment, resources) and deploy again%s", short, msg, logsHint(rev))
			}
			if msg != last && msg != "" {
				t.lp.Infof("Revision %s: %s", short, msg)
				last = msg
			}
		case errors.Is(err, provider.ErrNotFound):
			// Cloud Run has not created the revision yet.
		case errors.Is(context.Cause(wctx), errReadinessTimeout):
		default:
			return err
		}
		if err := sleepCtx(wctx, p.pollInterval); err != nil {
			if errors.Is(err, errReadinessTimeout) {
				return fmt.Errorf("revision %s did not become ready within %s (last status: %s). The traffic was not changed. Check the revision's logs, or raise the stage option \"timeout\"", short, timeout, orUnknown(last))
			}
			return fmt.Errorf("stopped waiting for revision %s: %w", short, err)
		}
	}
}

var errReadinessTimeout = errors.New("readiness timeout")

func logsHint(rev *runpb.Revision) string {
	if u := rev.GetLogUri(); u != "" {
		return " (logs: " + u + ")"
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "pending"
	}
	return s
}

// sleepCtx waits for d or until ctx ends, returning the cause.
func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func short(commit string) string {
	return commit[:min(len(commit), 7)]
}
