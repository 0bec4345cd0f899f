package deployment

import (
	"strings"
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func TestJobStages_BadInputFailsClearlyAndLeavesTheJobUnchanged(t *testing.T) {
	t.Parallel()
	v2 := jobYAML(jobImageV2)
	jobAppWith := func(input string) string {
		return strings.Replace(jobApp, "        jobManifestFile: job.yaml\n", input, 1)
	}
	testcases := []struct {
		name     string
		stage    string
		config   string
		app      string
		job      string
		wantLogs []string
		// wantFirst is the first line of the first error of the stage, when the case checks it.
		wantFirst string
	}{
		// Job manifests.
		{name: "fail: unknown field", job: strings.Replace(v2, "taskCount", "taskCont", 1), wantLogs: []string{"job.yaml", "template.taskCont", "taskCount"}},
		{name: "fail: output-only field", job: "executionCount: 2\n" + v2, wantLogs: []string{"job.yaml", "executionCount", "output only"}},
		{name: "fail: no container", job: "name: report\ntemplate: {template: {}}\n", wantLogs: []string{"job.yaml", "template.template.containers"}},
		{name: "fail: invalid job name", job: strings.Replace(v2, "name: report\n", "name: Report_1\n", 1), wantLogs: []string{"job.yaml", "Report_1", "job name"}},
		{name: "fail: a service manifest", job: "kind: Service\n" + v2, wantLogs: []string{"job.yaml", `kind "Service"`, "input.serviceManifestFile"}},
		{name: "fail: v1 job field without v2 equivalent", job: "apiVersion: run.googleapis.com/v1\nkind: Job\nmetadata: {name: report}\nspec:\n  backoffLimit: 3\n  template: {spec: {template: {spec: {containers: [{image: " + jobImageV2 + "}]}}}}\n",
			wantLogs: []string{"job.yaml", "spec.backoffLimit", "cannot be converted"}},
		{name: "fail: v1 job in another project", job: "apiVersion: run.googleapis.com/v1\nkind: Job\nmetadata: {name: report, namespace: other}\nspec:\n  template: {spec: {template: {spec: {containers: [{image: " + jobImageV2 + "}]}}}}\n",
			wantLogs: []string{"job.yaml", "metadata.namespace", `project "other"`}},
		{name: "fail: task count is not a number", job: strings.Replace(v2, "taskCount: 2", "taskCount: many", 1), wantLogs: []string{"job.yaml", "template.taskCount", "integer"}},
		// Explicit values outside Cloud Run's documented job limits, zero included where the minimum is above 0.
		{name: "fail: task count zero", job: strings.Replace(v2, "taskCount: 2", "taskCount: 0", 1),
			wantFirst: `Invalid application configuration: manifest job.yaml: field "template.taskCount": 0 is out of range, allowed 1 to 10000 (omit it for 1 task)`},
		{name: "fail: task count zero with parallelism", job: strings.Replace(v2, "taskCount: 2", "taskCount: 0\n  parallelism: 2", 1),
			wantFirst: `Invalid application configuration: manifest job.yaml: field "template.taskCount": 0 is out of range, allowed 1 to 10000 (omit it for 1 task)`},
		{name: "fail: task count above the limit", job: strings.Replace(v2, "taskCount: 2", "taskCount: 10001", 1),
			wantFirst: `Invalid application configuration: manifest job.yaml: field "template.taskCount": 10001 is out of range, allowed 1 to 10000 (omit it for 1 task)`},
		{name: "fail: negative parallelism", job: strings.Replace(v2, "taskCount: 2", "taskCount: 2\n  parallelism: -1", 1),
			wantFirst: `Invalid application configuration: manifest job.yaml: field "template.parallelism": -1 is out of range, allowed 0 to 10000 (0 or none: as many as Cloud Run allows)`},
		{name: "fail: max retries above 10", job: strings.Replace(v2, "maxRetries: 0", "maxRetries: 11", 1),
			wantFirst: `Invalid application configuration: manifest job.yaml: field "template.template.maxRetries": 11 is out of range, allowed 0 to 10 (omit it for 3)`},
		{name: "fail: task timeout zero", job: strings.Replace(v2, "timeout: 60s", "timeout: 0s", 1),
			wantFirst: `Invalid application configuration: manifest job.yaml: field "template.template.timeout": "0s" is out of range, allowed 1s to 604800s (168 hours; omit it for 600s)`},
		{name: "fail: task timeout above 168 hours", job: strings.Replace(v2, "timeout: 60s", "timeout: 604801s", 1),
			wantFirst: `Invalid application configuration: manifest job.yaml: field "template.template.timeout": "604801s" is out of range, allowed 1s to 604800s (168 hours; omit it for 600s)`},
		// Application config.
		{name: "fail: a service and a job", app: jobAppWith("        jobManifestFile: job.yaml\n        serviceManifestFile: service.yaml\n"), wantLogs: []string{"app.pipecd.yaml", `fields "input.serviceManifestFile" and "input.jobManifestFile" are set together: an application deploys one service, one job or one worker pool`}},
		{name: "fail: job manifest outside the application", app: jobAppWith("        jobManifestFile: ../job.yaml\n"), wantLogs: []string{"app.pipecd.yaml", "input.jobManifestFile", "outside the application directory"}},
		{name: "fail: input.image with two containers", app: jobAppWith("        jobManifestFile: job.yaml\n        image: gcr.io/p/report:v3\n"),
			job: strings.Replace(v2, "        args: [\"--all\"]\n", "        args: [\"--all\"]\n      - name: proxy\n        image: gcr.io/p/proxy:v1\n", 1), wantLogs: []string{"input.image", "the job has 2 containers"}},
		{name: "fail: JOB_SYNC on a service application", app: quickSyncApp, job: serviceYAML("gcr.io/p/web:v2"), wantLogs: []string{"CLOUDRUN_JOB_SYNC deploys a job", "input.jobManifestFile"}},
		// Stage options.
		{name: "fail: JOB_SYNC unknown option", config: `{"prune": true}`, wantLogs: []string{"CLOUDRUN_JOB_SYNC", `unknown field "prune"`, "timeout"}},
		{name: "fail: JOB_SYNC timeout not a duration", config: `{"timeout": 30}`, wantLogs: []string{"CLOUDRUN_JOB_SYNC", "timeout", "30"}},
		{name: "fail: JOB_RUN unknown option", stage: StageCloudRunJobRun, config: `{"tasks": 2}`, wantLogs: []string{"CLOUDRUN_JOB_RUN", `unknown field "tasks"`, "taskCount"}},
		{name: "fail: JOB_RUN task count out of range", stage: StageCloudRunJobRun, config: `{"taskCount": 20000}`, wantLogs: []string{"CLOUDRUN_JOB_RUN", "taskCount", "1 to 10000"}},
		{name: "fail: JOB_RUN task count zero", stage: StageCloudRunJobRun, config: `{"taskCount": 0}`,
			wantFirst: `Invalid stage options in app.pipecd.yaml spec.pipeline.stages[0]: CLOUDRUN_JOB_RUN: field "taskCount": 0 is out of range, allowed an integer from 1 to 10000 (omit it to keep the job's task count)`},
		{name: "fail: JOB_RUN env not strings", stage: StageCloudRunJobRun, config: `{"env": {"N": 1}}`, wantLogs: []string{"CLOUDRUN_JOB_RUN", "env", "object of strings"}},
		{name: "fail: JOB_RUN args not a list", stage: StageCloudRunJobRun, config: `{"args": "--dry-run"}`, wantLogs: []string{"CLOUDRUN_JOB_RUN", "args", "list of strings"}},
		{name: "fail: JOB_RUN unknown container", stage: StageCloudRunJobRun, config: `{"container": "nope", "args": []}`, wantLogs: []string{"run job", "nope"}},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, client := newJobEnv(t)
			f := e.fakes[0]
			e.deploy("1111111aaaa", jobApp, jobYAML(jobImageV1))
			require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunJobSync, "", nil)))
			before := getJob(t, client)
			f.ResetCalls()

			stage, app, job := StageCloudRunJobSync, jobApp, v2
			if tc.stage != "" {
				stage = tc.stage
			}
			if tc.app != "" {
				app = tc.app
			}
			if tc.job != "" {
				job = tc.job
			}
			if app == quickSyncApp {
				e.manifestFile = "service.yaml"
			}
			e.deploy("2222222bbbb", app, job)
			status, log := e.run(stage, tc.config, nil)

			assert.Equal(t, sdk.StageStatusFailure, status)
			for _, want := range tc.wantLogs {
				assert.Contains(t, log.String(), want)
			}
			assert.Contains(t, log.String(), "ERROR")
			if tc.wantFirst != "" {
				assert.Equal(t, tc.wantFirst, log.firstError())
			}
			assert.True(t, proto.Equal(before, getJob(t, client)), "the job is unchanged")
			for _, c := range f.Calls() {
				assert.NotContains(t, []string{"CreateJob", "UpdateJob", "DeleteJob"}, c.Method, "no write")
			}
		})
	}
}
