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
	// waitPluginBinary is the wait plugin (e2e/cmd/waitplugin) built once for the whole suite (or
	// $E2E_WAIT_PLUGIN_BINARY): the stand-in and the real piped install it for WAIT.
	waitPluginBinary string
	// pipedBinary is pipedv1, built once when specs labelled piped run (realpiped_setup_test.go).
	pipedBinary string
	// waitPluginOwned is set when the suite built the wait plugin, to delete it at the end.
	waitPluginOwned bool
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
	PluginBinary     string
	WaitPluginBinary string
	PipedBinary      string
	RunPrefix        string
}

var _ = SynchronizedBeforeSuite(func() []byte {
	realPiped := buildRealPiped() // in the background, with the plugins
	bin, err := piped.BuildPlugin()
	Expect(err).NotTo(HaveOccurred())
	waitBin, err := piped.BuildWaitPlugin()
	Expect(err).NotTo(HaveOccurred())
	data, err := json.Marshal(suiteSetup{
		PluginBinary: bin, WaitPluginBinary: waitBin, PipedBinary: realPiped(), RunPrefix: "e2e" + target.RandomHex(6) + "-",
	})
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(data []byte) {
	var setup suiteSetup
	Expect(json.Unmarshal(data, &setup)).To(Succeed())
	pluginBinary, runPrefix = setup.PluginBinary, setup.RunPrefix
	pipedBinary, waitPluginBinary = setup.PipedBinary, setup.WaitPluginBinary
	if os.Getenv(piped.WaitPluginBinaryEnv) == "" {
		// Every stand-in this process starts installs the suite's wait plugin (see piped.BuildWaitPlugin).
		waitPluginOwned = true
		Expect(os.Setenv(piped.WaitPluginBinaryEnv, waitPluginBinary)).To(Succeed())
	}
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
	if waitPluginOwned {
		Expect(os.RemoveAll(filepath.Dir(waitPluginBinary))).To(Succeed())
	}
	removeRealPiped()
	if realMode && skipReason == "" {
		// Specs delete what they create; this catches what an interrupted or crashed process left behind.
		deleted, err := target.Sweep(ctx, target.NewCloudRun(cloudRun), runPrefix)
		GinkgoWriter.Printf("swept %d leftover service(s) with prefix %s: %v\n", len(deleted), runPrefix, deleted)
		Expect(err).NotTo(HaveOccurred())
	}
}, NodeTimeout(IntervalSuiteCleanup))
