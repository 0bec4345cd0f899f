package deployment

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// newHookEnv starts a fakerun whose job images behave as their names say, with the job manifest
// report.job.yaml of image in the service application's directory.
func newHookEnv(t *testing.T, image string) (*fakerun.Server, *env, *provider.Client) {
	t.Helper()
	f := newFake(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		jobImageFailing: {Task: fakerun.TaskBehavior{ExitCode: 3, FailTasks: []int{1}}},
		jobImageSlow:    {Task: fakerun.TaskBehavior{Duration: time.Minute}},
	}}))
	e := newEnv(t, f)
	e.files = map[string]string{"report.job.yaml": jobYAML(image)}
	client, err := e.plugin.registry.Client(t.Context(), "read", config.DeployTargetConfig{Endpoint: f.Addr(), Insecure: true})
	require.NoError(t, err)
	return f, e, client
}

func latestExecution(t *testing.T, client *provider.Client) *runpb.Execution {
	t.Helper()
	job := getJob(t, client)
	exec, err := client.GetExecution(t.Context(), job.GetName()+"/executions/"+job.GetLatestCreatedExecution().GetName())
	require.NoError(t, err)
	return exec
}

func TestJobHook_FailingMigrationBeforeSyncWritesNothingToTheService(t *testing.T) {
	t.Parallel()
	f, e, client := newHookEnv(t, jobImageFailing)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))
	before, err := f.Service(serviceName())
	require.NoError(t, err)

	e.deploy("2222222bbbb", canaryApp, serviceYAML("gcr.io/p/web:v2"))
	f.ResetCalls()
	status, log := e.run(StageCloudRunJobHook, `{"jobManifestFile": "report.job.yaml", "args": ["migrate", "--up"]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "Job report does not exist yet: creating it")
	assert.Contains(t, log.String(), `Running job report with overrides: args ["migrate" "--up"]`)
	assert.Regexp(t, `ERROR execution report-[a-z0-9]+ failed: .*\nFailed tasks \(1 of 2\):\n  - task 1 \(report-[a-z0-9]+-task1\): exit code 3`, log.String())
	calls := callCounts(f)
	assert.Zero(t, calls["UpdateService"]+calls["CreateService"], "the hook writes nothing to the service: %v", calls)

	// piped's rollback finds nothing of this deployment on the service.
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assertRestored(t, f, before)
	assert.Equal(t, []string{"migrate", "--up"}, latestExecution(t, client).GetTemplate().GetContainers()[0].GetArgs())
}

func TestJobHook_SmokeTestOfTheTagURL(t *testing.T) {
	t.Parallel()
	f, e, client := newHookEnv(t, jobImageV1)
	_, revNew := syncCanary(t, f, e, "gcr.io/p/web:v2")
	svc, err := f.Service(serviceName())
	require.NoError(t, err)
	tagURL := previewURL(svc, svc.GetTraffic()[len(svc.GetTraffic())-1].GetTag())
	require.NotEmpty(t, tagURL)

	// The job exists already: the hook runs it as it is, with the overrides.
	status, log := e.run(StageCloudRunJobHook, `{"jobManifestFile": "report.job.yaml"}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	status, log = e.run(StageCloudRunJobHook, `{"job": "report", "taskCount": 1, "env": {"TARGET": "${CLOUDRUN_TAG_URL}/healthz", "REVISION": "${CLOUDRUN_REVISION}", "SERVICE": "${CLOUDRUN_SERVICE_URL}"}}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Regexp(t, `Execution report-[a-z0-9]+ succeeded: 1 of 1 task\(s\) succeeded`, log.String())
	env := map[string]string{}
	for _, v := range latestExecution(t, client).GetTemplate().GetContainers()[0].GetEnv() {
		env[v.GetName()] = v.GetValue()
	}
	assert.Equal(t, map[string]string{"TARGET": tagURL + "/healthz", "REVISION": revNew, "SERVICE": svc.GetUri()}, env)
}

func TestJobHook_PlaceholdersNeedASync(t *testing.T) {
	t.Parallel()
	_, e, _ := newHookEnv(t, jobImageV1)
	e.deploy("1111111aaaa", canaryApp, serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunJobHook, `{"job": "report", "args": ["${CLOUDRUN_TAG_URL}"]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "but CLOUDRUN_SYNC did not run for deploy target dt1 before it in this deployment")

	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))
	status, log = e.run(StageCloudRunJobHook, `{"job": "report", "args": ["${CLOUDRUN_TAG_URL}"]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "name ${CLOUDRUN_TAG_URL}, but revision web-1111111-")
	assert.Contains(t, log.String(), "has no tag URL: set `tag: true` in the options of CLOUDRUN_SYNC")

	status, log = e.run(StageCloudRunJobHook, `{"job": "missing"}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "jobs/missing: not found")
}

func TestJobHook_CancellingTheStageCancelsTheExecution(t *testing.T) {
	t.Parallel()
	f, e, client := newHookEnv(t, jobImageSlow)
	e.deploy("1111111aaaa", canaryApp, serviceYAML("gcr.io/p/web:v1"))
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		defer cancel()                            // as piped does when the stage is cancelled, once the execution runs
		_, _ = f.WaitForCall(ctx, "GetExecution") // the plugin polls the execution it started
	}()
	status, log := e.runCtx(ctx, StageCloudRunJobHook, `{"jobManifestFile": "report.job.yaml"}`, nil)
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "the stage was cancelled while execution")
	expectCancelled(t, client)
}

func TestDecodeJobHookOptions_AtPlanning(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		`{}`: `CLOUDRUN_JOB_HOOK: field "job": is required unless jobManifestFile is set`,
		`{"job": "a", "jobManifestFile": "b.yaml"}`: `CLOUDRUN_JOB_HOOK: field "jobManifestFile": is set with job, allowed one of them`,
		`{"job": "projects/p/locations/r/jobs/a"}`:  `field "job": "projects/p/locations/r/jobs/a" is not a job name`,
		`{"jobManifestFile": "../x.yaml"}`:          `field "jobManifestFile": "../x.yaml" is outside the application directory`,
		`{"job": "a", "taskCount": 0.5}`:            `CLOUDRUN_JOB_HOOK: field "taskCount": 0.5 is not an integer, allowed an integer from 1 to 10000`,
		`{"job": "a", "env": {"1X": "y"}}`:          `CLOUDRUN_JOB_HOOK: field "env": "1X" is not an environment variable name`,
		`{"job": "a", "image": "x"}`:                `CLOUDRUN_JOB_HOOK: unknown field "image", allowed fields: args, container, env, job, jobManifestFile, taskCount, taskTimeout, timeout`,
	} {
		err := checkPipelineOptions([]sdk.StageConfig{{Index: 2, Name: StageCloudRunJobHook, Config: []byte(raw)}})
		require.Error(t, err, raw)
		assert.True(t, strings.HasPrefix(err.Error(), "application config spec.pipeline.stages[2], CLOUDRUN_JOB_HOOK: "), err.Error())
		assert.Contains(t, err.Error(), want, raw)
	}
	require.NoError(t, checkPipelineOptions([]sdk.StageConfig{{Index: 0, Name: StageCloudRunJobHook, Config: []byte(`{"job": "migrate", "args": ["--up"], "timeout": "5m"}`)}}))
}
