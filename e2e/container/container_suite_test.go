// Package container runs the Cloud Run plugin against fakerun started from its FROM scratch container image
// (testcontainers-go), to check what only a separate process can show: the standalone binary and image work,
// and the plugin behaves when the fake is paused (docker pause) or restarted with its state gone.
//
// The suite builds the image itself (go build, then docker build; nothing is pulled). Without a Docker engine
// its specs are skipped, except when CI=true, where that is a failure.
package container

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	tclog "github.com/testcontainers/testcontainers-go/log"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

// suiteData is what the first Ginkgo process hands to every process.
type suiteData struct {
	// SkipReason is set when there is no Docker engine (and CI is not true).
	SkipReason   string `json:"skipReason,omitempty"`
	Image        string `json:"image,omitempty"`
	PluginBinary string `json:"pluginBinary,omitempty"`
}

// suite is this process's copy of suiteData.
var suite suiteData

func TestContainer(t *testing.T) {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		// Ryuk is an image that would have to be pulled; every spec removes its own container instead.
		t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "fakerun-container")
}

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	data := suiteData{}
	if reason := dockerMissing(ctx); reason != "" {
		if os.Getenv("CI") == "true" {
			Fail("container specs need a Docker engine on CI: " + reason)
		}
		data.SkipReason = "no Docker engine (" + reason + "); the container specs need one"
	} else {
		root, err := piped.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		data.Image = buildImage(ctx, root)
		data.PluginBinary, err = piped.BuildPlugin()
		Expect(err).NotTo(HaveOccurred())
	}
	raw, err := json.Marshal(data)
	Expect(err).NotTo(HaveOccurred())
	return raw
}, func(raw []byte) {
	Expect(json.Unmarshal(raw, &suite)).To(Succeed())
	tclog.SetDefault(GinkgoWriter) // testcontainers' banner and progress, shown only when a spec fails
	SetDefaultIntervals(IntervalContainerPolling)
}, NodeTimeout(IntervalContainerSuiteSetup))

var _ = SynchronizedAfterSuite(func() {}, func(ctx SpecContext) {
	if suite.Image != "" {
		out, err := exec.CommandContext(ctx, "docker", "rmi", "--force", suite.Image).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "docker rmi %s: %s", suite.Image, out)
	}
	if suite.PluginBinary != "" && os.Getenv(piped.PluginBinaryEnv) == "" {
		Expect(os.RemoveAll(filepath.Dir(suite.PluginBinary))).To(Succeed())
	}
}, NodeTimeout(IntervalContainerCleanup))

// dockerMissing returns why no Docker engine can be used, or "" when one answers.
func dockerMissing(ctx context.Context) string {
	if _, err := exec.LookPath("docker"); err != nil {
		return "the docker CLI is not installed"
	}
	ctx, cancel := context.WithTimeout(ctx, IntervalDockerCheck)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("docker version: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return ""
}

// buildImage builds the fakerun image as `make fakerun-image` does (a static binary copied into the FROM
// scratch image of fakerun/Dockerfile), under a tag of its own, and returns the tag.
func buildImage(ctx context.Context, root string) string {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "fakerun"), "./fakerun/cmd/fakerun")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build fakerun: %s", out)

	tag := "fakerun:e2e-" + target.RandomHex(8)
	out, err = exec.CommandContext(ctx, "docker", "build", "--tag", tag,
		"--file", filepath.Join(root, "fakerun", "Dockerfile"), dir).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "docker build: %s", out)
	return tag
}
