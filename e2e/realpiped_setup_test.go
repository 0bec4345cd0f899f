package e2e

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipecd-cloudrun/cloudrun/e2e/pipedv1"
)

// realPipedLabel labels the specs that run on the real piped (pipedv1) and the in-memory control plane.
const realPipedLabel = "piped"

// buildRealPiped starts building pipedv1 when the label filter selects specs labelled piped, and returns a
// function waiting for its path (empty when none is selected).
func buildRealPiped() func() string {
	GinkgoHelper()
	if !Label(realPipedLabel).MatchesLabelFilter(GinkgoLabelFilter()) {
		return func() string { return "" }
	}
	type result struct {
		bin string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.bin, r.err = pipedv1.Build()
		done <- r
	}()
	return func() string {
		GinkgoHelper()
		r := <-done
		Expect(r.err).NotTo(HaveOccurred())
		return r.bin
	}
}

// removeRealPiped deletes the binaries buildRealPiped made.
func removeRealPiped() {
	if pipedBinary != "" && os.Getenv(pipedv1.BinaryEnv) == "" {
		Expect(os.RemoveAll(filepath.Dir(pipedBinary))).To(Succeed())
	}
}

// mkdir creates a directory and its parents.
func mkdir(dir string) error { return os.MkdirAll(dir, 0o755) }
