package framework

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

// Images of Google's sample; fakerun accepts any image unless told otherwise.
const (
	ImageV1 = "us-docker.pkg.dev/cloudrun/container/hello:v1"
	ImageV2 = "us-docker.pkg.dev/cloudrun/container/hello:v2"
	ImageV3 = "us-docker.pkg.dev/cloudrun/container/hello:v3"
)

// examplesDir is the repository's examples/ directory.
var examplesDir = sync.OnceValues(func() (string, error) {
	root, err := piped.RepoRoot()
	return filepath.Join(root, "examples"), err
})

// ExampleApps lists the directories under examples/ that hold an app.pipecd.yaml (none when the repository
// cannot be found).
func ExampleApps() []string {
	dir, err := examplesDir()
	if err != nil {
		return nil
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*", "app.pipecd.yaml"))
	var apps []string
	for _, m := range matches {
		apps = append(apps, filepath.Base(filepath.Dir(m)))
	}
	return apps
}

// AppDir returns the directory of the example application app.
func AppDir(app string) string {
	GinkgoHelper()
	dir, err := examplesDir()
	Expect(err).NotTo(HaveOccurred())
	return filepath.Join(dir, app)
}

// Commit returns a random 40-digit commit hash.
func Commit() string { return target.RandomHex(40) }

var imageLine = regexp.MustCompile(`(?m)^(\s*-?\s*image:\s*).*$`)

// Manifest returns the app's service.yaml with the first container image replaced (when image is not empty).
func Manifest(app, image string) string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(AppDir(app), "service.yaml"))
	Expect(err).NotTo(HaveOccurred())
	if image == "" {
		return string(raw)
	}
	Expect(imageLine.Match(raw)).To(BeTrue(), "no image line in %s/service.yaml", app)
	done := false
	return imageLine.ReplaceAllStringFunc(string(raw), func(line string) string {
		if done {
			return line
		}
		done = true
		return imageLine.ReplaceAllString(line, "${1}"+image)
	})
}

// WithImage returns deployment files that change only the app's image.
func WithImage(app, image string) map[string]string {
	GinkgoHelper()
	return map[string]string{"service.yaml": Manifest(app, image)}
}

// CanaryConfig returns the canary example's app.pipecd.yaml with old replaced by new (old must occur).
func CanaryConfig(old, new string) map[string]string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(AppDir("canary"), "app.pipecd.yaml"))
	Expect(err).NotTo(HaveOccurred())
	Expect(string(raw)).To(ContainSubstring(old))
	return map[string]string{"app.pipecd.yaml": strings.Replace(string(raw), old, new, 1)}
}

// CanaryNamed returns the canary example's files renamed to service (and application) name, at image.
func CanaryNamed(name, image string) map[string]string {
	GinkgoHelper()
	cfg, err := os.ReadFile(filepath.Join(AppDir("canary"), "app.pipecd.yaml"))
	Expect(err).NotTo(HaveOccurred())
	return map[string]string{
		"app.pipecd.yaml": strings.Replace(string(cfg), "\n  name: canary\n", "\n  name: "+name+"\n", 1),
		"service.yaml":    strings.Replace(Manifest("canary", image), "\nname: canary\n", "\nname: "+name+"\n", 1),
	}
}

// AnalysisExample is examples/canary-analysis: SYNC, PROMOTE 10%, ANALYSIS, PROMOTE 50%, 100%, CLEANUP.
const AnalysisExample = "canary-analysis"

// analysisScaled are the replacements that scale examples/canary-analysis's analysis down to seconds:
// 3 checks of 1s, each read at once, of at least 10 requests.
var analysisScaled = []string{
	"duration: 10m", "duration: 3s", "interval: 2m", "interval: 1s",
	"ingestionDelay: 3m", "ingestionDelay: 0s", "minRequests: 50", "minRequests: 10",
}

// AnalysisFiles returns examples/canary-analysis at image with its analysis scaled down to 3 checks of 1s,
// read at once (fakerun's points are per second and visible at once), then the replacements old, new, ...
// applied to its app.pipecd.yaml (each old must occur).
func AnalysisFiles(image string, replacements ...string) map[string]string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(AppDir(AnalysisExample), "app.pipecd.yaml"))
	Expect(err).NotTo(HaveOccurred())
	cfg := string(raw)
	r := append(slices.Clone(analysisScaled), replacements...)
	for i := 0; i+1 < len(r); i += 2 {
		Expect(cfg).To(ContainSubstring(r[i]))
		cfg = strings.Replace(cfg, r[i], r[i+1], 1)
	}
	return map[string]string{"app.pipecd.yaml": cfg, "service.yaml": Manifest(AnalysisExample, image)}
}
