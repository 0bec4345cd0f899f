package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// testParallel is go test's -parallel for each mutant's run of the package's tests.
const testParallel = 8

// runner runs gremlins on one plugin package at a time.
//
// gremlins copies only the module directory to a scratch directory, so the plugin's `replace => ../fakerun`
// would point nowhere there. Each run therefore uses a module file of its own (go -modfile) whose replace names
// fakerun by its absolute path, with the workspace off.
type runner struct {
	root        string
	gremlins    string
	coefficient int
	// exclude is a regular expression of files (package/file.go) gremlins leaves out; empty for none.
	exclude string
	log     io.Writer
}

// mutant is one mutation as gremlins reports it, with its file relative to the plugin module.
type mutant struct {
	File   string
	Line   int
	Column int
	Type   string
	Status string
}

// run measures pkg: a package of the plugin ("traffic"), or of fakerun when it starts with "fakerun/"
// ("fakerun/internal/rules").
func (r runner) run(ctx context.Context, pkg string) ([]mutant, error) {
	scratch, err := os.MkdirTemp("", "mutation-"+strings.ReplaceAll(pkg, "/", "-")+"-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(scratch) }()
	module, dir := modulePackage(pkg)
	env := append(os.Environ(), "GOWORK=off")
	// The plugin's tests mostly wait (analysis windows, polling, retries), so running testParallel of them at
	// once instead of one per core (go test's default) cuts a mutant's run of deployment's tests from about 21 s
	// to 7 s on two cores, with the same tests.
	goflags := "-parallel=" + strconv.Itoa(testParallel)
	if module == "plugin" {
		modfile, err := r.writeModfile(scratch)
		if err != nil {
			return nil, err
		}
		// Outside the workspace the plugin's own go.sum must hold every module fakerun's packages need; tidy
		// the run's copy so that the run builds what the workspace builds, whether or not the module files are
		// tidy.
		tidy := exec.CommandContext(ctx, "go", "mod", "tidy", "-modfile="+modfile)
		tidy.Dir = filepath.Join(r.root, "plugin")
		tidy.Env = env
		tidy.Stdout, tidy.Stderr = r.log, r.log
		if err := tidy.Run(); err != nil {
			return nil, fmt.Errorf("go mod tidy for the run's module file: %w", err)
		}
		goflags += " -modfile=" + modfile
	}
	env = append(env, "GOFLAGS="+goflags)
	out := filepath.Join(scratch, "gremlins.json")
	// Only the package's own tests run for each mutant (gremlins' default outside --integration); one worker,
	// since the tests of a package already use the machine.
	args := []string{"unleash", "--workers", "1", "--timeout-coefficient", strconv.Itoa(r.coefficient), "--output", out}
	if r.exclude != "" {
		args = append(args, "--exclude-files", r.exclude)
	}
	cmd := exec.CommandContext(ctx, r.gremlins, append(args, "./"+dir)...)
	cmd.Dir = filepath.Join(r.root, module)
	if cmd.Env, err = shimGo(scratch, env); err != nil {
		return nil, fmt.Errorf("go command for gremlins: %w", err)
	}
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("gremlins on %s/%s: %w", module, dir, err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return parseReport(data, pkg)
}

// modulePackage splits pkg into its module's directory and its directory in the module.
func modulePackage(pkg string) (module, dir string) {
	if rest, ok := strings.CutPrefix(pkg, "fakerun/"); ok {
		return "fakerun", rest
	}
	return "plugin", pkg
}

// writeModfile writes the plugin's go.mod and go.sum into dir with fakerun replaced by its absolute path.
func (r runner) writeModfile(dir string) (string, error) {
	plugin := filepath.Join(r.root, "plugin")
	mod, err := os.ReadFile(filepath.Join(plugin, "go.mod"))
	if err != nil {
		return "", err
	}
	sum, err := os.ReadFile(filepath.Join(plugin, "go.sum"))
	if err != nil {
		return "", err
	}
	const relative = "=> ../fakerun"
	if !strings.Contains(string(mod), relative) {
		return "", fmt.Errorf("plugin/go.mod has no %q replace to rewrite", relative)
	}
	mod = []byte(strings.Replace(string(mod), relative, "=> "+filepath.Join(r.root, "fakerun"), 1))
	modfile := filepath.Join(dir, "go.mod")
	if err := os.WriteFile(modfile, mod, 0o600); err != nil {
		return "", err
	}
	return modfile, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o600)
}

// parseReport reads gremlins' JSON output for a run on pkg, whose file names are relative to pkg.
func parseReport(data []byte, pkg string) ([]mutant, error) {
	var rep struct {
		Files []struct {
			Name      string `json:"file_name"`
			Mutations []struct {
				Type   string `json:"type"`
				Status string `json:"status"`
				Line   int    `json:"line"`
				Column int    `json:"column"`
			} `json:"mutations"`
		} `json:"files"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("gremlins report for %s: %w", pkg, err)
	}
	var out []mutant
	for _, f := range rep.Files {
		for _, m := range f.Mutations {
			out = append(out, mutant{File: pkg + "/" + f.Name, Line: m.Line, Column: m.Column, Type: m.Type, Status: m.Status})
		}
	}
	return out, nil
}
