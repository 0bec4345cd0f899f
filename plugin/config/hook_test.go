package config

import (
	"testing"
	"time"

	"github.com/pipe-cd/piped-plugin-sdk-go/unit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeJobHookStageOptions(t *testing.T) {
	t.Parallel()
	defaultTimeout := unit.Duration(DefaultJobRunTimeout)
	testcases := []struct {
		name    string
		raw     string
		want    JobHookStageOptions
		wantErr string
	}{
		{name: "success: an existing job", raw: `{"job": "migrate"}`, want: JobHookStageOptions{Job: "migrate", Run: JobRunStageOptions{Timeout: defaultTimeout}}},
		{
			name: "success: a manifest with overrides",
			raw:  `{"jobManifestFile": "jobs/smoke.job.yaml", "args": ["--url", "${CLOUDRUN_TAG_URL}"], "taskCount": 2, "timeout": "5m"}`,
			want: JobHookStageOptions{JobManifestFile: "jobs/smoke.job.yaml", Run: JobRunStageOptions{
				Args: []string{"--url", PlaceholderTagURL}, TaskCount: 2, Timeout: unit.Duration(5 * time.Minute),
			}},
		},
		{name: "fail: neither job nor manifest", raw: `{}`, wantErr: `CLOUDRUN_JOB_HOOK: field "job": is required unless jobManifestFile is set`},
		{name: "fail: both job and manifest", raw: `{"job": "migrate", "jobManifestFile": "m.yaml"}`, wantErr: `CLOUDRUN_JOB_HOOK: field "jobManifestFile": is set with job, allowed one of them`},
		{name: "fail: a full job name", raw: `{"job": "projects/p/locations/l/jobs/migrate"}`, wantErr: `CLOUDRUN_JOB_HOOK: field "job": "projects/p/locations/l/jobs/migrate" is not a job name`},
		{name: "fail: an absolute manifest path", raw: `{"jobManifestFile": "/etc/m.yaml"}`, wantErr: `CLOUDRUN_JOB_HOOK: field "jobManifestFile": "/etc/m.yaml" is outside the application directory`},
		{name: "fail: a manifest above the application", raw: `{"jobManifestFile": "jobs/../../m.yaml"}`, wantErr: `CLOUDRUN_JOB_HOOK: field "jobManifestFile": "jobs/../../m.yaml" is outside the application directory`},
		{name: "fail: a run option out of range", raw: `{"job": "migrate", "taskCount": 0}`, wantErr: `CLOUDRUN_JOB_HOOK: field "taskCount": 0 is out of range`},
		{name: "fail: an env name", raw: `{"job": "migrate", "env": {"1X": "a"}}`, wantErr: `CLOUDRUN_JOB_HOOK: field "env": "1X" is not an environment variable name`},
		{name: "fail: unknown field", raw: `{"job": "migrate", "image": "x"}`, wantErr: `CLOUDRUN_JOB_HOOK: unknown field "image"`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeJobHookStageOptions([]byte(tc.raw))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				assert.Equal(t, JobHookStageOptions{}, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestJobHookStageOptions_Placeholders(t *testing.T) {
	t.Parallel()
	none := JobHookStageOptions{Run: JobRunStageOptions{Args: []string{"--smoke"}, Env: map[string]string{"MODE": "smoke"}}}
	assert.False(t, none.Uses(""))
	assert.False(t, none.Uses(PlaceholderRevision))
	assert.Equal(t, none.Run, none.Expand("web-2", "https://tag", "https://web"))

	inArgs := JobHookStageOptions{Run: JobRunStageOptions{Args: []string{"--target=" + PlaceholderTagURL}}}
	assert.True(t, inArgs.Uses(""))
	assert.True(t, inArgs.Uses(PlaceholderTagURL))
	assert.False(t, inArgs.Uses(PlaceholderServiceURL))

	inEnv := JobHookStageOptions{Run: JobRunStageOptions{
		Args: []string{"--check"},
		Env:  map[string]string{"REVISION": PlaceholderRevision, "URL": PlaceholderServiceURL + "/health"},
	}}
	assert.True(t, inEnv.Uses(PlaceholderRevision))
	assert.True(t, inEnv.Uses(PlaceholderServiceURL))
	assert.False(t, inEnv.Uses(PlaceholderTagURL))

	opts := JobHookStageOptions{Job: "smoke", Run: JobRunStageOptions{
		Container: "app",
		Args:      []string{"--url=" + PlaceholderTagURL, "--rev", PlaceholderRevision},
		Env:       map[string]string{"BASE": PlaceholderServiceURL, "MODE": "smoke"},
		TaskCount: 2,
	}}
	got := opts.Expand("web-2", "https://preview---web.run.app", "https://web.run.app")
	assert.Equal(t, JobRunStageOptions{
		Container: "app",
		Args:      []string{"--url=https://preview---web.run.app", "--rev", "web-2"},
		Env:       map[string]string{"BASE": "https://web.run.app", "MODE": "smoke"},
		TaskCount: 2,
	}, got)
	assert.Equal(t, []string{"--url=" + PlaceholderTagURL, "--rev", PlaceholderRevision}, opts.Run.Args, "Expand must not modify the options")
	assert.Equal(t, PlaceholderServiceURL, opts.Run.Env["BASE"], "Expand must not modify the options")
	assert.Nil(t, JobHookStageOptions{}.Expand("r", "t", "s").Args, "no args stay no args: the job's own")
}

func TestJobRunStageOptions_HasOverrides(t *testing.T) {
	t.Parallel()
	assert.False(t, JobRunStageOptions{Container: "app", Timeout: unit.Duration(time.Minute)}.HasOverrides())
	assert.True(t, JobRunStageOptions{Args: []string{}}.HasOverrides(), "empty args clear the job's")
	assert.False(t, JobRunStageOptions{Env: map[string]string{}}.HasOverrides())
	assert.True(t, JobRunStageOptions{Env: map[string]string{"A": "1"}}.HasOverrides())
	assert.True(t, JobRunStageOptions{TaskCount: 1}.HasOverrides())
	assert.True(t, JobRunStageOptions{TaskTimeout: unit.Duration(time.Second)}.HasOverrides())
}
