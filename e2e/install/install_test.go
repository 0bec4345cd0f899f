package install

import (
	"bufio"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/pipe-cd/pipecd/pkg/oci"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	orasoci "oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/release"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

const region = "asia-northeast1"

var _ = Describe("Installing the release as piped does [install]", Label("install"), func() {
	DescribeTable("piped's installer fetches the binary for its platform, runs it, and a quick sync deploys through it",
		func(ctx SpecContext, scheme string) {
			fr, pd, err := install(ctx, scheme)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(pd.Close)
			DeferCleanup(func() {
				if CurrentSpecReport().Failed() {
					GinkgoWriter.Printf("\n===== launcher and plugin output =====\n%s\n", pd.PluginOutput())
				}
			})
			Expect(pd.PluginOutput()).To(ContainSubstring(`"plugin-version": "%s"`, version),
				"the plugin reports the release's version to piped")

			By("deploying the quicksync example through the installed plugin")
			root, err := piped.RepoRoot()
			Expect(err).NotTo(HaveOccurred())
			res, err := pd.Deploy(ctx, piped.Deployment{AppDir: filepath.Join(root, "examples", "quicksync"), Commit: target.RandomHex(40)})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_SUCCESS), "%s", res.Report())
			name := fmt.Sprintf("projects/%s/locations/%s/services/quicksync", fr.Project(), region)
			svc, err := fr.Server().Service(name)
			Expect(err).NotTo(HaveOccurred())
			revisions := fr.Server().Revisions(name)
			Expect(revisions).To(HaveLen(1))
			Expect(svc.GetTrafficStatuses()).To(HaveLen(1))
			Expect(svc.GetTrafficStatuses()[0].GetPercent()).To(BeEquivalentTo(100))
			Expect(svc.GetTrafficStatuses()[0].GetRevision()).To(Equal(filepath.Base(revisions[0].GetName())))
		},
		Entry("from a file:// URL", "file"),
		Entry("from an https:// URL with a certificate piped trusts (SSL_CERT_FILE)", "https"),
		Entry("from an oci:// reference to a registry the release's OCI layout was pushed to", "oci"),
	)

	It("downloads from an http:// URL, but the plugin refuses to start with it (the SDK validates the url: file, https, oci)", func(ctx SpecContext) {
		_, _, err := install(ctx, "http")
		Expect(err).To(MatchError(ContainSubstring("only file, https and oci schemes are supported")))
	})

	It("writes the OCI artifact that `pipectl plugin push` pushes of the same binaries", func(ctx SpecContext) {
		reg := httptest.NewServer(registry.New(registry.Logger(log.New(GinkgoWriter, "registry: ", 0))))
		DeferCleanup(reg.Close)
		host := strings.TrimPrefix(reg.URL, "http://")
		files := map[oci.Platform]string{}
		for p := range artifactManifests(ctx, layoutTarget(ctx), version) {
			goos, arch, _ := strings.Cut(p, "/")
			files[oci.Platform{OS: goos, Arch: arch}] = filepath.Join(dist, release.BinaryName(release.PluginName, version, release.Platform{OS: goos, Arch: arch}))
		}
		Expect(files).To(HaveLen(2))

		By("pushing them with pipectl's code (oci.PushFilesToRegistry) to a registry on 127.0.0.1")
		Expect(oci.PushFilesToRegistry(ctx, GinkgoT().TempDir(), &oci.Artifact{
			MediaType: oci.MediaTypePipedPlugin, ArtifactType: oci.ArtifactTypePipedPlugin, FilePaths: files,
		}, "oci://"+host+"/pipectl:"+version, oci.WithInsecure())).To(Succeed())
		pushed, err := remote.NewRepository(host + "/pipectl")
		Expect(err).NotTo(HaveOccurred())
		pushed.PlainHTTP = true

		Expect(artifactManifests(ctx, layoutTarget(ctx), version)).To(Equal(artifactManifests(ctx, pushed, version)),
			"the same manifests per platform, but for their creation time")
	})
})

// install starts the piped stand-in with the test binary as the plugin: the launcher installs the release's plugin
// from the scheme's URL into a plugins directory of its own and runs it (see launch). It checks that the installed
// file is the release's binary for this platform, and returns the stand-in's error as it is.
func install(ctx SpecContext, scheme string) (*target.Fakerun, *piped.Piped, error) {
	GinkgoHelper()
	url := serve(ctx, scheme)
	pluginsDir := GinkgoT().TempDir()
	GinkgoT().Setenv(installURLEnv, url)
	GinkgoT().Setenv(pluginsDirEnv, pluginsDir)
	fr, err := target.NewFakerun()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(fr.Close)
	launcher, err := os.Executable()
	Expect(err).NotTo(HaveOccurred())

	By("starting the plugin from " + url + " with piped's lifecycle.DownloadBinary and lifecycle.RunBinary")
	pd, err := piped.New(ctx, piped.WithPluginBinary(launcher), piped.WithGracePeriod(10*launchGrace),
		piped.WithDeployTargets(piped.DeployTarget{Name: "local", Config: fr.DeployTargetConfig(region)}))
	// The stand-in names the plugin "cloudrun", piped's cache key.
	Expect(release.FileSHA256(filepath.Join(pluginsDir, "cloudrun"))).To(Equal(checksums()[filepath.Base(hostBinary())]),
		"piped's plugins directory holds the release's binary for %s/%s", runtime.GOOS, runtime.GOARCH)
	return fr, pd, err
}

// serve makes the release's binary for this platform reachable by scheme and returns its URL in spec.plugins[].url.
// Servers listen on 127.0.0.1 and stop when the spec ends; https and oci are served with httptest's certificate,
// which the launcher (piped) trusts through SSL_CERT_FILE.
func serve(ctx SpecContext, scheme string) string {
	GinkgoHelper()
	files := http.FileServer(http.Dir(dist))
	switch scheme {
	case "file":
		return "file://" + hostBinary()
	case "http":
		srv := httptest.NewServer(files)
		DeferCleanup(srv.Close)
		return srv.URL + "/" + filepath.Base(hostBinary())
	case "https":
		srv := httptest.NewTLSServer(files)
		DeferCleanup(srv.Close)
		trust(srv)
		return srv.URL + "/" + filepath.Base(hostBinary())
	case "oci":
		srv := httptest.NewTLSServer(registry.New(registry.Logger(log.New(GinkgoWriter, "registry: ", 0))))
		DeferCleanup(srv.Close)
		trust(srv)
		host := strings.TrimPrefix(srv.URL, "https://")
		By("pushing the release's OCI layout to the registry on " + host + ", as `oras cp --from-oci-layout` does")
		repo, err := remote.NewRepository(host + "/pipecd-cloudrun/cloudrun")
		Expect(err).NotTo(HaveOccurred())
		repo.Client = srv.Client()
		_, err = oras.Copy(ctx, layoutTarget(ctx), version, repo, version, oras.DefaultCopyOptions)
		Expect(err).NotTo(HaveOccurred())
		return "oci://" + host + "/pipecd-cloudrun/cloudrun:" + version
	}
	Fail("unknown scheme " + scheme)
	return ""
}

// trust makes processes started from now on in this spec (the launcher) trust srv's certificate.
func trust(srv *httptest.Server) {
	GinkgoHelper()
	path := filepath.Join(GinkgoT().TempDir(), "ca.pem")
	Expect(os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)).To(Succeed())
	GinkgoT().Setenv("SSL_CERT_FILE", path)
}

// layoutTarget reads the release's OCI layout.
func layoutTarget(ctx SpecContext) oras.ReadOnlyTarget {
	GinkgoHelper()
	store, err := orasoci.NewFromFS(ctx, os.DirFS(filepath.Join(dist, release.LayoutName(version))))
	Expect(err).NotTo(HaveOccurred())
	return store
}

// artifactManifests resolves ref to a plugin artifact's index and returns its manifests by "os/arch", without
// their creation time, after checking the index entry's media type and artifact type.
func artifactManifests(ctx SpecContext, t oras.ReadOnlyTarget, ref string) map[string]ocispec.Manifest {
	GinkgoHelper()
	desc, err := t.Resolve(ctx, ref)
	Expect(err).NotTo(HaveOccurred())
	Expect(desc.MediaType).To(Equal(ocispec.MediaTypeImageIndex))
	var index ocispec.Index
	fetchJSON(ctx, t, desc, &index)
	out := map[string]ocispec.Manifest{}
	for _, d := range index.Manifests {
		Expect(d.MediaType).To(Equal(ocispec.MediaTypeImageManifest))
		Expect(d.ArtifactType).To(Equal(oci.ArtifactTypePipedPlugin))
		Expect(d.Platform).NotTo(BeNil())
		var m ocispec.Manifest
		fetchJSON(ctx, t, d, &m)
		Expect(m.Annotations).To(HaveKey(ocispec.AnnotationCreated))
		m.Annotations = maps.Clone(m.Annotations)
		delete(m.Annotations, ocispec.AnnotationCreated)
		out[d.Platform.OS+"/"+d.Platform.Architecture] = m
	}
	return out
}

func fetchJSON(ctx SpecContext, t oras.ReadOnlyTarget, desc ocispec.Descriptor, v any) {
	GinkgoHelper()
	data, err := content.FetchAll(ctx, t, desc)
	Expect(err).NotTo(HaveOccurred())
	Expect(json.Unmarshal(data, v)).To(Succeed())
}

// checksums reads the release's SHA256SUMS: file name → hex SHA-256.
func checksums() map[string]string {
	GinkgoHelper()
	f, err := os.Open(filepath.Join(dist, release.ChecksumsFile))
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = f.Close() }()
	sums := map[string]string{}
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		sum, name, ok := strings.Cut(lines.Text(), "  ")
		Expect(ok).To(BeTrue(), "SHA256SUMS line %q", lines.Text())
		sums[name] = sum
	}
	Expect(lines.Err()).NotTo(HaveOccurred())
	return sums
}
