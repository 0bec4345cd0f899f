package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/protobuf/proto"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// Images of the job example: Google's sample job, and two that fakerun's tasks run differently.
const (
	jobImageV1      = "us-docker.pkg.dev/cloudrun/container/job:v1"
	jobImageV2      = "us-docker.pkg.dev/cloudrun/container/job:v2"
	jobImageFailing = "us-docker.pkg.dev/cloudrun/container/job:broken"
	jobImageSlow    = "us-docker.pkg.dev/cloudrun/container/job:slow"
)

// jobBehaviors makes the tasks of jobImageFailing exit with code 3 on task 0, and those of jobImageSlow run for a minute.
var jobBehaviors = fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
	jobImageFailing: {Task: fakerun.TaskBehavior{ExitCode: 3, FailTasks: []int{0}}},
	jobImageSlow:    {Task: fakerun.TaskBehavior{Duration: time.Minute}},
}})

// jobFiles returns examples/job's job.yaml with its image replaced.
func jobFiles(image string) map[string]string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(AppDir("job"), "job.yaml"))
	Expect(err).NotTo(HaveOccurred())
	Expect(string(raw)).To(ContainSubstring(jobImageV1))
	return map[string]string{"job.yaml": strings.Replace(string(raw), jobImageV1, image, 1)}
}

// jobs reads jobs and executions of an environment's target through the real Cloud Run client.
type jobs struct {
	e          *Environment
	jobs       *run.JobsClient
	executions *run.ExecutionsClient
}

func newJobs(ctx context.Context, e *Environment) *jobs {
	GinkgoHelper()
	j, err := run.NewJobsClient(ctx, e.Target.ClientOptions()...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(j.Close)
	x, err := run.NewExecutionsClient(ctx, e.Target.ClientOptions()...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(x.Close)
	return &jobs{e: e, jobs: j, executions: x}
}

func (j *jobs) get(ctx context.Context, project, id string) *runpb.Job {
	GinkgoHelper()
	job, err := j.jobs.GetJob(ctx, &runpb.GetJobRequest{Name: "projects/" + project + "/locations/" + region + "/jobs/" + id})
	Expect(err).NotTo(HaveOccurred())
	return job
}

// latest returns the job's latest execution.
func (j *jobs) latest(ctx context.Context, job *runpb.Job) *runpb.Execution {
	GinkgoHelper()
	Expect(job.GetLatestCreatedExecution()).NotTo(BeNil(), "job %s has run", job.GetName())
	x, err := j.executions.GetExecution(ctx, &runpb.GetExecutionRequest{Name: job.GetName() + "/executions/" + job.GetLatestCreatedExecution().GetName()})
	Expect(err).NotTo(HaveOccurred())
	return x
}

func image(job *runpb.Job) string {
	return job.GetTemplate().GetTemplate().GetContainers()[0].GetImage()
}

func completedReason(x *runpb.Execution) runpb.Condition_ExecutionReason {
	for _, c := range x.GetConditions() {
		if c.GetType() == "Completed" {
			return c.GetExecutionReason()
		}
	}
	return runpb.Condition_EXECUTION_REASON_UNDEFINED
}

var _ = Describe("Cloud Run jobs [jobs]", Label("jobs", "fakerun-only"), func() {
	It("creates the job on the first deployment, then updates it and runs a smoke execution", func(ctx SpecContext) {
		e := newEnv(jobBehaviors)
		j := newJobs(ctx, e)
		project := e.Target.Project()

		By("deploying examples/job for the first time: quick sync creates the job without running it")
		res := e.Deploy(ctx, DeployInput{App: "job", Files: jobFiles(jobImageV1)})
		ExpectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
		v1 := j.get(ctx, project, "job")
		Expect(image(v1)).To(Equal(jobImageV1))
		Expect(v1.GetTemplate().GetTaskCount()).To(Equal(int32(3)))
		Expect(v1.GetLatestCreatedExecution()).To(BeNil(), "a sync does not run the job")

		By("deploying v2: CLOUDRUN_JOB_SYNC updates the template, CLOUDRUN_JOB_RUN runs the smoke execution")
		res = e.Deploy(ctx, DeployInput{App: "job", Commit: Commit(), Files: jobFiles(jobImageV2)})
		ExpectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_PIPELINE))
		Expect(StageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_JOB_SYNC", "CLOUDRUN_JOB_RUN"}))
		v2 := j.get(ctx, project, "job")
		Expect(image(v2)).To(Equal(jobImageV2))
		x := j.latest(ctx, v2)
		Expect(x.GetTaskCount()).To(Equal(int32(1)), "the smoke run's taskCount override")
		Expect(x.GetSucceededCount()).To(Equal(int32(1)))
		Expect(x.GetTemplate().GetContainers()[0].GetArgs()).To(Equal([]string{"--dry-run"}))
		Expect(v2.GetTemplate().GetTemplate().GetContainers()[0].GetArgs()).To(Equal([]string{"--all"}), "the job keeps its own args")
		runLog := res.Executed()[1].LogText()
		Expect(runLog).To(ContainSubstring("0 running, 1 succeeded, 0 failed (of 1)"))
		Expect(runLog).To(ContainSubstring("succeeded: 1 of 1 task(s) succeeded"))
	})

	It("fails the run when tasks fail and rolls the job back to its previous template exactly", func(ctx SpecContext) {
		e := newEnv(jobBehaviors)
		j := newJobs(ctx, e)
		project := e.Target.Project()
		ExpectSuccess(e.Deploy(ctx, DeployInput{App: "job", Files: jobFiles(jobImageV1)}))
		before := j.get(ctx, project, "job")

		By("deploying an image whose task 0 exits with code 3")
		res := e.Deploy(ctx, DeployInput{App: "job", Commit: Commit(), Files: jobFiles(jobImageFailing)})
		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), "%s", res.Report())
		executed := res.Executed()
		Expect(StageNames(executed)).To(Equal([]string{"CLOUDRUN_JOB_SYNC", "CLOUDRUN_JOB_RUN", "CLOUDRUN_ROLLBACK"}))
		Expect(executed[1].Status).To(Equal(model.StageStatus_STAGE_FAILURE))
		Expect(executed[1].LogText()).To(MatchRegexp(`task 0 \(job-[a-z0-9]+-task0\): exit code 3`))

		By("checking that CLOUDRUN_ROLLBACK put the previous template back")
		Expect(executed[2].Status).To(Equal(model.StageStatus_STAGE_SUCCESS), "%s", res.Report())
		after := j.get(ctx, project, "job")
		Expect(proto.Equal(before.GetTemplate(), after.GetTemplate())).To(BeTrue(), "template before %v, after %v", before.GetTemplate(), after.GetTemplate())
		Expect(after.GetLabels()).To(Equal(before.GetLabels()))
	})

	It("cancels the execution when the deployment is cancelled during the run", func(ctx SpecContext) {
		e := newEnv(jobBehaviors)
		j := newJobs(ctx, e)
		ExpectSuccess(e.Deploy(ctx, DeployInput{App: "job", Files: jobFiles(jobImageV1)}))

		By("deploying an image whose tasks run for a minute and cancelling while the run waits")
		mark := e.Fakerun.CallMark()
		r := e.Start(ctx, DeployInput{App: "job", Commit: Commit(), Files: jobFiles(jobImageSlow)})
		waitCtx, stop := context.WithTimeout(ctx, IntervalCall)
		defer stop()
		_, err := e.Fakerun.WaitForCallAfter(waitCtx, mark, "GetExecution")
		Expect(err).NotTo(HaveOccurred(), "the plugin polls the execution")
		r.Cancel()
		res := e.Wait(r)
		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_CANCELLED), "%s", res.Report())

		By("checking the execution was cancelled, not left running")
		x := j.latest(ctx, j.get(ctx, e.Target.Project(), "job"))
		Expect(x.GetCompletionTime()).NotTo(BeNil())
		Expect(completedReason(x)).To(Equal(runpb.Condition_CANCELLED))
		Expect(x.GetRunningCount()).To(BeZero())
	})

	It("deploys and runs the kind: Job manifest of pipecd#5812 unchanged", func(ctx SpecContext) {
		fr, err := target.NewFakerun()
		Expect(err).NotTo(HaveOccurred())
		dt := fr.DeployTargetConfig(region)
		dt["project"] = "sample-ns" // the manifest's metadata.namespace
		e := NewEnvironment(context.Background(), EnvironmentInput{
			Target: fr, PluginBinary: pluginBinary, ArtifactsFolder: artifactsFolder,
			DeployTargets: []piped.DeployTarget{{Name: LocalDeployTarget, Config: dt}},
		})
		j := newJobs(ctx, e)
		root, err := piped.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		raw, err := os.ReadFile(filepath.Join(root, "plugin", "manifest", "testdata", "job", "pipecd-5812.yaml"))
		Expect(err).NotTo(HaveOccurred())

		By("creating sample-job from the v1 manifest")
		ExpectSuccess(e.Deploy(ctx, DeployInput{App: "job", Files: map[string]string{"job.yaml": string(raw)}}))
		job := j.get(ctx, "sample-ns", "sample-job")
		Expect(job.GetTemplate().GetTemplate().GetExecutionEnvironment()).To(Equal(runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN2))
		Expect(job.GetTemplate().GetTemplate().GetMaxRetries()).To(Equal(int32(3)))
		Expect(job.GetTemplate().GetTemplate().GetTimeout().AsDuration()).To(Equal(10 * time.Minute))
		Expect(job.GetTemplate().GetLabels()).To(HaveKeyWithValue("name", "sample-job"))

		By("deploying its next image through the pipeline, which runs it")
		next := strings.Replace(string(raw), "sample-job:v1", "sample-job:v2", 1)
		res := e.Deploy(ctx, DeployInput{App: "job", Commit: Commit(), Files: map[string]string{"job.yaml": next}})
		ExpectSuccess(res)
		Expect(StageNames(res.Executed())).To(Equal([]string{"CLOUDRUN_JOB_SYNC", "CLOUDRUN_JOB_RUN"}))
		Expect(j.latest(ctx, j.get(ctx, "sample-ns", "sample-job")).GetSucceededCount()).To(Equal(int32(1)))
	})

	It("reports the job and its executions in live state, and previews a change", func(ctx SpecContext) {
		e := newEnv(jobBehaviors)
		v1 := DeployInput{App: "job", Files: jobFiles(jobImageV1)}
		ExpectSuccess(e.Deploy(ctx, v1))
		v2 := DeployInput{App: "job", Commit: Commit(), Files: jobFiles(jobImageV2)}
		ExpectSuccess(e.Deploy(ctx, v2))

		By("reading the live state at the deployed commit: SYNCED, the job and its smoke execution")
		ls := e.Livestate(ctx, v2.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), ls.GetSyncState().GetReason())
		res := resourcesByName(ls)
		Expect(res).To(HaveKey("job"))
		Expect(res["job"].GetResourceType()).To(Equal("Job"))
		Expect(res["job"].GetHealthStatus()).To(Equal(model.ResourceState_HEALTHY))
		var executions []*model.ResourceState
		for _, r := range res {
			if r.GetResourceType() == "Execution" {
				executions = append(executions, r)
			}
		}
		Expect(executions).To(HaveLen(1))
		Expect(executions[0].GetHealthDescription()).To(HavePrefix("succeeded; tasks: 0 running, 1 succeeded, 0 failed, 0 cancelled of 1"))

		By("reading it at the previous commit: OUT_OF_SYNC on the image")
		ls = e.Livestate(ctx, v1.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_OUT_OF_SYNC))
		Expect(ls.GetSyncState().GetShortReason()).To(ContainSubstring("template.template.containers[0].image"))

		By("previewing v3: the image change, accepted by validate_only")
		r := e.PlanPreview(ctx, DeployInput{App: "job", Files: jobFiles(ImageV3)}.Source())
		Expect(r.GetNoChange()).To(BeFalse())
		Expect(r.GetSummary()).To(ContainSubstring("(image " + ImageV3 + ", was " + jobImageV2 + ")"))
		Expect(string(r.GetDetails())).To(ContainSubstring("+      image: " + ImageV3))
		Expect(string(r.GetDetails())).To(ContainSubstring("[ok] Cloud Run accepts the job (validate_only)"))

		By("previewing the deployed commit: no change")
		r = e.PlanPreview(ctx, v2.Source())
		Expect(r.GetNoChange()).To(BeTrue(), r.GetSummary())
	})
})
