// Package piped is a stand-in for PipeCD v1's piped, enough to drive a deployment plugin end to end: it starts the
// plugin binary as piped does, serves piped's real PluginService to it, plans deployments with piped's rules
// (controller.DetermineStrategy, plugin.PluginRegistry, deploysource.Provider) and schedules stages, rollback
// included. WAIT is run by the repository's wait plugin (e2e/cmd/waitplugin), installed beside the plugin as a
// real piped installs PipeCD's; WAIT_APPROVAL runs in-process. Like piped, it refuses to plan a stage no
// plugin defines.
package piped

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipe-cd/pipecd/pkg/app/pipedv1/plugin"
	"github.com/pipe-cd/pipecd/pkg/model"
	pluginapi "github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1"
	"github.com/pipe-cd/pipecd/pkg/rpc/rpcclient"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// Identity of the stand-in, sent in every deployment.
const (
	PipedID   = "e2e-piped"
	ProjectID = "e2e-project"
	RepoID    = "examples"
)

type options struct {
	binary        string
	waitBinary    string
	deployTargets []DeployTarget
	timeScale     float64
	grace         time.Duration
}

// Option configures a Piped.
type Option func(*options)

// WithPluginBinary runs the plugin binary at path instead of building it (see BuildPlugin).
func WithPluginBinary(path string) Option { return func(o *options) { o.binary = path } }

// WithDeployTargets sets the plugin's deploy targets. At least one is required.
func WithDeployTargets(dts ...DeployTarget) Option {
	return func(o *options) { o.deployTargets = append(o.deployTargets, dts...) }
}

// WithTimeScale multiplies every WAIT duration by f (e.g. 0.01 turns a 10s wait into 100ms): the wait plugin's
// timeScale config. Default 1.
func WithTimeScale(f float64) Option { return func(o *options) { o.timeScale = f } }

// WithGracePeriod sets how long Close waits after SIGTERM before killing the plugin. Default 10s.
func WithGracePeriod(d time.Duration) Option { return func(o *options) { o.grace = d } }

// Piped runs the plugin and the wait plugin as processes and drives deployments through them.
type Piped struct {
	opts     options
	cp       *controlPlane
	svc      *pluginService
	server   *grpc.Server
	proc     *process
	waitProc *process
	workDir  string
	builtin  *builtinStages
	logIndex atomic.Int64

	mu          sync.Mutex
	client      pluginapi.PluginClient
	waitClient  pluginapi.PluginClient
	registry    plugin.PluginRegistry
	crashed     bool
	lastSuccess map[string]*runningSource // key: application ID
	runs        map[string]*Run           // key: deployment ID
}

// runningSource is the last successful deployment of an application.
type runningSource struct {
	cloner         *dirCloner
	gitPath        *model.ApplicationGitPath
	configFilename string
}

// New starts piped's PluginService, then the plugin and the wait plugin, and waits until both serve.
func New(ctx context.Context, opts ...Option) (*Piped, error) {
	o := options{timeScale: 1, grace: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.deployTargets) == 0 {
		return nil, errors.New("piped: at least one deploy target is required (WithDeployTargets)")
	}
	if o.binary == "" {
		bin, err := BuildPlugin()
		if err != nil {
			return nil, err
		}
		o.binary = bin
	}
	if o.waitBinary == "" {
		bin, err := BuildWaitPlugin()
		if err != nil {
			return nil, err
		}
		o.waitBinary = bin
	}
	workDir, err := os.MkdirTemp("", "e2e-piped")
	if err != nil {
		return nil, err
	}
	p := &Piped{
		opts:        o,
		cp:          newControlPlane(),
		workDir:     workDir,
		lastSuccess: map[string]*runningSource{},
		runs:        map[string]*Run{},
	}
	p.logIndex.Store(time.Now().UnixNano())
	p.cp.onLog = p.dispatchLog
	p.builtin = &builtinStages{cp: p.cp, logf: p.builtinLog}

	svc, server, lis, err := servePluginService(p.cp, filepath.Join(workDir, "tools"), zap.NewNop())
	if err != nil {
		_ = os.RemoveAll(workDir)
		return nil, err
	}
	p.svc, p.server = svc, server
	p.proc = &process{
		binary:      o.binary,
		serviceAddr: lis.Addr().String(),
		grace:       o.grace,
		cfg: pluginConfig{
			Name:          pluginName,
			URL:           "file://" + o.binary,
			DeployTargets: o.deployTargets,
		},
	}
	p.waitProc = &process{
		binary:      o.waitBinary,
		serviceAddr: lis.Addr().String(),
		grace:       o.grace,
		cfg: pluginConfig{
			Name:   waitPluginName,
			URL:    "file://" + o.waitBinary,
			Config: map[string]any{"timeScale": o.timeScale},
		},
	}
	if err := p.startPlugins(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// pluginName is the Cloud Run plugin's name under spec.plugins, as in examples/piped-config.yaml.
const pluginName = "cloudrun"

// waitPluginName is the wait plugin's name under spec.plugins, as in examples/piped-config.yaml.
const waitPluginName = "wait"

// startPlugins starts the plugin and the wait plugin, connects to both and fetches their stages.
func (p *Piped) startPlugins(ctx context.Context) error {
	cli, err := connectPlugin(ctx, pluginName, p.proc)
	if err != nil {
		return err
	}
	waitCli, err := connectPlugin(ctx, waitPluginName, p.waitProc)
	if err != nil {
		_ = cli.Close()
		return err
	}
	registry, err := plugin.NewPluginRegistry(ctx, []plugin.Plugin{
		{Name: pluginName, Cli: cli},
		{Name: waitPluginName, Cli: waitCli},
		{Name: builtinPluginName, Cli: p.builtin},
	})
	if err != nil {
		_, _ = cli.Close(), waitCli.Close()
		return fmt.Errorf("failed to fetch the plugins' stages: %w\n%s%s", err, p.proc.logs(), p.waitProc.logs())
	}
	p.mu.Lock()
	p.client, p.waitClient, p.registry, p.crashed = cli, waitCli, registry, false
	p.mu.Unlock()
	return nil
}

// connectPlugin starts the plugin process and connects to it once it serves.
func connectPlugin(ctx context.Context, name string, proc *process) (pluginapi.PluginClient, error) {
	if err := proc.start(); err != nil {
		return nil, err
	}
	if err := proc.waitReady(ctx); err != nil {
		return nil, err
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cli, err := pluginapi.NewClient(dialCtx, name, proc.addr(), rpcclient.WithBlock(), rpcclient.WithInsecure())
	if err != nil {
		return nil, fmt.Errorf("failed to connect to the plugin %s: %w\n%s", name, err, proc.logs())
	}
	return cli, nil
}

// Close stops the plugins (SIGTERM, then SIGKILL after the grace period) and piped's PluginService.
func (p *Piped) Close() {
	p.closeClients()
	p.proc.stop()
	p.waitProc.stop()
	p.server.Stop()
	p.svc.removeTempDirs()
	_ = os.RemoveAll(p.workDir)
}

// PluginPID returns the process id of the running plugin.
func (p *Piped) PluginPID() int { return p.proc.pid() }

// PluginAddr returns the address of the running plugin's gRPC server.
func (p *Piped) PluginAddr() string { return p.proc.addr() }

// PluginOutput returns everything the plugin process(es) wrote to stdout and stderr, then the wait plugin's.
func (p *Piped) PluginOutput() string {
	return p.proc.logs() + "=== wait plugin\n" + p.waitProc.logs()
}

// PluginName returns the plugin name used in deploy_targets_by_plugin and spec.plugins.
func (p *Piped) PluginName() string { return pluginName }

// KillPlugin kills the plugin and the wait plugin with SIGKILL, as when the machine running piped and its
// plugins goes down: the stages in flight keep their status and their runs end as Terminated, to be continued
// with Run.Resume after RestartPlugin.
func (p *Piped) KillPlugin() {
	p.mu.Lock()
	p.crashed = true
	p.mu.Unlock()
	p.proc.kill()
	p.waitProc.kill()
}

// RestartPlugin starts the plugins again after KillPlugin (or a crash) and reconnects to them.
func (p *Piped) RestartPlugin(ctx context.Context) error {
	p.closeClients()
	for _, proc := range []*process{p.proc, p.waitProc} {
		select {
		case <-proc.done():
		default:
			return errors.New("piped: the plugin is still running; kill it first")
		}
	}
	return p.startPlugins(ctx)
}

func (p *Piped) closeClients() {
	p.mu.Lock()
	cli, waitCli := p.client, p.waitClient
	p.client, p.waitClient = nil, nil
	p.mu.Unlock()
	for _, c := range []pluginapi.PluginClient{cli, waitCli} {
		if c != nil {
			_ = c.Close()
		}
	}
}

func (p *Piped) isCrashed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.crashed
}

func (p *Piped) pluginRegistry() plugin.PluginRegistry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.registry
}

func (p *Piped) dispatchLog(deploymentID, stageID string, line LogLine) {
	p.mu.Lock()
	r := p.runs[deploymentID]
	p.mu.Unlock()
	if r != nil {
		r.onLog(stageID, line)
	}
}

func (p *Piped) builtinLog(deploymentID, stageID string, severity model.LogSeverity, format string, args ...any) {
	block := &model.LogBlock{
		Index:     p.logIndex.Add(1),
		Log:       fmt.Sprintf(format, args...),
		Severity:  severity,
		CreatedAt: time.Now().Unix(),
	}
	p.cp.addBlocks(deploymentID, stageID, []*model.LogBlock{block})
}
