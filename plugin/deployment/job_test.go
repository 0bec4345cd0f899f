package deployment

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

const (
	jobImageV1      = "gcr.io/p/report:v1"
	jobImageV2      = "gcr.io/p/report:v2"
	jobImageFailing = "gcr.io/p/report:broken"
	jobImageSlow    = "gcr.io/p/report:slow"
)

// jobApp is a job application with a pipeline of JOB_SYNC and JOB_RUN.
const jobApp = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: report
  pipeline:
    stages:
      - name: CLOUDRUN_JOB_SYNC
      - name: CLOUDRUN_JOB_RUN
  plugins:
    cloudrun:
      input:
        jobManifestFile: job.yaml
`

func jobYAML(image string) string {
	return fmt.Sprintf(`name: report
labels:
  team: data
template:
  taskCount: 2
  template:
    maxRetries: 0
    timeout: 60s
    containers:
      - name: report
        image: %s
        args: ["--all"]
`, image)
}

func jobName() string {
	return fmt.Sprintf("projects/%s/locations/%s/jobs/report", testProject, testRegion)
}

// newJobEnv starts a fakerun whose job images behave as their names say, and deploys job v1 with JOB_SYNC.
func newJobEnv(t *testing.T, opts ...fakerun.Option) (*env, *provider.Client) {
	t.Helper()
	f := newFake(t, append(opts, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		jobImageFailing: {Task: fakerun.TaskBehavior{ExitCode: 3, FailTasks: []int{1}}},
		jobImageSlow:    {Task: fakerun.TaskBehavior{Duration: time.Minute}},
	}}))...)
	e := newEnv(t, f)
	e.manifestFile = "job.yaml"
	client, err := e.plugin.registry.Client(t.Context(), "read", config.DeployTargetConfig{Endpoint: f.Addr(), Insecure: true})
	require.NoError(t, err)
	return e, client
}

// newSyncedJob is newJobEnv with the job of image created by CLOUDRUN_JOB_SYNC.
func newSyncedJob(t *testing.T, image string) (*env, *provider.Client) {
	t.Helper()
	e, client := newJobEnv(t)
	e.deploy("1111111aaaa", jobApp, jobYAML(image))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunJobSync, "", nil)))
	return e, client
}

func getJob(t *testing.T, client *provider.Client) *runpb.Job {
	t.Helper()
	job, err := client.GetJob(t.Context(), jobName())
	require.NoError(t, err)
	return job
}

func TestJobSync_CreatesThenUpdates(t *testing.T) {
	t.Parallel()
	e, client := newJobEnv(t)
	e.deploy("1111111aaaa", jobApp, jobYAML(jobImageV1))
	status, log := e.run(StageCloudRunJobSync, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "Job report does not exist yet: creating it")
	assert.Contains(t, log.String(), "Created job report: image "+jobImageV1+", 2 task(s)")
	v1 := getJob(t, client)
	assert.Equal(t, int64(1), v1.GetGeneration(), "created in one write")
	assert.Equal(t, jobImageV1, v1.GetTemplate().GetTemplate().GetContainers()[0].GetImage())
	assert.Equal(t, "1111111aaaa", v1.GetLabels()[provider.LabelCommitHash])
	assert.Equal(t, "data", v1.GetLabels()["team"])
	assert.Equal(t, provider.ManagedByPiped, v1.GetTemplate().GetLabels()[provider.LabelManagedBy])

	e.deploy("2222222bbbb", jobApp, jobYAML(jobImageV2))
	status, log = e.run(StageCloudRunJobSync, `{"timeout": "1m"}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "Updated job report: image "+jobImageV2+", 2 task(s)")
	v2 := getJob(t, client)
	assert.Equal(t, jobImageV2, v2.GetTemplate().GetTemplate().GetContainers()[0].GetImage())
	assert.Greater(t, v2.GetGeneration(), v1.GetGeneration())

	rec, found, err := loadRecord[jobRecord](t.Context(), e.store, "dt1", jobRecordKey("dt1"))
	require.NoError(t, err)
	require.True(t, found)
	before, err := rec.before()
	require.NoError(t, err)
	assert.True(t, proto.Equal(v1.GetTemplate(), before.GetTemplate()), "the record holds the job as it was before the deployment")

	status, _ = e.run(StageCloudRunJobSync, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status)
	again, _, err := loadRecord[jobRecord](t.Context(), e.store, "dt1", jobRecordKey("dt1"))
	require.NoError(t, err)
	assert.Equal(t, rec.Before, again.Before, "a re-run keeps the first record")
}

func TestJobRun_SucceedsWithOverridesAndStreamsProgress(t *testing.T) {
	t.Parallel()
	e, client := newSyncedJob(t, jobImageV1)

	status, log := e.run(StageCloudRunJobRun, `{"args": ["--dry-run"], "env": {"MODE": "smoke"}, "taskCount": 3}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), `Running job report with overrides: args ["--dry-run"], env MODE, 3 task(s)`)
	assert.Contains(t, log.String(), "0 running, 3 succeeded, 0 failed (of 3)")
	assert.Regexp(t, `Execution report-[a-z0-9]+ succeeded: 3 of 3 task\(s\) succeeded`, log.String())

	job := getJob(t, client)
	exec, err := client.GetExecution(t.Context(), job.GetName()+"/executions/"+job.GetLatestCreatedExecution().GetName())
	require.NoError(t, err)
	c := exec.GetTemplate().GetContainers()[0]
	assert.Equal(t, []string{"--dry-run"}, c.GetArgs(), "the execution runs with the stage's args")
	assert.Equal(t, "MODE", c.GetEnv()[0].GetName())
	assert.Equal(t, []string{"--all"}, job.GetTemplate().GetTemplate().GetContainers()[0].GetArgs(), "the job itself is unchanged")
}

// Each override the stage options give is said in the log and reaches the execution, and nothing else does.
// A job created between the stage's read and its create (an earlier run of the stage, or someone else) is
// updated instead.
func TestJobSync_AJobCreatedMeanwhileIsUpdated(t *testing.T) {
	t.Parallel()
	e, client := newSyncedJob(t, jobImageV1)
	e.fakes[0].InjectFault("GetJob", fakerun.Fault{Code: codes.NotFound, Times: 1}) // the read misses the job

	e.deploy("2222222bbbb", jobApp, jobYAML(jobImageV2))
	status, log := e.run(StageCloudRunJobSync, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "Job report was created meanwhile (an earlier run of this stage, or someone else): updating it instead")
	assert.Contains(t, log.String(), "Updated job report: image "+jobImageV2)
	assert.Equal(t, jobImageV2, getJob(t, client).GetTemplate().GetTemplate().GetContainers()[0].GetImage())
}

func TestJobRun_OverridesAreLoggedAndApplied(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, opts, wantLog string
		wantArgs            []string
		wantEnv             []string
		wantTasks           int32
		wantTimeout         time.Duration
	}{
		{
			name: "env only", opts: `{"env": {"B": "2", "A": "1"}}`, wantLog: "Running job report with overrides: env A, B\n",
			wantArgs: []string{"--all"}, wantEnv: []string{"A=1", "B=2"}, wantTasks: 2, wantTimeout: time.Minute,
		},
		{
			name: "empty args clear the job's", opts: `{"args": []}`, wantLog: "Running job report with overrides: args []\n",
			wantArgs: []string{}, wantTasks: 2, wantTimeout: time.Minute,
		},
		{
			name: "task count and timeout", opts: `{"taskCount": 1, "taskTimeout": "30s"}`,
			wantLog:  "Running job report with overrides: 1 task(s), task timeout 30s\n",
			wantArgs: []string{"--all"}, wantTasks: 1, wantTimeout: 30 * time.Second,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, client := newSyncedJob(t, jobImageV1)

			status, log := e.run(StageCloudRunJobRun, tc.opts, nil)
			require.Equal(t, sdk.StageStatusSuccess, status, log.String())
			assert.Contains(t, log.String(), tc.wantLog)
			exec := latestExecution(t, client)
			c := exec.GetTemplate().GetContainers()[0]
			assert.Equal(t, tc.wantArgs, append([]string{}, c.GetArgs()...))
			var env []string
			for _, v := range c.GetEnv() {
				env = append(env, v.GetName()+"="+v.GetValue())
			}
			assert.Equal(t, tc.wantEnv, env)
			assert.Equal(t, tc.wantTasks, exec.GetTaskCount())
			assert.Equal(t, tc.wantTimeout, exec.GetTemplate().GetTimeout().AsDuration())
		})
	}
}

func TestJobRun_FailureNamesTasksAndRollbackRestoresTheTemplate(t *testing.T) {
	t.Parallel()
	e, client := newSyncedJob(t, jobImageV1)
	before := getJob(t, client)

	e.deploy("2222222bbbb", jobApp, strings.Replace(jobYAML(jobImageFailing), "team: data", "team: analytics", 1))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunJobSync, "", nil)))
	status, log := e.run(StageCloudRunJobRun, "", nil)
	require.Equal(t, sdk.StageStatusFailure, status)
	assert.Regexp(t, `execution report-[a-z0-9]+ failed`, log.String())
	assert.Contains(t, log.String(), "Failed tasks (1 of 2):")
	assert.Regexp(t, `task 1 \(report-[a-z0-9]+-task1\): exit code 3: The container exited with an exit code of 3\.`, log.String())
	assert.NotContains(t, log.String(), "task 0 (")
	assert.Regexp(t, `\nLogs: https://console\.cloud\.google\.com/logs/viewer\?project=proj&advancedFilter=\S+report-[a-z0-9]+%22(\n|$)`, log.String(), "where to read the execution's logs")

	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "Rolled back job report to the template recorded before the deployment: image "+jobImageV1)
	after := getJob(t, client)
	assert.True(t, proto.Equal(before.GetTemplate(), after.GetTemplate()), "the template comes back exactly")
	assert.Equal(t, before.GetLabels(), after.GetLabels(), "labels, the commit label included, come back")

	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status)
	assert.Contains(t, log.String(), "already runs the template recorded before the deployment")

	rollbackApp := strings.Replace(jobApp, "      - name: CLOUDRUN_JOB_RUN\n", "      - name: CLOUDRUN_JOB_RUN\n      - name: CLOUDRUN_ROLLBACK\n", 1)
	e.app = rollbackApp
	status, log = e.run(StageCloudRunRollback, `{"revision": "report-v1"}`, nil)
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), `the stage option "revision" (report-v1) routes the traffic of a service`)
}

// TestJobRun_RunJobOperationDoneAtStart runs against a Cloud Run whose RunJob operation is done when the
// execution starts rather than when it ends (the reference does not say which): the stage still waits for
// the execution and reports its outcome.
func TestJobRun_RunJobOperationDoneAtStart(t *testing.T) {
	t.Parallel()
	e, _ := newJobEnv(t, fakerun.WithCompatibility(fakerun.Compatibility{RunJobDoneAtStart: true}))
	e.deploy("1111111aaaa", jobApp, jobYAML(jobImageV1))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunJobSync, "", nil)))
	status, log := e.run(StageCloudRunJobRun, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "2 of 2 task(s) succeeded")

	e.deploy("2222222bbbb", jobApp, jobYAML(jobImageFailing))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunJobSync, "", nil)))
	status, log = e.run(StageCloudRunJobRun, "", nil)
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "exit code 3")
}

func TestJobRun_CancellingTheStageCancelsTheExecution(t *testing.T) {
	t.Parallel()
	e, client := newSyncedJob(t, jobImageSlow)

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		defer cancel()                                     // as piped does when the stage is cancelled, once the execution runs
		_, _ = e.fakes[0].WaitForCall(ctx, "GetExecution") // the plugin polls the execution it started
	}()
	status, log := e.runCtx(ctx, StageCloudRunJobRun, "", nil)
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "the stage was cancelled while execution")
	assert.Contains(t, log.String(), "the execution was cancelled")
	expectCancelled(t, client)
}

// Cloud Run refusing to show the running execution fails the stage naming why, and the execution, which the
// stage can no longer follow, is cancelled.
func TestJobRun_AnExecutionThatCannotBeReadFailsNamingWhyAndIsCancelled(t *testing.T) {
	t.Parallel()
	e, client := newSyncedJob(t, jobImageSlow)
	e.fakes[0].InjectFault("GetExecution", fakerun.Fault{Code: codes.PermissionDenied, Message: "Permission 'run.executions.get' denied", Times: 1})

	status, log := e.run(StageCloudRunJobRun, "", nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Regexp(t, `^waiting for execution report-[a-z0-9]+ failed: .*Permission 'run.executions.get' denied.*; the execution was cancelled`, log.firstError())
	expectCancelled(t, client)
}

// An execution cancelled behind the stage's back (in the console, with gcloud) fails the stage saying so,
// with no list of failed tasks: none failed.
func TestJobRun_AnExecutionCancelledElsewhereFailsTheStage(t *testing.T) {
	t.Parallel()
	e, client := newSyncedJob(t, jobImageSlow)
	cancelled := make(chan error, 1)
	go func() {
		call, err := e.fakes[0].WaitForCall(t.Context(), "GetExecution") // the stage follows the execution
		if err == nil {
			_, err = client.CancelExecution(t.Context(), call.Request.(*runpb.GetExecutionRequest).GetName())
		}
		cancelled <- err
	}()

	status, log := e.run(StageCloudRunJobRun, "", nil)
	require.NoError(t, <-cancelled)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Regexp(t, `^execution report-[a-z0-9]+ failed: Execution 'report-[a-z0-9]+' was cancelled\.$`, log.firstError())
	assert.NotContains(t, log.String(), "Failed tasks")
}

// The error lists ten failed tasks at most, then counts the rest.
func TestJobRun_FailedTasksAreListedUpToTen(t *testing.T) {
	t.Parallel()
	f := newFake(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		jobImageFailing: {Task: fakerun.TaskBehavior{ExitCode: 3, FailTasks: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}},
	}}))
	e := newEnv(t, f)
	e.manifestFile = "job.yaml"
	e.deploy("1111111aaaa", jobApp, jobYAML(jobImageFailing))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunJobSync, "", nil)))
	for tasks, more := range map[int]string{10: "", 11: "\n  - and 1 more"} {
		status, log := e.run(StageCloudRunJobRun, fmt.Sprintf(`{"taskCount": %d}`, tasks), nil)
		require.Equal(t, sdk.StageStatusFailure, status, log.String())
		listed := regexp.MustCompile(fmt.Sprintf(`Failed tasks \(%d of %d\):((?:\n  - task \d+ \([a-z0-9-]+\): exit code 3: [^\n]+)+)((?:\n  - and \d+ more)?)`, tasks, tasks)).FindStringSubmatch(log.String())
		require.NotNil(t, listed, log.String())
		assert.Equal(t, 10, strings.Count(listed[1], "\n"), "tasks listed")
		assert.Equal(t, more, listed[2])
	}
}

func TestJobRun_TimeoutCancelsTheExecution(t *testing.T) {
	t.Parallel()
	e, client := newSyncedJob(t, jobImageSlow)
	status, log := e.run(StageCloudRunJobRun, `{"timeout": "200ms"}`, nil)
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "did not finish within 200ms")
	expectCancelled(t, client)
}

func expectCancelled(t *testing.T, client *provider.Client) {
	t.Helper()
	job := getJob(t, client)
	exec, err := client.GetExecution(t.Context(), job.GetName()+"/executions/"+job.GetLatestCreatedExecution().GetName())
	require.NoError(t, err)
	assert.NotNil(t, exec.GetCompletionTime(), "the execution has ended")
	assert.Equal(t, runpb.Condition_CANCELLED, completed(exec.GetConditions()).GetExecutionReason())
	assert.Equal(t, int32(0), exec.GetRunningCount())
}

// Someone deploying the job after this deployment's JOB_SYNC wins: the rollback leaves their job as it is.
func TestJobRollback_LeavesAJobSomeoneDeployedMeanwhile(t *testing.T) {
	t.Parallel()
	e, client := newSyncedJob(t, jobImageV1)
	e.deploy("2222222bbbb", jobApp, jobYAML(jobImageV2))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunJobSync, "", nil)))
	theirs := getJob(t, client)
	theirs.Labels[provider.LabelCommitHash] = "3333333cccc"
	theirs.GetTemplate().GetTemplate().GetContainers()[0].Image = "gcr.io/p/report:theirs"
	_, err := client.ReplaceJob(t.Context(), theirs)
	require.NoError(t, err)

	status, log := e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), `Job report no longer carries the commit this deployment applied (commit label "3333333cccc", not "2222222bbbb"): someone deployed meanwhile, so it is left as it is`)
	assert.Equal(t, "gcr.io/p/report:theirs", getJob(t, client).GetTemplate().GetTemplate().GetContainers()[0].GetImage())
}

func TestJobRollback_FirstDeploymentLeavesTheJob(t *testing.T) {
	t.Parallel()
	e, client := newSyncedJob(t, jobImageV1)
	status, log := e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status)
	assert.Contains(t, log.String(), "gcloud run jobs delete report --region "+testRegion)
	assert.Equal(t, jobImageV1, getJob(t, client).GetTemplate().GetTemplate().GetContainers()[0].GetImage(), "the job is never deleted")
}

func TestJobQuickSync(t *testing.T) {
	t.Parallel()
	e, client := newJobEnv(t)
	e.deploy("1111111aaaa", strings.Replace(jobApp, "  pipeline:\n    stages:\n      - name: CLOUDRUN_JOB_SYNC\n      - name: CLOUDRUN_JOB_RUN\n", "", 1), jobYAML(jobImageV1))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, jobImageV1, getJob(t, client).GetTemplate().GetTemplate().GetContainers()[0].GetImage())

	e.deploy("2222222bbbb", strings.Replace(jobApp, "CLOUDRUN_JOB_SYNC", "CLOUDRUN_SYNC", 1), jobYAML(jobImageV2))
	status, log = e.run(StageCloudRunSync, "", nil)
	assert.Equal(t, sdk.StageStatusFailure, status, "a pipeline's CLOUDRUN_SYNC is for services")
	assert.Contains(t, log.String(), "use CLOUDRUN_JOB_SYNC and CLOUDRUN_JOB_RUN")
}
