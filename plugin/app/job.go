package app

import (
	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
)

// DesiredJob builds the job of src, which must be a job application, for the deploy target cfg: its full
// name and the ownership labels of deployment d (the commit label on the job only, so that the execution
// template changes only when the manifest does).
func (src *Source) DesiredJob(cfg config.DeployTargetConfig, d sdk.Deployment) (*runpb.Job, error) {
	job, err := src.Job.Job(cfg.Project, cfg.Region)
	if err != nil {
		return nil, err
	}
	labelJob(job, d, src.Commit)
	return job, nil
}

// ExecutionTemplate is the execution template src deploys, labelled as CLOUDRUN_JOB_SYNC sends it. It
// does not depend on the deploy target.
func (src *Source) ExecutionTemplate(d sdk.Deployment) *runpb.ExecutionTemplate {
	job := src.Job.Proto()
	labelJob(job, d, src.Commit)
	return job.GetTemplate()
}

func labelJob(job *runpb.Job, d sdk.Deployment, commit string) {
	job.Labels = merged(job.Labels, ownerLabels(d, commit))
	if job.Template == nil {
		job.Template = &runpb.ExecutionTemplate{}
	}
	job.Template.Labels = merged(job.Template.Labels, templateLabels(d))
}

// HookJob loads file, a job manifest of the application directory dir at commit, for CLOUDRUN_JOB_HOOK:
// the job for the deploy target cfg, labelled as owned by deployment d.
func HookJob(dir, file, commit string, cfg config.DeployTargetConfig, d sdk.Deployment) (*runpb.Job, error) {
	m, err := manifest.LoadJob(dir, file)
	if err != nil {
		return nil, err
	}
	job, err := m.Job(cfg.Project, cfg.Region)
	if err != nil {
		return nil, err
	}
	labelJob(job, d, commit)
	return job, nil
}
