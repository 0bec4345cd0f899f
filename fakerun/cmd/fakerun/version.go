package main

import (
	"fmt"
	"runtime"
)

// Build information, set by `make release` with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

// versionRequested reports whether the command line is `fakerun --version` (or -version).
func versionRequested(args []string) bool {
	return len(args) == 1 && (args[0] == "--version" || args[0] == "-version")
}

// versionLine is what `fakerun --version` prints: version, commit, Go version and platform.
func versionLine() string {
	return fmt.Sprintf("fakerun %s commit %s %s %s/%s", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
