package piped

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/deployment"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// PluginBinaryEnv names the environment variable that points at a prebuilt plugin binary; when it is set,
// BuildPlugin returns it instead of compiling the plugin.
const PluginBinaryEnv = "E2E_PLUGIN_BINARY"

// WaitPluginBinaryEnv names the environment variable that points at a prebuilt wait plugin; when it is set,
// BuildWaitPlugin returns it instead of compiling e2e/cmd/waitplugin.
const WaitPluginBinaryEnv = "E2E_WAIT_PLUGIN_BINARY"

var (
	pluginBuild     = binaryBuild{env: PluginBinaryEnv, module: "plugin", pkg: ".", name: "cloudrun-plugin"}
	waitPluginBuild = binaryBuild{env: WaitPluginBinaryEnv, module: "e2e", pkg: "./cmd/waitplugin", name: "wait-plugin"}
)

// BuildPlugin compiles the plugin binary once per process (or returns $E2E_PLUGIN_BINARY) and returns its path.
func BuildPlugin() (string, error) { return pluginBuild.get() }

// BuildWaitPlugin compiles the repository's WAIT stage plugin (e2e/cmd/waitplugin) once per process (or returns
// $E2E_WAIT_PLUGIN_BINARY) and returns its path.
func BuildWaitPlugin() (string, error) { return waitPluginBuild.get() }

// binaryBuild compiles one package of the workspace into a temporary directory, once.
type binaryBuild struct {
	env, module, pkg, name string

	once sync.Once
	path string
	err  error
}

func (b *binaryBuild) get() (string, error) {
	b.once.Do(func() {
		if p := os.Getenv(b.env); p != "" {
			b.path, b.err = filepath.Abs(p)
			return
		}
		root, err := RepoRoot()
		if err != nil {
			b.err = err
			return
		}
		dir, err := os.MkdirTemp("", b.name+"-bin")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, b.name)
		cmd := exec.Command("go", "build", "-o", b.path, b.pkg)
		cmd.Dir = filepath.Join(root, b.module)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("failed to build %s: %w\n%s", b.name, err, out)
		}
	})
	return b.path, b.err
}

// RepoRoot returns the repository root: the closest parent of the working directory that holds go.work.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work found above the working directory")
		}
		dir = parent
	}
}

// pluginConfig is the JSON that piped passes with --config (config.PipedPlugin).
type pluginConfig struct {
	Name          string         `json:"name"`
	URL           string         `json:"url"`
	Port          int            `json:"port"`
	Config        map[string]any `json:"config,omitempty"`
	DeployTargets []DeployTarget `json:"deployTargets"`
}

// DeployTarget is one deploy target of the plugin, as written under spec.plugins[].deployTargets in piped.yaml.
type DeployTarget struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Config map[string]any    `json:"config"`
}

// process is a running plugin binary, started exactly as piped starts it.
type process struct {
	binary      string
	serviceAddr string
	cfg         pluginConfig
	grace       time.Duration

	mu     sync.Mutex
	cmd    *exec.Cmd
	output *syncBuffer
	exited chan struct{}
}

func (p *process) start() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	p.cfg.Port = port
	cfg, err := json.Marshal(p.cfg)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.binary, "start", "--piped-plugin-service", p.serviceAddr, "--config", string(cfg))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.output == nil {
		p.output = &syncBuffer{}
	}
	_, _ = fmt.Fprintf(p.output, "=== plugin started on port %d\n", port)
	cmd.Stdout = p.output
	cmd.Stderr = p.output
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to start the plugin %s: %w", p.binary, err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		_, _ = fmt.Fprintf(p.output, "=== plugin exited: %v\n", err)
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	return nil
}

func (p *process) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.cfg.Port))
}

// pid returns the process id of the running plugin.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

func (p *process) done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// stop sends SIGTERM and kills the process when it has not exited after the grace period.
func (p *process) stop() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(p.grace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// kill sends SIGKILL and waits for the process to exit.
func (p *process) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	_ = cmd.Process.Kill()
	<-exited
}

func (p *process) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.output == nil {
		return ""
	}
	return p.output.String()
}

// waitReady waits until the plugin answers on its port, failing early when the process exits.
func (p *process) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	exited := p.done()
	for {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.addr())
		if err == nil {
			_ = conn.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("the plugin exited before serving:\n%s", p.logs())
		case <-ctx.Done():
			return fmt.Errorf("the plugin did not serve on %s: %w\n%s", p.addr(), ctx.Err(), p.logs())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// MeasurePluginStartup starts another copy of the plugin with the running one's binary and config on a free
// port, and returns the time from starting its process to its answer to a first RPC (FetchDefinedStages,
// sent as soon as its port accepts a connection, which is tried every millisecond). The copy is stopped
// before returning.
func (p *Piped) MeasurePluginStartup(ctx context.Context) (time.Duration, error) {
	proc := &process{binary: p.proc.binary, serviceAddr: p.proc.serviceAddr, grace: p.proc.grace, cfg: p.proc.cfg}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := proc.start(); err != nil {
		return 0, err
	}
	defer proc.stop()
	for {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", proc.addr())
		if err == nil {
			_ = conn.Close()
			break
		}
		select {
		case <-proc.done():
			return 0, fmt.Errorf("the plugin exited before serving:\n%s", proc.logs())
		case <-ctx.Done():
			return 0, fmt.Errorf("the plugin did not serve on %s: %w\n%s", proc.addr(), ctx.Err(), proc.logs())
		case <-time.After(time.Millisecond):
		}
	}
	conn, err := grpc.NewClient(proc.addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close() }()
	if _, err := deployment.NewDeploymentServiceClient(conn).FetchDefinedStages(ctx, &deployment.FetchDefinedStagesRequest{}, grpc.WaitForReady(true)); err != nil {
		return 0, fmt.Errorf("the plugin did not answer FetchDefinedStages: %w\n%s", err, proc.logs())
	}
	return time.Since(start), nil
}
