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
	mu    sync.Mutex
	lines []string
}

func (l *recordLog) add(s string)                     { l.mu.Lock(); l.lines = append(l.lines, s); l.mu.Unlock() }
func (l *recordLog) Write(b []byte) (int, error)      { l.add(string(b)); return len(b), nil }
func (l *recordLog) Info(s string)                    { l.add(s) }
func (l *recordLog) Infof(format string, a ...any)    { l.add(fmt.Sprintf(format, a...)) }
func (l *recordLog) Success(s string)                 { l.add(s) }
func (l *recordLog) Successf(format string, a ...any) { l.add(fmt.Sprintf(format, a...)) }
func (l *recordLog) Error(s string)                   { l.add(s) }
func (l *recordLog) Errorf(format string, a ...any)   { l.add(fmt.Sprintf(format, a...)) }
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
