package e2e

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

var (
	// artifactsFolder receives each failed spec's dumps when set (-e2e.artifacts-folder, default $ARTIFACTS).
	artifactsFolder string
	// pluginBinary is the plugin built once for the whole suite (or $E2E_PLUGIN_BINARY).
	pluginBinary string
	// examplesDir is the repository's examples/ directory.
	examplesDir string
)

func init() {
	flag.StringVar(&artifactsFolder, "e2e.artifacts-folder", os.Getenv("ARTIFACTS"),
		"folder for the fakerun state, call log, stage logs and plugin output of failed specs (default $ARTIFACTS)")
}

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "cloudrun-e2e")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	bin, err := piped.BuildPlugin()
	Expect(err).NotTo(HaveOccurred())
	return []byte(bin)
}, func(bin []byte) {
	pluginBinary = string(bin)
	root, err := piped.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	examplesDir = filepath.Join(root, "examples")
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	if os.Getenv(piped.PluginBinaryEnv) == "" && pluginBinary != "" {
		Expect(os.RemoveAll(filepath.Dir(pluginBinary))).To(Succeed())
	}
})
