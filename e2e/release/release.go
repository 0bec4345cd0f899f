// Package release writes the project's release artifacts into a directory (dist/): the plugin, fakerun and
// pipelinetest as static binaries named <name>_<version>_<os>_<arch>, as PipeCD's official plugins are released, the
// plugin's OCI artifact as an OCI image layout (the layout `pipectl plugin push` pushes) and as a tarball of it, the
// fakerun and pipelinetest images as `docker save` tarballs when a Docker engine answers, and SHA256SUMS over every
// file.
package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Names of the released programs: the plugin keeps PipeCD's convention of naming it after the platform it deploys to;
// pipelinetest runs pipeline scenarios (e2e/cmd/pipelinetest).
const (
	PluginName       = "cloudrun"
	FakerunName      = "fakerun"
	PipelinetestName = "pipelinetest"
)

// Programs are the released programs.
var Programs = []string{PluginName, FakerunName, PipelinetestName}

// Platform is an operating system and CPU architecture, as GOOS and GOARCH name them.
type Platform struct {
	OS   string
	Arch string
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Platforms are the platforms of a release: those of PipeCD's official plugins.
var Platforms = []Platform{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}}

// packages maps each released program to its main package, relative to the repository root.
var packages = map[string]string{PluginName: "plugin", FakerunName: "fakerun/cmd/fakerun", PipelinetestName: "e2e/cmd/pipelinetest"}

// BinaryName is the file name of a released binary: <name>_<version>_<os>_<arch>.
func BinaryName(name, version string, p Platform) string {
	return fmt.Sprintf("%s_%s_%s_%s", name, version, p.OS, p.Arch)
}

// LayoutName is the OCI image layout directory holding the plugin's artifact; LayoutName + ".tar" is its tarball.
func LayoutName(version string) string { return fmt.Sprintf("%s_%s_oci", PluginName, version) }

// ChecksumsFile lists the SHA-256 of every file of a release, in the format of sha256sum.
const ChecksumsFile = "SHA256SUMS"

// Config is one release.
type Config struct {
	// Root is the repository root (the directory holding go.work).
	Root string
	// Dist receives the artifacts; it is created if needed and must not hold an older release.
	Dist string
	// Version is the release's version, e.g. v0.1.0; it is also the OCI artifact's tag.
	Version string
	// Commit is the commit the release is built from.
	Commit string
	// Created is the OCI manifests' creation time: the commit's time keeps the release reproducible.
	Created time.Time
	// Platforms to build for. Default: Platforms.
	Platforms []Platform
	// Programs to build, of Programs. Default: Programs. The plugin is always built (the OCI artifact is its).
	Programs []string
	// Image writes the image tarballs (fakerun, pipelinetest) when a Docker engine answers.
	Image bool
	// Log receives progress lines. Default: discarded.
	Log io.Writer
}

// Build writes the release described by cfg into cfg.Dist.
func Build(ctx context.Context, cfg Config) error {
	if cfg.Version == "" || cfg.Commit == "" || cfg.Root == "" || cfg.Dist == "" {
		return errors.New("release: Root, Dist, Version and Commit are required")
	}
	if cfg.Created.IsZero() {
		return errors.New("release: Created is required (the commit's time, for a reproducible OCI artifact)")
	}
	if len(cfg.Platforms) == 0 {
		cfg.Platforms = Platforms
	}
	if len(cfg.Programs) == 0 {
		cfg.Programs = Programs
	}
	if !slices.Contains(cfg.Programs, PluginName) {
		cfg.Programs = append([]string{PluginName}, cfg.Programs...)
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if err := os.MkdirAll(cfg.Dist, 0o755); err != nil {
		return err
	}
	plugins := map[Platform]string{}
	for _, name := range cfg.Programs {
		for _, p := range cfg.Platforms {
			out := filepath.Join(cfg.Dist, BinaryName(name, cfg.Version, p))
			_, _ = fmt.Fprintf(cfg.Log, "building %s\n", filepath.Base(out))
			if err := BuildBinary(ctx, cfg.Root, name, out, cfg.Version, cfg.Commit, p); err != nil {
				return err
			}
			if name == PluginName {
				plugins[p] = out
			}
		}
	}
	layout := filepath.Join(cfg.Dist, LayoutName(cfg.Version))
	_, _ = fmt.Fprintf(cfg.Log, "writing the OCI artifact %s\n", filepath.Base(layout))
	if err := WritePluginLayout(ctx, layout, cfg.Version, cfg.Created, plugins); err != nil {
		return err
	}
	if err := tarDir(layout, layout+".tar", cfg.Created); err != nil {
		return err
	}
	if cfg.Image {
		if err := saveImages(ctx, cfg); err != nil {
			return err
		}
	}
	_, _ = fmt.Fprintf(cfg.Log, "writing %s\n", ChecksumsFile)
	return writeChecksums(cfg.Dist)
}

// BuildBinary builds one released program for platform p into out: static (CGO_ENABLED=0), with -trimpath and
// no build ID, version and commit set with -X, so that two builds of one commit are byte-identical.
func BuildBinary(ctx context.Context, root, name, out, version, commit string, p Platform) error {
	pkg, ok := packages[name]
	if !ok {
		return fmt.Errorf("release: no program named %q", name)
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	ldflags := fmt.Sprintf("-s -w -buildid= -X main.version=%s -X main.commit=%s", version, commit)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, ".")
	cmd.Dir = filepath.Join(root, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s for %s: %w\n%s", name, p, err, b)
	}
	return nil
}

// images are the released images: each program's FROM scratch image, with the binaries its context holds
// (named as in the image), the symbolic links, and its Dockerfile, relative to the repository root.
var images = []struct {
	name       string
	binaries   map[string]string // file in the build context → released program
	links      map[string]string // file in the build context → link target
	dockerfile string
}{
	{FakerunName, map[string]string{FakerunName: FakerunName}, nil, "fakerun/Dockerfile"},
	{PipelinetestName, map[string]string{PipelinetestName: PipelinetestName, "cloudrun-plugin": PluginName},
		map[string]string{"bin/cp": "/" + PipelinetestName}, "e2e/cmd/pipelinetest/Dockerfile"},
}

// saveImages builds the images of the release's programs from the engine's platform's binaries and saves each
// with `docker save`; it does nothing when no Docker engine answers or the release has no binary for the
// engine's platform.
func saveImages(ctx context.Context, cfg Config) error {
	arch, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Os}}/{{.Server.Arch}}").Output()
	if err != nil {
		_, _ = fmt.Fprintf(cfg.Log, "no Docker engine answers (%v): skipping the images\n", err)
		return nil
	}
	goos, goarch, _ := strings.Cut(strings.TrimSpace(string(arch)), "/")
	p := Platform{goos, goarch}
	for _, img := range images {
		if !slices.Contains(cfg.Programs, img.name) {
			continue
		}
		if err := saveImage(ctx, cfg, p, img.name, img.binaries, img.links, img.dockerfile); err != nil {
			return err
		}
	}
	return nil
}

// saveImage builds one image from the binaries of platform p and saves it.
func saveImage(ctx context.Context, cfg Config, p Platform, name string, binaries, links map[string]string, dockerfile string) error {
	contextDir, err := os.MkdirTemp("", name+"-image")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(contextDir) }()
	for file, program := range binaries {
		bin := filepath.Join(cfg.Dist, BinaryName(program, cfg.Version, p))
		if _, err := os.Stat(bin); err != nil {
			_, _ = fmt.Fprintf(cfg.Log, "no %s binary for the engine's platform %s: skipping the %s image\n", program, p, name)
			return nil
		}
		if err := copyFile(bin, filepath.Join(contextDir, file), 0o755); err != nil {
			return err
		}
	}
	for file, target := range links {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(contextDir, file)), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(target, filepath.Join(contextDir, file)); err != nil {
			return err
		}
	}
	tag := name + ":" + cfg.Version
	out := filepath.Join(cfg.Dist, fmt.Sprintf("%s_%s_image_%s_%s.tar", name, cfg.Version, p.OS, p.Arch))
	_, _ = fmt.Fprintf(cfg.Log, "building the image %s into %s\n", tag, filepath.Base(out))
	steps := [][]string{
		{"build", "--label", "org.opencontainers.image.version=" + cfg.Version, "--label", "org.opencontainers.image.revision=" + cfg.Commit,
			"-t", tag, "-f", filepath.Join(cfg.Root, dockerfile), contextDir},
		{"save", "-o", out, tag},
	}
	for _, args := range steps {
		if b, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("docker %s: %w\n%s", args[0], err, b)
		}
	}
	return os.Chmod(out, 0o644) // docker save writes 0600
}
