package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

var (
	// artifactsFolder receives each failed spec's dumps and the fidelity report when set
	// (-e2e.artifacts-folder, default $ARTIFACTS).
	artifactsFolder string
	// pluginBinary is the plugin built once for the whole suite (or $E2E_PLUGIN_BINARY).
	pluginBinary string
	// pipedBinary and waitPluginBinary are pipedv1 and the wait plugin, built once when specs labelled piped
	// run (realpiped_setup_test.go).
	pipedBinary, waitPluginBinary string
	// runPrefix starts the ID of every service the specs on a target create in this run ("e2e" + 6 hex digits
	// + "-"), shared by all Ginkgo processes.
	runPrefix string
	// cloudRun is the real Google Cloud project to run against, when realMode (see target.CloudRunFromEnv).
	cloudRun target.CloudRunConfig
	realMode bool
	// skipReason is set when real mode was asked for without credentials: every spec is skipped.
	skipReason string
)

func init() {
	flag.StringVar(&artifactsFolder, "e2e.artifacts-folder", os.Getenv("ARTIFACTS"),
		"folder for the failed specs' dumps (fakerun state, call log, stage logs, plugin output) and the fidelity report (default $ARTIFACTS)")
}

// artifactsDir is the artifacts folder, or the repository's git-ignored .artifacts/ when none is set.
func artifactsDir() string {
	GinkgoHelper()
	if artifactsFolder != "" {
		return artifactsFolder
	}
	root, err := piped.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	return filepath.Join(root, ".artifacts")
}

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "cloudrun-e2e")
}

// suiteSetup is what process 1 hands every process.
type suiteSetup struct {
	PluginBinary string
	RunPrefix    string
	RealPiped    realPipedBinaries
}

var _ = SynchronizedBeforeSuite(func() []byte {
	realPiped := buildRealPiped() // in the background, with the plugin
	bin, err := piped.BuildPlugin()
	Expect(err).NotTo(HaveOccurred())
	data, err := json.Marshal(suiteSetup{PluginBinary: bin, RunPrefix: "e2e" + target.RandomHex(6) + "-", RealPiped: realPiped()})
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(data []byte) {
	var setup suiteSetup
	Expect(json.Unmarshal(data, &setup)).To(Succeed())
	pluginBinary, runPrefix = setup.PluginBinary, setup.RunPrefix
	pipedBinary, waitPluginBinary = setup.RealPiped.Piped, setup.RealPiped.WaitPlugin
	SetDefaultIntervals(IntervalPolling)
	if cloudRun, realMode = target.CloudRunFromEnv(); realMode {
		if err := cloudRun.CheckCredentials(context.Background()); err != nil {
			skipReason = "real Cloud Run mode skipped: " + err.Error()
			fmt.Fprintln(os.Stderr, skipReason)
			Skip(skipReason) // skips every spec
		}
	}
})

var _ = SynchronizedAfterSuite(func() {}, func(ctx SpecContext) {
	if os.Getenv(piped.PluginBinaryEnv) == "" && pluginBinary != "" {
		Expect(os.RemoveAll(filepath.Dir(pluginBinary))).To(Succeed())
	}
	removeRealPiped()
	if realMode && skipReason == "" {
		// Specs delete what they create; this catches what an interrupted or crashed process left behind.
		deleted, err := target.Sweep(ctx, target.NewCloudRun(cloudRun), runPrefix)
		GinkgoWriter.Printf("swept %d leftover service(s) with prefix %s: %v\n", len(deleted), runPrefix, deleted)
		Expect(err).NotTo(HaveOccurred())
	}
}, NodeTimeout(IntervalSuiteCleanup))
