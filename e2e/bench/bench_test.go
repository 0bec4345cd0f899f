// Package bench measures the plugin end to end against fakerun and prints the figures. It only runs when
// E2E_BENCH is set:
//
//	E2E_BENCH=1 go -C e2e test -count=1 -v ./bench/
package bench

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// pollMethods are the calls a plugin makes while waiting for readiness.
var pollMethods = []string{"GetOperation", "WaitOperation", "GetRevision", "GetService"}

type bench struct {
	t   *testing.T
	srv *fakerun.Server
	pd  *piped.Piped
	app string
	// targets are the names of the plugin's deploy targets.
	targets []string
}

// newBench runs the plugin with one deploy target on a new fakerun.
func newBench(t *testing.T, opts ...fakerun.Option) *bench {
	t.Helper()
	return newBenchTargets(t, 1, opts...)
}

// newBenchTargets runs the plugin with n deploy targets on a new fakerun, each its own project.
func newBenchTargets(t *testing.T, n int, opts ...fakerun.Option) *bench {
	t.Helper()
	if os.Getenv("E2E_BENCH") == "" {
		t.Skip("set E2E_BENCH=1 to run the measurements")
	}
	gomega.RegisterTestingT(t) // the framework's helpers fail t
	fr, err := target.NewFakerun(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, fr.Close()) })
	dts := []piped.DeployTarget{{Name: framework.LocalDeployTarget, Config: fr.DeployTargetConfig(fr.Region())}}
	for i := 1; i < n; i++ {
		cfg := fr.DeployTargetConfig(fr.Region())
		cfg["project"] = fmt.Sprintf("%s-%02d", fr.Project(), i)
		dts = append(dts, piped.DeployTarget{Name: fmt.Sprintf("dt-%02d", i), Config: cfg})
	}
	pd, err := piped.New(t.Context(), framework.PipedOptions("", dts...)...)
	require.NoError(t, err)
	t.Cleanup(pd.Close)
	b := &bench{t: t, srv: fr.Server(), pd: pd, app: framework.AppDir("canary")}
	for _, dt := range dts {
		b.targets = append(b.targets, dt.Name)
	}
	return b
}

// files returns the canary example renamed to service name at image (a tag of Google's sample image).
func (b *bench) files(name, image string) map[string]string {
	return framework.CanaryNamed(name, "us-docker.pkg.dev/cloudrun/container/hello:"+image)
}

// stageCalls returns a recorder of the Cloud Run calls made during each stage.
func (b *bench) stageCalls() *framework.Recorder {
	return framework.NewRecorder(framework.RecorderInput{Calls: b.srv.Calls})
}

func countBy(calls []fakerun.Call) (polls int, others map[string]int) {
	others = map[string]int{}
	for _, c := range calls {
		if slices.Contains(pollMethods, c.Method) {
			polls++
		}
		others[c.Method]++
	}
	return polls, others
}

func (b *bench) deploy(d piped.Deployment) *piped.Result {
	res, err := b.pd.Deploy(b.t.Context(), d)
	require.NoError(b.t, err)
	return res
}

func printCalls(title string, rows []framework.Snapshot) {
	fmt.Printf("\n%s\n", title)
	for _, r := range rows {
		_, by := countBy(r.Calls)
		var parts []string
		for m, n := range by {
			parts = append(parts, fmt.Sprintf("%s×%d", m, n))
		}
		slices.Sort(parts)
		fmt.Printf("  %-25s %-8s %2d calls: %s\n", r.Stage.Name, strings.TrimPrefix(r.Stage.Status.String(), "STAGE_"), len(r.Calls), strings.Join(parts, " "))
	}
}

func TestRPCsPerStage(t *testing.T) {
	b := newBench(t)
	b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v1")})
	rec := b.stageCalls()
	res := b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v2"), Hooks: rec.Hooks(piped.Hooks{})})
	require.Equal(t, model.DeploymentStatus_DEPLOYMENT_SUCCESS, res.Status, "%s", res.Report())
	printCalls("Cloud Run RPCs per stage of the canary pipeline (readiness delay 0):", rec.Snapshots())

	rec = b.stageCalls()
	hooks := rec.Hooks(piped.Hooks{OnStageStart: func(r *piped.Run, s piped.StageRecord) {
		if s.Index == 3 && !s.Rollback {
			r.Cancel()
		}
	}})
	res = b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v3"), Hooks: hooks})
	require.Equal(t, model.DeploymentStatus_DEPLOYMENT_CANCELLED, res.Status, "%s", res.Report())
	printCalls("Cloud Run RPCs per stage of a canary cancelled at the second PROMOTE:", rec.Snapshots())

	for _, v := range []string{"v4", "v5", "v6"} {
		b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", v), SyncStrategy: model.SyncStrategy_QUICK_SYNC})
	}
	rec = b.stageCalls()
	res = b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v7"), Hooks: rec.Hooks(piped.Hooks{})})
	require.Equal(t, model.DeploymentStatus_DEPLOYMENT_SUCCESS, res.Status, "%s", res.Report())
	rows := rec.Snapshots()
	printCalls("Cloud Run RPCs per stage of a canary whose cleanup deletes revisions:", rows[len(rows)-1:])
}

func TestReadinessDetectionLag(t *testing.T) {
	const delay = 10 * time.Second
	b := newBench(t)
	b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v1")})
	b.srv.SetReadinessDelay(delay)
	rec := b.stageCalls()
	hooks := rec.Hooks(piped.Hooks{OnStageEnd: func(r *piped.Run, s piped.StageRecord) {
		if s.Name == "CLOUDRUN_SYNC" {
			r.Cancel()
		}
	}})
	res := b.deploy(piped.Deployment{AppDir: b.app, Files: b.files("canary", "v2"), Hooks: hooks})
	sync := rec.Snapshots()[0]
	require.Equal(t, "CLOUDRUN_SYNC", sync.Stage.Name, "%s", res.Report())
	var created time.Time
	for _, c := range sync.Calls {
		if c.Method == "UpdateService" || c.Method == "CreateService" {
			created = c.Time
			break
		}
	}
	require.False(t, created.IsZero(), "SYNC made no UpdateService call")
	ready := created.Add(delay)
	var detected time.Time
	polls := 0
	for _, c := range sync.Calls {
		if slices.Contains(pollMethods, c.Method) {
			polls++
			if detected.IsZero() && !c.Time.Before(ready) {
				detected = c.Time
			}
		}
	}
	require.False(t, detected.IsZero(), "no readiness poll after the revision became ready")
	fmt.Printf("\nReadiness detection with a %s readiness delay:\n", delay)
	fmt.Printf("  first poll after the revision became ready: %s late; %d readiness polls during SYNC; SYNC took %s\n",
		detected.Sub(ready).Round(time.Millisecond), polls, sync.Stage.Latency().Round(time.Millisecond))
}
