package pipelinetest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// ReleaseURL is where the project's releases are downloaded from: ReleaseURL/<version>/<file>.
const ReleaseURL = "https://github.com/pipecd-cloudrun/cloudrun/releases/download"

// Plugin is where the plugin binary comes from: LocalBuild, PluginBinary, PluginRelease or PluginURL.
type Plugin struct {
	desc    string
	resolve func(ctx context.Context) (string, error)
}

// String describes the source, for progress logs.
func (p Plugin) String() string { return p.desc }

// LocalBuild builds ./plugin of this repository (once per process), or uses the binary that the
// E2E_PLUGIN_BINARY environment variable names. It is the default.
func LocalBuild() Plugin {
	return Plugin{desc: "local build", resolve: func(context.Context) (string, error) { return piped.BuildPlugin() }}
}

// PluginBinary runs the plugin binary at path (for example a release file downloaded by CI).
func PluginBinary(path string) Plugin {
	return Plugin{desc: path, resolve: func(context.Context) (string, error) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("plugin binary: %w", err)
		}
		return abs, nil
	}}
}

// PluginRelease downloads the released plugin of version (e.g. "v0.1.0") for this machine's OS and CPU from
// ReleaseURL, checks it against the release's SHA256SUMS, and keeps it in the user's cache directory.
func PluginRelease(version string) Plugin {
	file := fmt.Sprintf("cloudrun_%s_%s_%s", version, runtime.GOOS, runtime.GOARCH)
	base := ReleaseURL + "/" + version
	return Plugin{desc: "release " + version, resolve: func(ctx context.Context) (string, error) {
		sums, err := fetch(ctx, base+"/SHA256SUMS")
		if err != nil {
			return "", err
		}
		want, err := checksumOf(sums, file)
		if err != nil {
			return "", fmt.Errorf("%s/SHA256SUMS: %w", base, err)
		}
		return download(ctx, base+"/"+file, want)
	}}
}

// PluginURL downloads the plugin binary at rawURL (https://, http:// or file://) and keeps it in the user's
// cache directory, as piped does with spec.plugins[].url. sha256 (hex) is checked when not empty.
func PluginURL(rawURL, sha256 string) Plugin {
	return Plugin{desc: rawURL, resolve: func(ctx context.Context) (string, error) { return download(ctx, rawURL, sha256) }}
}

// checksumOf finds file's digest in a sha256sum listing.
func checksumOf(sums []byte, file string) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(string(sums)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == file {
			return f[0], nil
		}
	}
	return "", fmt.Errorf("no checksum for %s", file)
}

// download fetches rawURL into the cache (once: a cached file with the right digest is reused) and returns
// the executable's path.
func download(ctx context.Context, rawURL, wantSHA string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256([]byte(rawURL))
	dst := filepath.Join(cache, "pipecd-cloudrun-pipelinetest", hex.EncodeToString(sum[:8]), path.Base(rawURL))
	if wantSHA != "" {
		if got, err := fileSHA256(dst); err == nil && got == wantSHA {
			return dst, nil
		}
	}
	data, err := fetch(ctx, rawURL)
	if err != nil {
		return "", err
	}
	got := sha256.Sum256(data)
	if wantSHA != "" && hex.EncodeToString(got[:]) != strings.ToLower(wantSHA) {
		return "", fmt.Errorf("plugin %s: sha256 is %x, want %s", rawURL, got, wantSHA)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return "", err
	}
	return dst, os.Rename(tmp, dst)
}

func fetch(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("plugin URL %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		return os.ReadFile(u.Path)
	case "http", "https":
	default:
		return nil, fmt.Errorf("plugin URL %q: scheme %q, allowed https, http, file", rawURL, u.Scheme)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", rawURL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: %s", rawURL, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
