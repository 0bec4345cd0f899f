package app

import (
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// DesiredPool is the worker pool a deployment applies to one deploy target.
type DesiredPool struct {
	// Pool is the worker pool to send: full name, ownership labels, template.revision set to Revision.
	Pool *runpb.WorkerPool
	// ID is the short worker pool id.
	ID string
	// Revision is the short name of the revision the template creates.
	Revision string
	// Commit is the commit hash the revision is named after.
	Commit string
}

// DesiredPool builds the worker pool of src, which must be a worker pool application, for the deploy
// target cfg, labelled for deployment d as a service is, with the revision named after the commit and the
// template (naming.RevisionName).
func (src *Source) DesiredPool(cfg config.DeployTargetConfig, d sdk.Deployment) (*DesiredPool, error) {
	pool, err := src.Pool.WorkerPool(cfg.Project, cfg.Region)
	if err != nil {
		return nil, err
	}
	id := naming.ShortName(pool.GetName())
	labelPool(pool, d, src.Commit)
	rev, err := naming.RevisionName(id, src.Commit, pool.GetTemplate())
	if err != nil {
		return nil, fmt.Errorf("cannot name the new revision: %w", err)
	}
	pool.Template.Revision = rev
	return &DesiredPool{Pool: pool, ID: id, Revision: rev, Commit: src.Commit}, nil
}

// PoolTemplate is the revision template src deploys, labelled as CLOUDRUN_SYNC sends it. It does not
// depend on the deploy target.
func (src *Source) PoolTemplate(d sdk.Deployment) *runpb.WorkerPoolRevisionTemplate {
	pool := src.Pool.Proto()
	labelPool(pool, d, src.Commit)
	return pool.GetTemplate()
}

// labelPool adds the ownership labels, as labelService does.
func labelPool(pool *runpb.WorkerPool, d sdk.Deployment, commit string) {
	pool.Labels = merged(pool.Labels, ownerLabels(d, commit))
	if pool.Template == nil {
		pool.Template = &runpb.WorkerPoolRevisionTemplate{}
	}
	pool.Template.Labels = merged(pool.Template.Labels, templateLabels(d))
}

// renamedPool is Renamed when either commit deploys a worker pool.
func (src *Source) renamedPool(running *Source, region string) string {
	if src.Pool == nil || running.Pool == nil {
		return "" // a change of kind is DetermineStrategy's to report
	}
	was, is := naming.ShortName(running.Pool.Proto().GetName()), naming.ShortName(src.Pool.Proto().GetName())
	if was == is {
		return ""
	}
	return fmt.Sprintf("The worker pool is renamed: the running commit %s deploys worker pool %s, this commit deploys worker pool %s. "+
		"This deployment creates or updates %s and leaves %s as it is, still running its instances; PipeCD no longer manages %s. "+
		"Delete it when nothing uses it any more: gcloud beta run worker-pools delete %s --region %s",
		naming.ShortCommit(running.Commit), was, is, is, was, was, was, region)
}
