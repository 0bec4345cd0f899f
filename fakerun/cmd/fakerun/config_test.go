package main

import (
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
)

// defaultCompat is what the compatibility flags give by default.
var defaultCompat = fakerun.Compatibility{EtagMismatchCode: codes.Aborted}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	defaults := config{addr: "127.0.0.1:8080", compat: defaultCompat, logLevel: slog.LevelInfo}
	testcases := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{name: "success: defaults listen on loopback 8080", want: defaults},
		{
			name: "success: every flag",
			args: []string{"-host", "0.0.0.0", "-port", "9090", "-readiness-delay", "1.5s", "-manual-readiness", "-invoker-check=false",
				"-failing-images", "img:bad, other:bad ,", "-log-level", "debug"},
			want: config{addr: "0.0.0.0:9090", readinessDelay: 1500 * time.Millisecond, manualReadiness: true, noInvokerCheck: true,
				failingImages: []string{"img:bad", "other:bad"}, compat: defaultCompat, logLevel: slog.LevelDebug},
		},
		{
			name: "success: environment fallbacks",
			env: map[string]string{"FAKERUN_HOST": "0.0.0.0", "FAKERUN_PORT": "7000", "FAKERUN_READINESS_DELAY": "2s",
				"FAKERUN_MANUAL_READINESS": "true", "FAKERUN_FAILING_IMAGES": "img:bad", "FAKERUN_LOG_LEVEL": "WARN", "FAKERUN_INVOKER_CHECK": "false"},
			want: config{addr: "0.0.0.0:7000", readinessDelay: 2 * time.Second, manualReadiness: true, noInvokerCheck: true,
				failingImages: []string{"img:bad"}, compat: defaultCompat, logLevel: slog.LevelWarn},
		},
		{
			name: "success: flags win over the environment",
			args: []string{"-port", "7001", "-readiness-delay", "0s", "-manual-readiness=false", "-log-level", "error"},
			env: map[string]string{"FAKERUN_PORT": "7000", "FAKERUN_READINESS_DELAY": "nonsense",
				"FAKERUN_MANUAL_READINESS": "true", "FAKERUN_LOG_LEVEL": "debug"},
			want: config{addr: "127.0.0.1:7001", compat: defaultCompat, logLevel: slog.LevelError},
		},
		{name: "success: -addr", args: []string{"-addr", "[::1]:0"}, want: config{addr: "[::1]:0", compat: defaultCompat, logLevel: slog.LevelInfo}},
		{name: "success: FAKERUN_ADDR", env: map[string]string{"FAKERUN_ADDR": "0.0.0.0:8081"},
			want: config{addr: "0.0.0.0:8081", compat: defaultCompat, logLevel: slog.LevelInfo}},
		{name: "success: -port beats FAKERUN_ADDR", args: []string{"-port", "0"}, env: map[string]string{"FAKERUN_ADDR": "0.0.0.0:8081"},
			want: config{addr: "127.0.0.1:0", compat: defaultCompat, logLevel: slog.LevelInfo}},
		{name: "success: empty variables count as unset", env: map[string]string{"FAKERUN_PORT": "", "FAKERUN_ADDR": ""}, want: defaults},
		{
			name: "success: compatibility flags",
			args: []string{"-accept-full-revision-names", "-bump-generation-on-noop-update", "-etag-mismatch-code", "failed_precondition",
				"-reject-update-while-reconciling", "-allow-deleted-revision-names", "-run-job-done-at-start"},
			want: config{addr: "127.0.0.1:8080", logLevel: slog.LevelInfo, compat: fakerun.Compatibility{
				AcceptFullRevisionNames: true, BumpGenerationOnNoOpUpdate: true, EtagMismatchCode: codes.FailedPrecondition,
				RejectUpdateWhileReconciling: true, AllowDeletedRevisionNames: true, RunJobDoneAtStart: true}},
		},
		{
			name: "success: compatibility variables",
			env: map[string]string{"FAKERUN_ACCEPT_FULL_REVISION_NAMES": "true", "FAKERUN_BUMP_GENERATION_ON_NOOP_UPDATE": "1",
				"FAKERUN_ETAG_MISMATCH_CODE": "FAILED_PRECONDITION", "FAKERUN_REJECT_UPDATE_WHILE_RECONCILING": "true",
				"FAKERUN_ALLOW_DELETED_REVISION_NAMES": "true"},
			want: config{addr: "127.0.0.1:8080", logLevel: slog.LevelInfo, compat: fakerun.Compatibility{
				AcceptFullRevisionNames: true, BumpGenerationOnNoOpUpdate: true, EtagMismatchCode: codes.FailedPrecondition,
				RejectUpdateWhileReconciling: true, AllowDeletedRevisionNames: true}},
		},
		{
			name: "success: serving flags",
			args: []string{"-behaviors", `{"images":{"app:v2":{"errorRate":0.2,"errorCode":503,"latency":"50ms"}}}`, "-seed", "7",
				"-metrics-retention", "2h", "-ingestion-delay", "3m", "-load", `{"url":"https://svc-abc-uc.a.run.app/","rate":20,"duration":"1m"}`},
			want: config{addr: "127.0.0.1:8080", compat: defaultCompat, logLevel: slog.LevelInfo, seed: 7, retention: 2 * time.Hour, ingestionDelay: 3 * time.Minute,
				behaviors: fakerun.Behaviors{Images: map[string]fakerun.Behavior{"app:v2": {ErrorRate: 0.2, ErrorCode: 503, Latency: 50 * time.Millisecond}}},
				load:      &fakerun.Load{URL: "https://svc-abc-uc.a.run.app/", Rate: 20, Duration: time.Minute}},
		},
		{name: "success: FAKERUN_BEHAVIORS", env: map[string]string{"FAKERUN_BEHAVIORS": `{"revisions":{"svc-v1":{"backend":"http://127.0.0.1:9000"}}}`},
			want: config{addr: "127.0.0.1:8080", compat: defaultCompat, logLevel: slog.LevelInfo,
				behaviors: fakerun.Behaviors{Revisions: map[string]fakerun.Behavior{"svc-v1": {Backend: "http://127.0.0.1:9000"}}}}},
		{name: "success: job task behaviour", env: map[string]string{"FAKERUN_BEHAVIORS": `{"images":{"migrate:v3":{"task":{"duration":"30s","exitCode":1}}}}`},
			want: config{addr: "127.0.0.1:8080", compat: defaultCompat, logLevel: slog.LevelInfo,
				behaviors: fakerun.Behaviors{Images: map[string]fakerun.Behavior{"migrate:v3": {Task: fakerun.TaskBehavior{Duration: 30 * time.Second, ExitCode: 1}}}}}},
		{name: "fail: job task behaviour out of range", args: []string{"-behaviors", `{"images":{"x":{"task":{"failureRate":2}}}}`},
			wantErr: `flag -behaviors: images["x"]: field "task.failureRate": must be between 0 and 1, got 2`},
		{name: "fail: behaviour out of range", env: map[string]string{"FAKERUN_BEHAVIORS": `{"images":{"x":{"errorRate":2}}}`},
			wantErr: `FAKERUN_BEHAVIORS: images["x"]: field "errorRate": must be between 0 and 1, got 2`},
		{name: "fail: behaviour with an unknown field", args: []string{"-behaviors", `{"images":{"x":{"errorRat":1}}}`},
			wantErr: `flag -behaviors: json: unknown field "errorRat"`},
		{name: "fail: bad seed", args: []string{"-seed", "-1"}, wantErr: `flag -seed: invalid seed "-1"`},
		{name: "fail: bad invoker check", env: map[string]string{"FAKERUN_INVOKER_CHECK": "sometimes"}, wantErr: `FAKERUN_INVOKER_CHECK: invalid value "sometimes"; want true or false`},
		{name: "fail: bad ingestion delay", env: map[string]string{"FAKERUN_INGESTION_DELAY": "-1s"}, wantErr: `FAKERUN_INGESTION_DELAY: invalid ingestion delay "-1s"; want a non-negative duration such as 0s or 3m`},
		{name: "fail: bad retention", env: map[string]string{"FAKERUN_METRICS_RETENTION": "0s"}, wantErr: `FAKERUN_METRICS_RETENTION: invalid retention "0s"`},
		{name: "fail: load without a service URL", args: []string{"-load", `{"url":"http://localhost/","rate":1,"duration":"1s"}`},
			wantErr: `flag -load: field "url": want a service or tag URL`},
		{name: "fail: bad etag mismatch code", args: []string{"-etag-mismatch-code", "conflict"},
			wantErr: `flag -etag-mismatch-code: invalid etag mismatch code "conflict"; allowed: aborted, failed_precondition`},
		{name: "fail: bad compatibility bool", env: map[string]string{"FAKERUN_ALLOW_DELETED_REVISION_NAMES": "sometimes"},
			wantErr: `FAKERUN_ALLOW_DELETED_REVISION_NAMES: invalid value "sometimes"; want true or false`},
		{name: "fail: -addr with -port", args: []string{"-addr", "127.0.0.1:1", "-port", "2"}, wantErr: "flag -addr cannot be combined with -host or -port"},
		{name: "fail: port not a number", args: []string{"-port", "http"}, wantErr: `flag -port: invalid port "http"; want a number from 0 to 65535`},
		{name: "fail: port out of range", env: map[string]string{"FAKERUN_PORT": "70000"}, wantErr: `FAKERUN_PORT: invalid port "70000"`},
		{name: "fail: empty host", args: []string{"-host", ""}, wantErr: "flag -host: host must not be empty"},
		{name: "fail: address without port", env: map[string]string{"FAKERUN_ADDR": "localhost"}, wantErr: `FAKERUN_ADDR: invalid address "localhost"; want host:port`},
		{name: "fail: address without host", args: []string{"-addr", ":8080"}, wantErr: `flag -addr: address ":8080" has no host`},
		{name: "fail: bad readiness delay", env: map[string]string{"FAKERUN_READINESS_DELAY": "5"}, wantErr: `FAKERUN_READINESS_DELAY: invalid readiness delay "5"; want a non-negative duration`},
		{name: "fail: negative readiness delay", args: []string{"-readiness-delay", "-1s"}, wantErr: "flag -readiness-delay: invalid readiness delay"},
		{name: "fail: bad manual readiness", env: map[string]string{"FAKERUN_MANUAL_READINESS": "yes"}, wantErr: `FAKERUN_MANUAL_READINESS: invalid value "yes"; want true or false`},
		{name: "fail: bad log level", args: []string{"-log-level", "verbose"}, wantErr: `flag -log-level: invalid log level "verbose"; allowed: debug, info, warn, error`},
		{name: "fail: log level with offset", args: []string{"-log-level", "info+2"}, wantErr: "allowed: debug, info, warn, error"},
		{name: "fail: unknown flag", args: []string{"-verbose"}, wantErr: "flag provided but not defined: -verbose"},
		{name: "fail: positional argument", args: []string{"serve"}, wantErr: `unexpected arguments ["serve"]`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			want := tc.want
			if want.retention == 0 { // the case leaves the serving flags at their defaults
				want.seed, want.retention = 1, 24*time.Hour
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	t.Parallel()
	var usage strings.Builder
	_, err := parseConfig([]string{"-h"}, func(string) string { return "" }, &usage)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, usage.String(), "FAKERUN_READINESS_DELAY")
	assert.Contains(t, usage.String(), "-manual-readiness")
}
