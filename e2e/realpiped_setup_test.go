package e2e

import (
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/pipedv1"
)

// realPipedLabel labels the specs that run on the real piped (pipedv1) and the in-memory control plane.
const realPipedLabel = "piped"

// realPipedBinaries are what the specs on the real piped install: pipedv1 and the wait plugin.
type realPipedBinaries struct {
	Piped, WaitPlugin string
}

// buildRealPiped starts building pipedv1 and the wait plugin when the label filter selects specs labelled
// piped, and returns a function waiting for the result (empty paths when none is selected).
func buildRealPiped() func() realPipedBinaries {
	GinkgoHelper()
	if !Label(realPipedLabel).MatchesLabelFilter(GinkgoLabelFilter()) {
		return func() realPipedBinaries { return realPipedBinaries{} }
	}
	type result struct {
		bins realPipedBinaries
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.bins.WaitPlugin, r.err = buildWaitPlugin()
		if r.err == nil {
			r.bins.Piped, r.err = pipedv1.Build()
		}
		done <- r
	}()
	return func() realPipedBinaries {
		GinkgoHelper()
		r := <-done
		Expect(r.err).NotTo(HaveOccurred())
		return r.bins
	}
}

// buildWaitPlugin compiles cmd/waitplugin into a temporary directory.
func buildWaitPlugin() (string, error) {
	dir, err := os.MkdirTemp("", "wait-plugin-bin")
	if err != nil {
		return "", err
	}
	root, err := piped.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "wait-plugin")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/waitplugin")
	cmd.Dir = filepath.Join(root, "e2e")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{err: err, out: string(out)}
	}
	return bin, nil
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "build the wait plugin: " + e.err.Error() + "\n" + e.out }

// removeRealPiped deletes the binaries buildRealPiped made.
func removeRealPiped() {
	if waitPluginBinary != "" {
		Expect(os.RemoveAll(filepath.Dir(waitPluginBinary))).To(Succeed())
	}
	if pipedBinary != "" && os.Getenv(pipedv1.BinaryEnv) == "" {
		Expect(os.RemoveAll(filepath.Dir(pipedBinary))).To(Succeed())
	}
}

// mkdir creates a directory and its parents.
func mkdir(dir string) error { return os.MkdirAll(dir, 0o755) }
