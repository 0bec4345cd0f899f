package deployment

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

// rollbackJob puts the job back as CLOUDRUN_JOB_SYNC recorded it before the deployment: its template,
// labels, annotations and other settings, in one etag-guarded update. Jobs have no revisions, so the
// recorded job is the rollback target. Executions are not touched.
//
//   - On a first deployment (JOB_SYNC created the job) there is nothing to restore: the job is left as it
//     is and never deleted; the log says how to delete it.
//   - When the live job no longer carries this deployment's commit label (someone deployed meanwhile), it
//     is left as it is.
func (p *Plugin) rollbackJob(ctx context.Context, t *target.Target, rec *jobRecord, opts config.RollbackStageOptions) error {
	id := naming.ShortName(rec.Job)
	if opts.Revision != "" {
		return fmt.Errorf("the stage option \"revision\" (%s) routes the traffic of a service, but this deployment deployed job %s, which has no revisions; remove the option", opts.Revision, id)
	}
	if rec.Created {
		t.Log.Successf("Job %s was created by this deployment (first deployment), so there is no earlier template to restore. "+
			"It is left as it is; delete it yourself if it must go (gcloud run jobs delete %s --region %s)", id, id, t.Config.Region)
		return nil
	}
	pre, err := rec.before()
	if err != nil {
		return err
	}
	var got *runpb.Job
	done := false
	err = writeResource(ctx, p, t, "job", rec.Job, nil, t.Client.GetJob, func(live *runpb.Job) error {
		commit := live.GetLabels()[provider.LabelCommitHash]
		switch {
		case commit == pre.GetLabels()[provider.LabelCommitHash] && proto.Equal(live.GetTemplate(), pre.GetTemplate()):
			t.Log.Infof("Job %s already runs the template recorded before the deployment", id)
			done = true
			return nil
		case commit != rec.CommitLabel:
			t.Log.Infof("Job %s no longer carries the commit this deployment applied (commit label %q, not %q): someone deployed meanwhile, so it is left as it is",
				id, commit, rec.CommitLabel)
			done = true
			return nil
		}
		job := proto.Clone(pre).(*runpb.Job)
		job.Name, job.Etag = rec.Job, live.GetEtag()
		got, err = t.Client.ReplaceJob(ctx, job)
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to restore job %s: %w", id, err)
	}
	if done {
		t.Log.Successf("Rolled back job %s: nothing to change", id)
		return nil
	}
	if _, err := p.waitJobSettled(ctx, t, got, config.DefaultSyncTimeout); err != nil {
		return err
	}
	t.Log.Successf("Rolled back job %s to the template recorded before the deployment: image %s", id, strings.Join(manifest.JobImages(pre), ", "))
	return nil
}
