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

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/stagetime"
	"github.com/pipecd-cloudrun/cloudrun/plugin/syncplan"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
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
	src, err := app.Load(input.Request.TargetDeploymentSource)
	if err != nil {
		lp.Errorf("Invalid application configuration: %v", err)
		return sdk.StageStatusFailure
	}
	if src.Job != nil {
		return p.quickSyncJob(ctx, lp, input, dts, src)
	}
	opts, quick, err := syncOptions(ctx, store, input, src.Spec)
	if err != nil {
		logInvalidOptions(lp, input, err)
		return sdk.StageStatusFailure
	}
	if src.Pool != nil {
		return p.syncPools(ctx, lp, input, dts, src, opts, quick)
	}
	lp.Infof("Deploying commit %s, image %s", naming.ShortCommit(src.Commit), strings.Join(src.Manifest.Images(), ", "))
	var running *app.Source
	if input.Request.RunningDeploymentSource.ApplicationConfig != nil {
		// Only read to notice a renamed service: a mistake in the running commit is not this deployment's.
		running, _ = app.Load(input.Request.RunningDeploymentSource)
	}

	var mu sync.Mutex
	var urls []string
	status := target.ForEach(ctx, p.registry, lp, dts, func(ctx context.Context, t *target.Target) error {
		if notice := src.Renamed(running, t.Config.Region); notice != "" {
			t.Log.Info(notice)
		}
		url, err := p.syncTarget(ctx, t, store, syncJob{src: src, d: input.Request.Deployment, runningCommit: input.Request.RunningDeploymentSource.CommitHash, opts: opts, quick: quick})
		if url != "" {
			mu.Lock()
			urls = append(urls, url)
			mu.Unlock()
			if err := store.PutStageMetadata(ctx, previewURLMetadataKey+t.Name, url); err != nil {
				t.Log.Errorf("Failed to save the preview URL in the stage metadata: %v", err)
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

// syncJob is what CLOUDRUN_SYNC deploys, the same on every deploy target.
type syncJob struct {
	src *app.Source
	d   sdk.Deployment
	// runningCommit is the commit of the previous successful deployment, whose preview tag the new
	// traffic no longer carries.
	runningCommit string
	opts          config.SyncStageOptions
	quick         bool
}

// syncTarget runs CLOUDRUN_SYNC on one deploy target and returns the preview URL, if any: it decides the
// plan (syncplan.Decide) from the live service and carries it out.
func (p *Plugin) syncTarget(ctx context.Context, t *target.Target, store metadataStore, job syncJob) (string, error) {
	want, err := job.src.Desired(t.Config, job.d)
	if err != nil {
		return "", err
	}
	in := syncplan.Input{Want: want}
	if job.opts.Tag {
		if in.Tag, err = naming.PreviewTag(want.ID, want.Commit); err != nil {
			return "", err
		}
	}
	if job.runningCommit != "" && job.runningCommit != want.Commit {
		in.DropTag, _ = naming.PreviewTag(want.ID, job.runningCommit) // no tag can be built: nothing to drop
	}
	live, err := t.Client.GetService(ctx, want.Service.GetName())
	switch {
	case errors.Is(err, provider.ErrNotFound):
	case err != nil:
		return "", err
	default:
		in.Live = live
	}
	plan, err := syncplan.Decide(in)
	if err != nil {
		return "", err
	}
	if plan.Mode != syncplan.Update {
		return p.deployFresh(ctx, t, store, job, plan)
	}
	return p.deployUpdate(ctx, t, store, job, plan)
}

// deployUpdate deploys to a serving service: it records the service before the deployment (once), applies
// the new template with the traffic pinned, waits until the new revision is ready and then, unless
// skipTrafficShift, routes the traffic to it (plan.Route).
func (p *Plugin) deployUpdate(ctx context.Context, t *target.Target, store metadataStore, job syncJob, plan *syncplan.Plan) (string, error) {
	want, live := plan.Want, plan.Live
	name := want.Service.GetName()
	before, err := traffic.Live(live)
	if err != nil {
		return "", err
	}
	pre, err := encodeService(live)
	if err != nil {
		return "", err
	}
	var public map[string]bool // nil: access.public is not set, the IAM policy is left alone
	if job.src.Spec.Access.Public != nil {
		if public, err = accessBefore(ctx, t, regionalNames(t, want.Service), true); err != nil {
			return "", err
		}
	}
	rec, err := saveSyncRecordOnce(ctx, store, t.Name, &syncRecord{
		Service: name, Revision: plan.Revision(), Traffic: toEntries(before), PreviewTag: plan.Tag,
		CommitLabel: want.Service.GetLabels()[provider.LabelCommitHash], Before: pre, Public: public,
	})
	if err != nil {
		return "", err
	}
	if plan.Reused {
		t.Log.Infof("Service %s: the revision template is unchanged, so revision %s is kept and only the service settings are applied", want.ID, plan.Revision())
	} else {
		plan.Adopt(rec.Revision)
		t.Log.Infof("Service %s, new revision %s", want.ID, plan.Revision())
	}

	revision := plan.Revision()
	if alreadyApplied(live, want.Service, revision) {
		t.Log.Infof("The service already runs this template (an earlier run of this stage applied it); not applying it again")
	} else {
		err = p.writeService(ctx, t, name, live, func(live *runpb.Service) error {
			revision, err = p.applyPlan(ctx, t, store, plan, live, revision)
			return err
		})
		if err != nil {
			return "", fmt.Errorf("failed to apply the new template; the traffic is unchanged: %w", err)
		}
		if !plan.Reused {
			t.Log.Infof("Applied the new template with the traffic pinned; revision %s gets no traffic until it is ready", revision)
		}
	}

	if err := p.waitReady(ctx, t, naming.FullRevisionName(name, revision), job.opts.Timeout.Duration()); err != nil {
		return "", err
	}
	if public := job.src.Spec.Access.Public; public != nil {
		names := regionalNames(t, want.Service)
		if err := p.setPublicIn(ctx, t, names, everywhere(names, *public)); err != nil {
			return "", fmt.Errorf("revision %s is ready but %w; the traffic is unchanged", revision, err)
		}
	}

	var after *runpb.Service
	err = p.writeService(ctx, t, name, nil, func(live *runpb.Service) error {
		after = live
		if job.opts.SkipTrafficShift && !job.quick {
			return nil
		}
		cur, err := traffic.Live(live)
		if err != nil {
			return err
		}
		next, err := plan.Route(cur, revision)
		if err != nil {
			return err
		}
		if traffic.Equal(cur, next) {
			return nil
		}
		after, err = t.Client.UpdateTraffic(ctx, name, live.GetEtag(), next)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("revision %s is ready but routing traffic to it failed: %w", revision, err)
	}
	url := reportDeployed(t, after, want.ID, revision, plan.Tag, traffic.Render(fromEntries(rec.Traffic), after.GetTraffic()))
	reportRegions(ctx, t, after)
	t.Log.Successf("Deployed revision %s of service %s", revision, want.ID)

	if job.opts.Prune {
		if err := p.cleanupTarget(ctx, t, store, config.DefaultCleanupStageOptions()); err != nil {
			return url, fmt.Errorf("the deployment succeeded but pruning old revisions failed: %w", err)
		}
	}
	return url, nil
}

// deployFresh deploys to a service that serves nothing: 100% of the traffic to the new revision. plan.Live is
// nil when the service does not exist yet (first deployment); otherwise it has never had a ready revision
// (for example after a failed first deployment), so there is no traffic to protect or to restore.
func (p *Plugin) deployFresh(ctx context.Context, t *target.Target, store metadataStore, job syncJob, plan *syncplan.Plan) (string, error) {
	want, opts := plan.Want, job.opts
	name := want.Service.GetName()
	if job.src.Spec.Access.Public != nil {
		if _, err := accessBefore(ctx, t, regionalNames(t, want.Service), false); err != nil {
			return "", err
		}
	}
	rec, err := saveSyncRecordOnce(ctx, store, t.Name, &syncRecord{Service: name, Revision: plan.Revision(), Created: true, PreviewTag: plan.Tag})
	if err != nil {
		return "", err
	}
	plan.Adopt(rec.Revision)
	revision := plan.Revision()
	if plan.Mode == syncplan.Create {
		t.Log.Infof("Service %s does not exist yet: creating it with revision %s (first deployment, 100%% of the traffic)", want.ID, revision)
		svc, err := plan.Request(nil, revision)
		if err != nil {
			return "", err
		}
		_, err = t.Client.CreateService(ctx, svc)
		if err = p.checkApplied(ctx, t, name, revision, err); err != nil && !errors.Is(err, provider.ErrAlreadyExists) {
			return "", err
		}
	} else {
		t.Log.Infof("Service %s has no ready revision, so it serves nothing: deploying revision %s with 100%% of the traffic", want.ID, revision)
		err := p.writeService(ctx, t, name, plan.Live, func(live *runpb.Service) error {
			revision, err = p.applyPlan(ctx, t, store, plan, live, revision)
			return err
		})
		if err != nil {
			return "", err
		}
	}
	if err := p.waitReady(ctx, t, naming.FullRevisionName(name, revision), opts.Timeout.Duration()); err != nil {
		return "", err
	}
	if public := job.src.Spec.Access.Public; public != nil {
		names := regionalNames(t, want.Service)
		if err := p.setPublicIn(ctx, t, names, everywhere(names, *public)); err != nil {
			return "", fmt.Errorf("revision %s is ready but %w", revision, err)
		}
	}
	after, err := t.Client.GetService(ctx, name)
	if err != nil {
		return "", err
	}
	url := reportDeployed(t, after, want.ID, revision, plan.Tag, traffic.Table(after.GetTraffic()))
	reportRegions(ctx, t, after)
	t.Log.Successf("Created service %s with revision %s", want.ID, revision)
	return url, nil
}

// applyPlan sends the plan's request for revision over live, and the next candidate name each time Cloud
// Run refuses one with ALREADY_EXISTS (a refused name changed nothing, so the same read and etag serve the
// next name). It returns the name Cloud Run accepted.
func (p *Plugin) applyPlan(ctx context.Context, t *target.Target, store metadataStore, plan *syncplan.Plan, live *runpb.Service, revision string) (string, error) {
	name := live.GetName()
	for {
		svc, err := plan.Request(live, revision)
		if err != nil {
			return revision, err
		}
		_, err = t.Client.ReplaceService(ctx, svc)
		err = p.checkApplied(ctx, t, name, revision, err)
		if plan.Reused || !errors.Is(err, provider.ErrAlreadyExists) {
			return revision, err
		}
		if revision, err = p.renameRevision(ctx, t, store, plan, revision, err); err != nil {
			return revision, err
		}
	}
}

// reportDeployed logs the traffic (as rendered in table), the preview URL of tag and the service URL, and
// returns the preview URL ("" when none).
func reportDeployed(t *target.Target, after *runpb.Service, id, revision, tag, table string) string {
	t.Log.Infof("Traffic of service %s:\n%s", id, table)
	url := previewURL(after, tag)
	if url != "" {
		t.Log.Infof("Preview URL of revision %s: %s", revision, url)
	}
	if u := after.GetUri(); u != "" {
		t.Log.Infof("Service URL: %s", u)
	}
	return url
}

// renameRevision moves to the plan's next name after Cloud Run refused revision with ALREADY_EXISTS
// (refused): a revision of that name exists with another template or, more likely, existed and was deleted
// (by CLOUDRUN_CANARY_CLEANUP, say, before a revert to this commit), and Cloud Run does not give a deleted
// revision's name again. The new name is recorded before it is used, so that a re-run of the stage
// applies it too rather than creating another revision.
func (p *Plugin) renameRevision(ctx context.Context, t *target.Target, store metadataStore, plan *syncplan.Plan, revision string, refused error) (string, error) {
	next := plan.Next(revision)
	if next == "" {
		return revision, fmt.Errorf("all %d names of the new revision were refused, the last being %s, because revisions of those names exist or existed: %w; "+
			"change the revision template (for example a label under spec.template.metadata.labels of the service manifest) so that a new name is computed",
			naming.MaxRevisionGeneration, revision, refused)
	}
	rec, found, err := loadSyncRecord(ctx, store, t.Name)
	if err != nil {
		return revision, err
	}
	if !found {
		return revision, fmt.Errorf("the deployment metadata of deploy target %s has no record of this deployment to save the revision name %s in", t.Name, next)
	}
	rec.Revision = next
	if err := putSyncRecord(ctx, store, t.Name, rec); err != nil {
		return revision, err
	}
	t.Log.Infof("Cloud Run refused the revision name %s: a revision of that name exists with another template, or existed and was deleted (Cloud Run does not reuse a deleted revision's name). Naming the new revision %s instead", revision, next)
	return next, nil
}

// checkApplied looks at the error of a template update. The request may have been accepted while its
// operation already failed, usually because the new revision cannot start: then the revision's own
// condition says what to fix, and waitReady reports it. A refused revision name (ALREADY_EXISTS) and any
// other error are returned as they are.
func (p *Plugin) checkApplied(ctx context.Context, t *target.Target, service, revision string, err error) error {
	if !errors.Is(err, provider.ErrOperationFailed) || errors.Is(err, provider.ErrAlreadyExists) {
		return err
	}
	if _, gerr := t.Client.GetRevision(ctx, naming.FullRevisionName(service, revision)); gerr != nil {
		return err // The revision was not even created: the operation's error is all there is.
	}
	return nil
}

// alreadyApplied reports whether live already carries the template revision and the commit label of want,
// as after an earlier run of the same stage.
func alreadyApplied(live, want *runpb.Service, revision string) bool {
	return live.GetTemplate().GetRevision() == revision &&
		live.GetLabels()[provider.LabelCommitHash] == want.GetLabels()[provider.LabelCommitHash]
}

// waitReady polls the revision until it is ready, fails, or timeout passes. Traffic is never changed here.
func (p *Plugin) waitReady(ctx context.Context, t *target.Target, revision string, timeout time.Duration) error {
	short := naming.ShortName(revision)
	t.Log.Infof("Waiting up to %s for revision %s to become ready", timeout, short)
	wctx, cancel := context.WithTimeoutCause(ctx, timeout, errReadinessTimeout)
	defer cancel()
	last := ""
	for {
		rev, err := t.Client.GetRevision(wctx, revision)
		switch {
		case err == nil:
			state, msg := provider.RevisionReadiness(rev)
			switch state {
			case provider.ReadinessReady:
				t.Log.Successf("Revision %s is ready", short)
				return nil
			case provider.ReadinessFailed:
				if ownerKind(revision) == "worker pool" {
					return fmt.Errorf("revision %s failed to become ready: %s. The instance split was not changed. Fix the worker pool manifest (image, command, environment, resources) and deploy again%s", short, msg, logsHint(rev))
				}
				return fmt.Errorf("revision %s failed to become ready: %s. The traffic was not changed. Fix the service manifest (image, port, command, environment, resources) and deploy again%s", short, msg, logsHint(rev))
			}
			if msg != last && msg != "" {
				t.Log.Infof("Revision %s: %s", short, msg)
				last = msg
			}
		case errors.Is(err, provider.ErrNotFound):
			if err := vanished(wctx, t, revision); err != nil {
				return err
			}
		case errors.Is(context.Cause(wctx), errReadinessTimeout):
		default:
			return err
		}
		if err := stagetime.Sleep(wctx, p.pollInterval); err != nil {
			if errors.Is(err, errReadinessTimeout) {
				return fmt.Errorf("revision %s did not become ready within %s (last status: %s). The %s was not changed. Check the revision's logs, or raise the stage option \"timeout\"", short, timeout, orUnknown(last), moved(revision))
			}
			return fmt.Errorf("stopped waiting for revision %s: %w", short, err)
		}
	}
}

var errReadinessTimeout = errors.New("readiness timeout")

// vanished tells a revision that Cloud Run has not created yet from one that is gone, once the revision was
// requested: the service no longer exists (deleted out of band, or the endpoint lost its state), or it has
// finished reconciling a template that names another revision or without the revision. nil means keep
// waiting.
func vanished(ctx context.Context, t *target.Target, revision string) error {
	service, short := revision[:strings.LastIndex(revision, "/revisions/")], naming.ShortName(revision)
	if ownerKind(service) == "worker pool" {
		return poolVanished(ctx, t, service, short)
	}
	svc, err := t.Client.GetService(ctx, service)
	switch {
	case errors.Is(err, provider.ErrNotFound):
		return fmt.Errorf("service %s disappeared while waiting for revision %s to become ready (deleted outside PipeCD, or the Cloud Run endpoint lost its state): %w. Deploy again to create it", naming.ShortName(service), short, err)
	case err != nil:
		return nil // the next read of the revision decides, within the readiness timeout
	case svc.GetTemplate().GetRevision() != short:
		return fmt.Errorf("revision %s disappeared while waiting for it to become ready: service %s now asks for revision %q, someone changed it outside PipeCD. Deploy again", short, naming.ShortName(service), svc.GetTemplate().GetRevision())
	case !svc.GetReconciling():
		return fmt.Errorf("revision %s disappeared while waiting for it to become ready: service %s asks for it but it does not exist (deleted outside PipeCD). Deploy again", short, naming.ShortName(service))
	}
	return nil
}

// poolVanished is vanished for a worker pool's revision.
func poolVanished(ctx context.Context, t *target.Target, name, short string) error {
	pool, err := t.Client.GetWorkerPool(ctx, name)
	switch {
	case errors.Is(err, provider.ErrNotFound):
		return fmt.Errorf("worker pool %s disappeared while waiting for revision %s to become ready (deleted outside PipeCD, or the Cloud Run endpoint lost its state): %w. Deploy again to create it", naming.ShortName(name), short, err)
	case err != nil:
		return nil
	case pool.GetTemplate().GetRevision() != short:
		return fmt.Errorf("revision %s disappeared while waiting for it to become ready: worker pool %s now asks for revision %q, someone changed it outside PipeCD. Deploy again", short, naming.ShortName(name), pool.GetTemplate().GetRevision())
	case !pool.GetReconciling():
		return fmt.Errorf("revision %s disappeared while waiting for it to become ready: worker pool %s asks for it but it does not exist (deleted outside PipeCD). Deploy again", short, naming.ShortName(name))
	}
	return nil
}

// moved names what a deployment moves between revisions of the owner of revision: traffic, or instances.
func moved(revision string) string {
	if ownerKind(revision) == "worker pool" {
		return "instance split"
	}
	return "traffic"
}

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
