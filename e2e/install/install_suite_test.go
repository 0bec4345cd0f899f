// Package install checks that piped installs the released plugin: pipedv1's own installer (lifecycle.DownloadBinary
// and lifecycle.RunBinary) fetches the release's binary by every scheme of spec.plugins[].url and runs it, and a
// quick sync goes through the installed plugin against fakerun.
package install

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/pipedv1"
	"github.com/pipecd-cloudrun/cloudrun/e2e/release"
)

// The release the suite builds with the release's own code, for the host platform and its other architecture,
// so that installing from the OCI artifact has a platform to pick.
const (
	version = "v0.0.0-e2e"
	commit  = "e2e0000"
)

// dist is the directory of that release, shared by all Ginkgo processes.
var dist string

func TestMain(m *testing.M) {
	if os.Getenv(installURLEnv) != "" {
		os.Exit(launch(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func TestInstall(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "install")
}

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	root, err := piped.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	dir, err := os.MkdirTemp("", "e2e-release")
	Expect(err).NotTo(HaveOccurred())
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	Expect(other).NotTo(BeEmpty(), "the release has no %s build", runtime.GOARCH)
	Expect(release.Build(ctx, release.Config{
		Root: root, Dist: dir, Version: version, Commit: commit, Created: time.Unix(1_700_000_000, 0),
		Platforms: []release.Platform{{OS: runtime.GOOS, Arch: runtime.GOARCH}, {OS: runtime.GOOS, Arch: other}},
		Programs:  []string{release.PluginName, release.FakerunName}, // what the specs install
		Log:       GinkgoWriter,
	})).To(Succeed())
	data, err := json.Marshal(dir)
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(data []byte) {
	Expect(json.Unmarshal(data, &dist)).To(Succeed())
	SetDefaultEventuallyTimeout(30 * time.Second)
}, NodeTimeout(10*time.Minute))

var _ = SynchronizedAfterSuite(func() {
	if pipedBinary != "" && os.Getenv(pipedv1.BinaryEnv) == "" {
		Expect(os.RemoveAll(filepath.Dir(pipedBinary))).To(Succeed())
	}
}, func() {
	Expect(os.RemoveAll(dist)).To(Succeed())
})

// hostBinary is the release's plugin binary for this machine.
func hostBinary() string {
	return filepath.Join(dist, release.BinaryName(release.PluginName, version, release.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}))
}
