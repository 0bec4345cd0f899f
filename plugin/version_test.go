package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVersionCommand builds the binary with the release's -X flags and runs `cloudrun-plugin version`.
func TestVersionCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cloudrun-plugin")
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X main.version=v9.8.7 -X main.commit=abc1234", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("cloudrun-plugin version: %v\n%s", err, out)
	}
	want := "cloudrun-plugin v9.8.7 commit abc1234 " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("cloudrun-plugin version printed %q, want %q", got, want)
	}
}
