// Command mutation runs gremlins on each package of the plugin, one package at a time with its own unit tests,
// and prints per package the mutants killed, lived, not covered and the efficacy, failing when a package is
// below its target. Survivors listed in the equivalents file (no observable difference) are set aside.
//
//	go run ./cmd/mutation -root .. -gremlins ../.tools/gremlins [-packages traffic,naming]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

func main() {
	if realGo := os.Getenv(realGoEnv); realGo != "" {
		os.Exit(runAsGo(realGo, os.Args[1:]))
	}
	root := flag.String("root", "..", "repository root (holding plugin/ and fakerun/)")
	gremlins := flag.String("gremlins", "", "gremlins binary")
	packages := flag.String("packages", "", "comma-separated packages to measure, fakerun's as fakerun/internal/rules (default: every package with a target)")
	equivalents := flag.String("equivalents", "", "equivalent mutants file (default: <root>/plugin/mutation-equivalents.txt)")
	coefficient := flag.Int("timeout-coefficient", 10, "a mutant's tests time out after this many times the unmutated run")
	exclude := flag.String("exclude", "", "a regular expression of the files (package/file.go) left out, to split a slow package over runs")
	flag.Parse()
	if *gremlins == "" {
		fail("-gremlins is required")
	}
	absRoot, err := filepath.Abs(*root)
	if err != nil {
		fail(err)
	}
	if *equivalents == "" {
		*equivalents = filepath.Join(absRoot, "plugin", "mutation-equivalents.txt")
	}
	selected, err := selectTargets(*packages)
	if err != nil {
		fail(err)
	}
	equiv, err := readEquivalentsFile(*equivalents)
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	excluded, err := regexp.Compile(*exclude)
	if err != nil {
		fail(fmt.Errorf("-exclude: %w", err))
	}
	r := runner{root: absRoot, gremlins: *gremlins, coefficient: *coefficient, exclude: *exclude, log: os.Stderr}
	var results []result
	for _, t := range selected {
		fmt.Fprintf(os.Stderr, "== gremlins %s\n", t.pkg)
		mutants, err := r.run(ctx, t.pkg)
		if err != nil {
			fail(err)
		}
		results = append(results, tally(t, mutants, equiv))
	}
	stale := equiv.unused(selected)
	if *exclude != "" {
		stale = slices.DeleteFunc(stale, func(e equivalent) bool { return excluded.MatchString(e.file) })
	}
	ok, err := report(os.Stdout, results, stale)
	if err != nil {
		fail(err)
	}
	if !ok {
		os.Exit(1)
	}
}

func fail(v any) {
	fmt.Fprintln(os.Stderr, "mutation:", v)
	os.Exit(2)
}

// selectTargets returns the targets named in list (comma-separated), or when list is empty every target
// not measured only by name.
func selectTargets(list string) ([]target, error) {
	if list == "" {
		var out []target
		for _, t := range targets {
			if !t.byName {
				out = append(out, t)
			}
		}
		return out, nil
	}
	var out []target
	for name := range strings.SplitSeq(list, ",") {
		t, ok := findTarget(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("no target for package %q (known: %s)", name, targetNames())
		}
		out = append(out, t)
	}
	return out, nil
}
