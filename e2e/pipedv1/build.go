// Package pipedv1 runs PipeCD's real piped (pipedv1, built from the pipecd module e2e/go.mod pins) as an
// operator would: a piped.yaml naming the control plane, the piped key file, a git repository and the plugins
// by file:// URL. With package controlplane it drives plugins in tests exactly as production does.
package pipedv1

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// BinaryEnv names the environment variable that points at a prebuilt pipedv1; when it is set, Build returns it.
const BinaryEnv = "E2E_PIPED_BINARY"

// Package is the pipedv1 command in the pinned pipecd module.
const Package = "github.com/pipe-cd/pipecd/cmd/pipedv1"

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Build compiles pipedv1 from the module cache once per process (or returns $E2E_PIPED_BINARY) into a fresh
// temporary directory and returns its path; the Go build cache makes later runs link only.
func Build() (string, error) {
	buildOnce.Do(func() {
		if p := os.Getenv(BinaryEnv); p != "" {
			buildPath, buildErr = filepath.Abs(p)
			return
		}
		root, err := piped.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "pipedv1-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "pipedv1")
		cmd := exec.Command("go", "build", "-o", buildPath, Package)
		cmd.Dir = filepath.Join(root, "e2e")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build %s: %w\n%s", Package, err, out)
		}
	})
	return buildPath, buildErr
}
