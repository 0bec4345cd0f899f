package config

import (
	"testing"
	"time"

	"github.com/pipe-cd/piped-plugin-sdk-go/unit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeJobSyncStageOptions(t *testing.T) {
	t.Parallel()
	got, err := DecodeJobSyncStageOptions(nil)
	require.NoError(t, err)
	assert.Equal(t, JobSyncStageOptions{Timeout: unit.Duration(10 * time.Minute)}, got)
	got, err = DecodeJobSyncStageOptions([]byte(`{"timeout": "1m"}`))
	require.NoError(t, err)
	assert.Equal(t, JobSyncStageOptions{Timeout: unit.Duration(time.Minute)}, got)
	_, err = DecodeJobSyncStageOptions([]byte(`{"prune": true}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `CLOUDRUN_JOB_SYNC: unknown field "prune", allowed fields: timeout`)
}

func TestDecodeJobRunStageOptions(t *testing.T) {
	t.Parallel()
	defaults := JobRunStageOptions{Timeout: unit.Duration(30 * time.Minute)}
	testcases := []struct {
		name    string
		raw     string
		want    JobRunStageOptions
		wantErr string
	}{
		{name: "success: nil means defaults", raw: "", want: defaults},
		{name: "success: empty object means defaults", raw: "{}", want: defaults},
		{
			name: "success: every field",
			raw:  `{"container": "app", "args": ["--smoke"], "env": {"MODE": "smoke"}, "taskCount": 3, "taskTimeout": "2m", "timeout": "5m"}`,
			want: JobRunStageOptions{
				Container: "app", Args: []string{"--smoke"}, Env: map[string]string{"MODE": "smoke"},
				TaskCount: 3, TaskTimeout: unit.Duration(2 * time.Minute), Timeout: unit.Duration(5 * time.Minute),
			},
		},
		{name: "success: null task count keeps the job's", raw: `{"taskCount": null}`, want: defaults},
		{name: "success: one task", raw: `{"taskCount": 1}`, want: JobRunStageOptions{TaskCount: 1, Timeout: defaults.Timeout}},
		{name: "success: the most tasks", raw: `{"taskCount": 10000}`, want: JobRunStageOptions{TaskCount: 10000, Timeout: defaults.Timeout}},
		{name: "fail: task count zero", raw: `{"taskCount": 0}`, wantErr: `CLOUDRUN_JOB_RUN: field "taskCount": 0 is out of range, allowed an integer from 1 to 10000 (omit it to keep the job's task count)`},
		{name: "success: empty args clear the job's", raw: `{"args": []}`, want: JobRunStageOptions{Args: []string{}, Timeout: defaults.Timeout}},
		{name: "fail: unknown field", raw: `{"tasks": 3}`, wantErr: `CLOUDRUN_JOB_RUN: unknown field "tasks", allowed fields: args, container, env, taskCount, taskTimeout, timeout`},
		{name: "fail: args is a string", raw: `{"args": "--smoke"}`, wantErr: `CLOUDRUN_JOB_RUN: field "args": "--smoke" is not a list of strings`},
		{name: "fail: env value is a number", raw: `{"env": {"N": 3}}`, wantErr: `CLOUDRUN_JOB_RUN: field "env": {"N": 3} is not an object of strings`},
		{name: "fail: env name", raw: `{"env": {"1X": "a"}}`, wantErr: `CLOUDRUN_JOB_RUN: field "env": "1X" is not an environment variable name`},
		{name: "fail: task count too large", raw: `{"taskCount": 10001}`, wantErr: `CLOUDRUN_JOB_RUN: field "taskCount": 10001 is out of range, allowed an integer from 1 to 10000`},
		{name: "fail: task count negative", raw: `{"taskCount": -1}`, wantErr: `field "taskCount": -1 is out of range`},
		{name: "fail: task timeout as number", raw: `{"taskTimeout": 60}`, wantErr: `CLOUDRUN_JOB_RUN: field "taskTimeout": 60 is not a duration`},
		{name: "fail: timeout zero", raw: `{"timeout": "0s"}`, wantErr: `CLOUDRUN_JOB_RUN: field "timeout": "0s" is not positive`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeJobRunStageOptions([]byte(tc.raw))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
