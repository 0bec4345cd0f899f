package deployment

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/status"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

const (
	testProject = "proj"
	testRegion  = "asia-northeast1"
)

// newFake starts a fakerun server that is closed when the test ends.
func newFake(t *testing.T, opts ...fakerun.Option) *fakerun.Server {
	t.Helper()
	srv, err := fakerun.NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// memStore is an in-memory metadataStore.
type memStore struct {
	mu         sync.Mutex
	deployment map[string]string
	stage      map[string]string
}

func newMemStore() *memStore {
	return &memStore{deployment: map[string]string{}, stage: map[string]string{}}
}

func (m *memStore) GetDeploymentPluginMetadata(_ context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.deployment[key]
	return v, ok, nil
}

func (m *memStore) PutDeploymentPluginMetadata(_ context.Context, key, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deployment[key] = value
	return nil
}

func (m *memStore) GetStageMetadata(_ context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.stage[key]
	return v, ok, nil
}

// PutStageMetadata fails on a cancelled context as piped's gRPC metadata store does: with a gRPC status,
// which is not context.Canceled.
func (m *memStore) PutStageMetadata(ctx context.Context, key, value string) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stage[key] = value
	return nil
}

// recordLog is a stage log that keeps its lines for assertions and echoes them to the test log.
type recordLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
	// onLine, when set, sees each line as the stage writes it: a test acts at a point of the stage with it.
	onLine func(line string)
}

func (l *recordLog) add(level, s string) {
	l.mu.Lock()
	l.lines = append(l.lines, level+" "+s)
	l.mu.Unlock()
	l.t.Log(level, s)
	if l.onLine != nil {
		l.onLine(level + " " + s)
	}
}

func (l *recordLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// firstError is the first line of the first error the stage logged: what a user reads first.
func (l *recordLog) firstError() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if text, ok := strings.CutPrefix(line, "ERROR "); ok {
			first, _, _ := strings.Cut(text, "\n")
			return first
		}
	}
	return ""
}

func (l *recordLog) Write(b []byte) (int, error)      { l.add("INFO", string(b)); return len(b), nil }
func (l *recordLog) Info(s string)                    { l.add("INFO", s) }
func (l *recordLog) Infof(format string, a ...any)    { l.add("INFO", fmt.Sprintf(format, a...)) }
func (l *recordLog) Success(s string)                 { l.add("SUCCESS", s) }
func (l *recordLog) Successf(format string, a ...any) { l.add("SUCCESS", fmt.Sprintf(format, a...)) }
func (l *recordLog) Error(s string)                   { l.add("ERROR", s) }
func (l *recordLog) Errorf(format string, a ...any)   { l.add("ERROR", fmt.Sprintf(format, a...)) }

// env is one deployment under test: a plugin, its metadata, deploy targets on fakes, and the application.
type env struct {
	t      *testing.T
	plugin *Plugin
	store  *memStore
	fakes  []*fakerun.Server
	dts    []*sdk.DeployTarget[config.RawDeployTargetConfig]
	// app is the app.pipecd.yaml content; service the content of the manifest, manifestFile (default
	// service.yaml).
	app, service string
	manifestFile string
	// files are more files of the application directory, by name.
	files  map[string]string
	commit string
	// logger is the plugin's log; default zaptest's.
	logger *zap.Logger
	// onLine, when set, sees each stage log line as it is written (see recordLog).
	onLine func(line string)
	// runningCommit, runningApp and runningService are the commit and files of the previous deployment.
	runningCommit, runningApp, runningService string
}

// newEnv returns an env with one deploy target per fake.
func newEnv(t *testing.T, fakes ...*fakerun.Server) *env {
	t.Helper()
	e := &env{
		t: t,
		plugin: &Plugin{
			registry:       provider.NewRegistry(provider.WithRetry(time.Millisecond, 5*time.Millisecond, 4), provider.WithPollInterval(5*time.Millisecond)),
			pollInterval:   5 * time.Millisecond,
			writeAttempts:  defaultWriteAttempts,
			rollbackBudget: 300 * time.Millisecond,
		},
		store: newMemStore(),
		fakes: fakes,
	}
	e.plugin.metadata = func(*sdk.Client) metadataStore { return e.store }
	t.Cleanup(func() { _ = e.plugin.registry.Close() })
	for i, f := range fakes {
		e.addTarget(fmt.Sprintf("dt%d", i+1), fmt.Sprintf(`{"project": %q, "region": %q, "endpoint": %q, "insecure": true}`, testProject, testRegion, f.Addr()))
	}
	return e
}

func (e *env) addTarget(name, raw string) {
	var cfg config.RawDeployTargetConfig
	require.NoError(e.t, json.Unmarshal([]byte(raw), &cfg))
	e.dts = append(e.dts, &sdk.DeployTarget[config.RawDeployTargetConfig]{Name: name, Config: cfg})
}

const quickSyncApp = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: web
  plugins:
    cloudrun:
      input:
        serviceManifestFile: service.yaml
`

const canaryApp = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: web
  pipeline:
    stages:
      - name: CLOUDRUN_SYNC
        with:
          skipTrafficShift: true
          tag: true
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 10
      - name: CLOUDRUN_CANARY_CLEANUP
  plugins:
    cloudrun:
      input:
        serviceManifestFile: service.yaml
`

func serviceYAML(image string) string {
	return fmt.Sprintf(`name: web
template:
  containers:
    - image: %s
      ports:
        - containerPort: 8080
`, image)
}

// source writes the application files into a fresh directory and returns its deployment source.
func (e *env) source(commit, app, service string) sdk.DeploymentSource[config.RawApplicationSpec] {
	e.t.Helper()
	dir := e.t.TempDir()
	require.NoError(e.t, os.WriteFile(filepath.Join(dir, "app.pipecd.yaml"), []byte(app), 0o600))
	file := "service.yaml"
	if e.manifestFile != "" {
		file = e.manifestFile
	}
	require.NoError(e.t, os.WriteFile(filepath.Join(dir, file), []byte(service), 0o600))
	for name, content := range e.files {
		require.NoError(e.t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	return sdk.DeploymentSource[config.RawApplicationSpec]{
		ApplicationDirectory:      dir,
		CommitHash:                commit,
		ApplicationConfig:         sdk.LoadApplicationConfigForTest[config.RawApplicationSpec](e.t, filepath.Join(dir, "app.pipecd.yaml"), "cloudrun"),
		ApplicationConfigFilename: "app.pipecd.yaml",
	}
}

// deploy starts a new deployment of commit: fresh metadata, the given files.
func (e *env) deploy(commit, app, service string) {
	e.store = newMemStore()
	e.runningCommit, e.runningApp, e.runningService = e.commit, e.app, e.service
	e.commit, e.app, e.service = commit, app, service
}

// run executes a stage of the current deployment and returns its status and log.
func (e *env) run(stage string, stageConfig string, stageMetadata map[string]string) (sdk.StageStatus, *recordLog) {
	e.t.Helper()
	return e.runCtx(e.t.Context(), stage, stageConfig, stageMetadata)
}

// runCtx is run under ctx, which stands for the stage context piped gives (with its stage timeout).
func (e *env) runCtx(ctx context.Context, stage string, stageConfig string, stageMetadata map[string]string) (sdk.StageStatus, *recordLog) {
	e.t.Helper()
	for k, v := range stageMetadata {
		e.store.stage[k] = v
	}
	lp := &recordLog{t: e.t, onLine: e.onLine}
	running := sdk.DeploymentSource[config.RawApplicationSpec]{CommitHash: e.runningCommit}
	if e.runningCommit != "" {
		running = e.source(e.runningCommit, e.runningApp, e.runningService)
	}
	input := &sdk.ExecuteStageInput[config.RawApplicationSpec]{
		Request: sdk.ExecuteStageRequest[config.RawApplicationSpec]{
			StageName:               stage,
			StageConfig:             []byte(stageConfig),
			TargetDeploymentSource:  e.source(e.commit, e.app, e.service),
			RunningDeploymentSource: running,
			Deployment:              sdk.Deployment{ID: "deploy-" + e.commit, ApplicationID: "app-1", ApplicationName: "web", PipedID: "piped-1"},
		},
		Client: sdk.NewClient(nil, "cloudrun", "app-1", "stage-1", lp, nil),
		Logger: cmp.Or(e.logger, zaptest.NewLogger(e.t)),
	}
	resp, err := e.plugin.ExecuteStage(ctx, &config.PluginConfig{}, e.dts, input)
	require.NoError(e.t, err)
	require.NotNil(e.t, resp)
	return resp.Status, lp
}

// quick is the stage metadata of a quick-sync stage.
var quick = map[string]string{quickSyncMetadataKey: "true"}

func serviceName() string {
	return naming.ServiceName(testProject, testRegion, "web")
}

// trafficOf returns the traffic of the service in fake f as "revision:percent[:tag]" strings.
func trafficOf(t *testing.T, f *fakerun.Server) []string {
	t.Helper()
	svc, err := f.Service(serviceName())
	require.NoError(t, err)
	return describeTraffic(svc.GetTraffic())
}

func describeTraffic(traffic []*runpb.TrafficTarget) []string {
	var out []string
	for _, tt := range traffic {
		rev := tt.GetRevision()
		if tt.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST {
			rev = "LATEST"
		}
		s := fmt.Sprintf("%s:%d", rev, tt.GetPercent())
		if tt.GetTag() != "" {
			s += ":" + tt.GetTag()
		}
		out = append(out, s)
	}
	return out
}

// callCounts counts the calls the fake received per method, after since calls.
func callCounts(f *fakerun.Server) map[string]int {
	counts := map[string]int{}
	for _, c := range f.Calls() {
		counts[c.Method]++
	}
	return counts
}
