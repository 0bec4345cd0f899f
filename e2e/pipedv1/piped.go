package pipedv1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// Plugin is one entry of piped.yaml's spec.plugins. Port 0 takes a free port.
type Plugin struct {
	Name string `json:"name"`
	// URL is where piped installs the plugin from: file://, https:// or oci://.
	URL           string               `json:"url"`
	Port          int                  `json:"port"`
	Config        map[string]any       `json:"config,omitempty"`
	DeployTargets []piped.DeployTarget `json:"deployTargets,omitempty"`
}

// FileURL is the file:// URL of a binary, as piped.yaml names a local plugin.
func FileURL(path string) string { return "file://" + path }

// Config is what a piped is started with.
type Config struct {
	// Binary is pipedv1 (default: Build).
	Binary string
	// ControlPlane is the apiAddress (host:port, insecure).
	ControlPlane string
	ProjectID    string
	PipedID      string
	PipedKey     string
	// RepoID names Repo in piped.yaml's repositories (default "examples").
	RepoID string
	Repo   *Repo
	// SyncInterval is how often the trigger looks for new commits (default 1m, piped's own).
	SyncInterval time.Duration
	Plugins      []Plugin
}

// DefaultRepoID is the repository ID of a Config without one.
const DefaultRepoID = "examples"

// Piped is a running pipedv1 with its plugins. Stop ends it.
type Piped struct {
	// Dir holds piped.yaml, the key file, piped's home (where it installs plugins) and its tools.
	Dir string
	// ConfigFile is the piped.yaml piped was started with.
	ConfigFile string
	// AdminPort and PluginServicePort are piped's own ports.
	AdminPort, PluginServicePort int

	cmd    *exec.Cmd
	output *syncBuffer
	exited chan struct{}
}

// Start writes piped.yaml into dir and starts piped as an operator runs it:
// `pipedv1 piped --config-file piped.yaml --insecure --admin-port N --plugin-service-port N --tools-dir DIR`.
// piped's output, and its plugins', is kept (Output).
func Start(ctx context.Context, dir string, cfg Config) (*Piped, error) {
	if cfg.Binary == "" {
		bin, err := Build()
		if err != nil {
			return nil, err
		}
		cfg.Binary = bin
	}
	if cfg.RepoID == "" {
		cfg.RepoID = DefaultRepoID
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = time.Minute
	}
	ports, err := freePorts(2 + len(cfg.Plugins))
	if err != nil {
		return nil, err
	}
	p := &Piped{Dir: dir, AdminPort: ports[0], PluginServicePort: ports[1], output: &syncBuffer{}, exited: make(chan struct{})}
	for i := range cfg.Plugins {
		if cfg.Plugins[i].Port == 0 {
			cfg.Plugins[i].Port = ports[2+i]
		}
	}
	if p.ConfigFile, err = writeConfig(dir, cfg); err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "home")
	tools := filepath.Join(dir, "tools")
	for _, d := range []string{home, tools} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	p.cmd = exec.Command(cfg.Binary, "piped",
		"--config-file", p.ConfigFile,
		"--insecure",
		"--admin-port", strconv.Itoa(p.AdminPort),
		"--plugin-service-port", strconv.Itoa(p.PluginServicePort),
		"--tools-dir", tools,
		"--grace-period", "5s",
		"--log-encoding", "console",
		"--metrics=false",
	)
	// Its own home: piped installs each plugin into ~/.piped/plugins/<name>, shared by every piped of a home.
	p.cmd.Env = append(os.Environ(), "HOME="+home)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	// Plugins outliving piped (a crash) keep its output open: Wait must not wait for them.
	p.cmd.WaitDelay = time.Second
	// A process group of its own, so that Stop also reaches the plugins piped started.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-p.exited:
		return nil, fmt.Errorf("piped exited at start:\n%s", p.Output())
	case <-ctx.Done():
	default:
	}
	return p, nil
}

// writeConfig writes the piped key file and piped.yaml into dir and returns piped.yaml's path.
func writeConfig(dir string, cfg Config) (string, error) {
	keyFile := filepath.Join(dir, "piped-key")
	if err := os.WriteFile(keyFile, []byte(cfg.PipedKey), 0o600); err != nil {
		return "", err
	}
	doc := map[string]any{
		"apiVersion": "pipecd.dev/v1beta1",
		"kind":       "Piped",
		"spec": map[string]any{
			"projectID":    cfg.ProjectID,
			"pipedID":      cfg.PipedID,
			"pipedKeyFile": keyFile,
			"apiAddress":   cfg.ControlPlane,
			"syncInterval": cfg.SyncInterval.String(),
			"repositories": []map[string]string{{"repoId": cfg.RepoID, "remote": cfg.Repo.Remote(), "branch": Branch}},
			"plugins":      cfg.Plugins,
		},
	}
	y, err := yaml.Marshal(doc)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "piped.yaml")
	return path, os.WriteFile(path, y, 0o644)
}

// Output is what piped and its plugins printed so far.
func (p *Piped) Output() string { return p.output.String() }

// Exited is closed when the piped process has ended.
func (p *Piped) Exited() <-chan struct{} { return p.exited }

// Stop sends piped SIGTERM (piped then stops its plugins) and, after grace, kills what is left of its process
// group.
func (p *Piped) Stop(grace time.Duration) error {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
	}
	// Plugins piped did not stop in time, or piped itself.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	<-p.exited
	return nil
}

// Ports are drawn below Linux's ephemeral range (32768 and up), where the kernel never assigns one: a port
// checked free here is released before piped or its plugin binds it, and in that gap a kernel-chosen port
// (another process's connection or :0 listener) could otherwise take it.
const (
	minPort = 20000
	maxPort = 32768
)

// freePorts returns n distinct ports free on all interfaces (plugins listen on ":port").
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lis []net.Listener
	defer func() {
		for _, l := range lis {
			_ = l.Close()
		}
	}()
	for attempts := 0; len(ports) < n; attempts++ {
		if attempts > 1000 {
			return nil, fmt.Errorf("no %d free ports in [%d, %d)", n, minPort, maxPort)
		}
		port := minPort + rand.IntN(maxPort-minPort)
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		lis = append(lis, l)
		ports = append(ports, port)
	}
	return ports, nil
}

// syncBuffer is a bytes.Buffer safe for the process's writers and readers.
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
