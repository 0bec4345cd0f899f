package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// deployTarget builds a deploy target the way the SDK does: by unmarshalling piped's JSON.
func deployTarget(t *testing.T, name, raw string) *DeployTarget {
	t.Helper()
	var cfg config.RawDeployTargetConfig
	require.NoError(t, json.Unmarshal([]byte(raw), &cfg))
	return &DeployTarget{Name: name, Config: cfg}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		raw     string
		want    config.DeployTargetConfig
		wantErr string
	}{
		{name: "success: project and region", raw: `{"project": "p", "region": "us-central1"}`, want: config.DeployTargetConfig{Project: "p", Region: "us-central1"}},
		{name: "fail: region missing", raw: `{"project": "p"}`, wantErr: `deploy target dt in piped.yaml: `},
		{name: "fail: unknown field", raw: `{"project": "p", "region": "us-central1", "zone": "a"}`, wantErr: `"zone"`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode(deployTarget(t, "dt", tc.raw))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// recordLog is a stage log that keeps its lines.
type recordLog struct {
	mu     sync.Mutex
	lines  []string
	errors []bool // whether each line was logged as an error
}

func (l *recordLog) add(s string, isError bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	l.errors = append(l.errors, isError)
}
func (l *recordLog) Write(b []byte) (int, error)      { l.add(string(b), false); return len(b), nil }
func (l *recordLog) Info(s string)                    { l.add(s, false) }
func (l *recordLog) Infof(format string, a ...any)    { l.add(fmt.Sprintf(format, a...), false) }
func (l *recordLog) Success(s string)                 { l.add(s, false) }
func (l *recordLog) Successf(format string, a ...any) { l.add(fmt.Sprintf(format, a...), false) }
func (l *recordLog) Error(s string)                   { l.add(s, true) }
func (l *recordLog) Errorf(format string, a ...any)   { l.add(fmt.Sprintf(format, a...), true) }

// levelled is the log with "ERROR " or "INFO " before every line.
func (l *recordLog) levelled() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.lines))
	for i, line := range l.lines {
		out[i] = map[bool]string{true: "ERROR ", false: "INFO "}[l.errors[i]] + line
	}
	return out
}
func (l *recordLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func TestForEach(t *testing.T) {
	t.Parallel()
	registry := provider.NewRegistry()
	t.Cleanup(func() { _ = registry.Close() })
	good := func(name string) *DeployTarget {
		return deployTarget(t, name, `{"project": "p", "region": "us-central1", "endpoint": "127.0.0.1:1", "insecure": true}`)
	}

	lp := &recordLog{}
	status := ForEach(t.Context(), registry, lp, nil, func(context.Context, *Target) error { return nil })
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, lp.text(), "no deploy target")

	lp = &recordLog{}
	var ran atomic.Int32
	status = ForEach(t.Context(), registry, lp, []*DeployTarget{good("dt1"), deployTarget(t, "dt-bad", `{"project": "p"}`)}, func(context.Context, *Target) error {
		ran.Add(1)
		return nil
	})
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Zero(t, ran.Load(), "nothing runs when one target cannot be used")
	assert.Contains(t, lp.text(), `[dt-bad] deploy target dt-bad in piped.yaml: deploy target config: field "region": is required`)

	lp = &recordLog{}
	status = ForEach(t.Context(), registry, lp, []*DeployTarget{good("dt1"), good("dt2")}, func(_ context.Context, tg *Target) error {
		tg.Log.Infof("project %s", tg.Config.Project)
		if tg.Name == "dt2" {
			panic("boom")
		}
		return nil
	})
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, lp.text(), "[dt1] project p")
	assert.Contains(t, lp.text(), "[dt2] internal error (this is a bug, please report it): boom")

	lp = &recordLog{}
	status = ForEach(t.Context(), registry, lp, []*DeployTarget{good("dt1")}, func(_ context.Context, tg *Target) error {
		tg.Log.Info("one target: no prefix")
		return errors.New("it failed")
	})
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Equal(t, "one target: no prefix\nit failed", lp.text())

	status = ForEach(t.Context(), registry, &recordLog{}, []*DeployTarget{good("dt1"), good("dt2")}, func(context.Context, *Target) error { return nil })
	assert.Equal(t, sdk.StageStatusSuccess, status)
}

func TestForEach_AFailureComesBeforeTheTargetsItStopped(t *testing.T) {
	t.Parallel()
	registry := provider.NewRegistry()
	t.Cleanup(func() { _ = registry.Close() })
	good := func(name string) *DeployTarget {
		return deployTarget(t, name, `{"project": "p", "region": "us-central1", "endpoint": "127.0.0.1:1", "insecure": true}`)
	}
	lp := &recordLog{}
	ctx, stop := context.WithCancelCause(t.Context())
	defer stop(nil)
	status := ForEach(ctx, registry, lp, []*DeployTarget{good("dt1"), good("dt2")}, func(ctx context.Context, tg *Target) error {
		if tg.Name == "dt2" {
			stop(Stopped{Reason: "deploy target dt2 failed"})
			return errors.New("the new revision failed")
		}
		<-ctx.Done()
		return fmt.Errorf("stopped waiting: %w", context.Cause(ctx))
	})
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Equal(t, []string{"ERROR [dt2] the new revision failed", "INFO [dt1] stopped waiting: deploy target dt2 failed"}, lp.levelled())
}
