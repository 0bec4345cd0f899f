package framework

import (
	"context"
	"regexp"
	"slices"

	"cloud.google.com/go/run/apiv2/runpb"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// DeployInput is one deployment of an example application.
type DeployInput struct {
	// App is the example application: the directory examples/<App>. Required.
	App string
	// AppID identifies the application (its running source is its last successful deployment).
	// Default: App.
	AppID string
	// Commit is the commit deployed. Default: a random one (see Commit).
	Commit string
	// Files override files of the application (path → content), e.g. WithImage.
	Files map[string]string
	// DeployTargets names the plugin's deploy targets to use. Default: the first one.
	DeployTargets []string
	// SyncStrategy forces a strategy, as the web console's sync button does. Default: the planner decides.
	SyncStrategy model.SyncStrategy
	// Hooks observe and steer the run (see Recorder.Hooks).
	Hooks piped.Hooks
}

// Deployment is the stand-in's deployment of in.
func (in DeployInput) Deployment() piped.Deployment {
	GinkgoHelper()
	Expect(in.App).NotTo(BeEmpty(), "DeployInput.App is required")
	return piped.Deployment{
		AppDir: AppDir(in.App), AppID: in.AppID, Commit: in.Commit, Files: in.Files,
		DeployTargets: in.DeployTargets, SyncStrategy: in.SyncStrategy, Hooks: in.Hooks,
	}
}

// Source is the application of in at its commit, for live state and plan preview.
func (in DeployInput) Source() piped.Source {
	GinkgoHelper()
	d := in.Deployment()
	return piped.Source{AppDir: d.AppDir, AppID: d.AppID, Commit: d.Commit, Files: d.Files, DeployTargets: d.DeployTargets}
}

// Deploy runs a deployment to its end and keeps its result for the failure dumps. It fails the spec when the
// deployment cannot be planned; the result's status is the spec's to check (ExpectSuccess).
func (e *Environment) Deploy(ctx context.Context, in DeployInput) *piped.Result {
	GinkgoHelper()
	res, err := e.Piped.Deploy(ctx, in.Deployment())
	Expect(err).NotTo(HaveOccurred())
	e.Keep(res)
	return res
}

// Start plans a deployment and runs it in the background (Wait ends it).
func (e *Environment) Start(ctx context.Context, in DeployInput) *piped.Run {
	GinkgoHelper()
	r, err := e.Piped.Start(ctx, in.Deployment())
	Expect(err).NotTo(HaveOccurred())
	return r
}

// Wait waits for a started deployment's end (or termination) and keeps its result for the failure dumps.
func (e *Environment) Wait(r *piped.Run) *piped.Result {
	GinkgoHelper()
	res, err := r.Wait()
	Expect(err).NotTo(HaveOccurred())
	e.Keep(res)
	return res
}

// Keep adds a result to the failure dumps.
func (e *Environment) Keep(res *piped.Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.results = append(e.results, res)
}

// ExpectSuccess fails the spec with the stage logs when the deployment did not succeed.
func ExpectSuccess(res *piped.Result) {
	GinkgoHelper()
	Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_SUCCESS), "%s", res.Report())
}

// FirstErrorLine is the first line a stage logged as an error: what the user reads first ("" when none).
func FirstErrorLine(st piped.StageRecord) string {
	for _, l := range st.Logs {
		if l.Severity == model.LogSeverity_ERROR {
			return l.Text
		}
	}
	return ""
}

// StageNames lists the names of stages, in order.
func StageNames(stages []piped.StageRecord) []string {
	out := make([]string, 0, len(stages))
	for _, s := range stages {
		out = append(out, s.Name)
	}
	return out
}

// DeployCanaryV1 quick-syncs examples/canary at ImageV1 and returns the revision that serves it.
func (e *Environment) DeployCanaryV1(ctx context.Context) string {
	GinkgoHelper()
	res := e.Deploy(ctx, DeployInput{App: "canary", Commit: Commit(), Files: WithImage("canary", ImageV1)})
	ExpectSuccess(res)
	Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
	svc := e.Service(ctx, "canary")
	v1 := ShortName(svc.GetLatestReadyRevision())
	Expect(Traffic(svc.GetTraffic())).To(Equal(Routes(Route(v1, 100, ""))))
	return v1
}

// deployedRevision matches the lines in which the stage that deploys (CLOUDRUN_SYNC, or CLOUDRUN_PROMOTE in a
// PipeCD v0 pipeline) names the revision it creates.
var deployedRevision = regexp.MustCompile(`^(?:Deployed revision (\S+) of service |Service \S+, new revision (\S+)$)`)

// DeployedRevision returns the revision that a stage of res reports it deployed, as a user reads it in the
// stage log; the spec fails when there is none.
func DeployedRevision(res *piped.Result) string {
	GinkgoHelper()
	for _, s := range res.Executed() {
		for _, l := range s.Logs {
			if m := deployedRevision.FindStringSubmatch(l.Text); m != nil {
				return m[1] + m[2]
			}
		}
	}
	Fail("no stage reports a deployed revision\n" + res.Report())
	return ""
}

// Revision returns the revision named name of the service id.
func (e *Environment) Revision(ctx context.Context, id, name string) *runpb.Revision {
	GinkgoHelper()
	revs := e.Revisions(ctx, id)
	i := slices.IndexFunc(revs, func(r *runpb.Revision) bool { return ShortName(r.GetName()) == name })
	Expect(i).NotTo(BeNumerically("<", 0), "service %s has no revision %s: %v", id, name, RevisionNames(revs))
	return revs[i]
}
