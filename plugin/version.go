package main

import (
	"fmt"
	"runtime"
)

// Build information, set by `make release` with -ldflags "-X main.version=... -X main.commit=...". version is also
// what the plugin reports to piped (sdk.NewPlugin): its log lines' plugin-version and its admin /version.
var (
	version = "dev"
	commit  = "unknown"
)

// versionLine is what `cloudrun-plugin version` prints: version, commit, Go version and platform.
func versionLine() string {
	return fmt.Sprintf("cloudrun-plugin %s commit %s %s %s/%s", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
