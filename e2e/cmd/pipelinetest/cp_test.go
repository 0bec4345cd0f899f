package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestCPCopiesATreeAsPipedsDeploySourceDoes(t *testing.T) {
	src := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(filepath.Join(src, "apps", "checkout"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "apps", "checkout", "app.pipecd.yaml"), []byte("kind: Application\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("apps/checkout", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	dest := src + "-1"
	var stderr bytes.Buffer
	if code := runCP([]string{"-rf", src, dest}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got, err := os.ReadFile(filepath.Join(dest, "apps", "checkout", "app.pipecd.yaml")); err != nil || string(got) != "kind: Application\n" {
		t.Errorf("copied file: %q, %v", got, err)
	}
	if link, err := os.Readlink(filepath.Join(dest, "link")); err != nil || link != "apps/checkout" {
		t.Errorf("copied link: %q, %v", link, err)
	}
	if code := runCP([]string{"-r", src, dest}, &stderr); code != 1 {
		t.Errorf("unsupported flags: exit %d", code)
	}
}
