package main

import "strings"

// target is a plugin package and the scores its unit tests must reach.
type target struct {
	pkg string
	// efficacy is the floor of killed / (killed + lived), in percent, survivors known to be equivalent set aside.
	efficacy float64
	// reached is the floor of the mutants the package's tests execute at all, in percent of every mutant.
	reached float64
	// byName marks a package measured only when -packages names it.
	byName bool
}

// targets are the packages measured by `make mutation`: the pure packages at 92%, the ones that talk to Cloud
// Run (through fakerun in their tests) at 85%, every one with 90% of its mutants reached by its tests.
var targets = []target{
	{pkg: "traffic", efficacy: 92, reached: 90},
	{pkg: "analysis", efficacy: 92, reached: 90},
	{pkg: "syncplan", efficacy: 92, reached: 90},
	{pkg: "naming", efficacy: 92, reached: 90},
	{pkg: "diff", efficacy: 92, reached: 90},
	{pkg: "config", efficacy: 92, reached: 90},
	{pkg: "deployment", efficacy: 85, reached: 90},
	{pkg: "provider", efficacy: 85, reached: 90},
	{pkg: "livestate", efficacy: 85, reached: 90},
	{pkg: "planpreview", efficacy: 85, reached: 90},
	{pkg: "manifest", efficacy: 85, reached: 90},
	{pkg: "verify", efficacy: 85, reached: 90},
	// fakerun's packages that hold its modelling rules and have tests of their own, measured by name (they
	// are slow): efficacy 80%. Most of their code is exercised by the tests of fakerun's root package, which
	// a run of one package does not use, so their reach is reported but not held to a floor.
	{pkg: "fakerun/internal/rules", efficacy: 80, byName: true},
	{pkg: "fakerun/internal/knative", efficacy: 80, byName: true},
	{pkg: "fakerun/internal/control", efficacy: 80, byName: true},
	{pkg: "fakerun/internal/behavior", efficacy: 80, byName: true},
	{pkg: "fakerun/internal/rest", efficacy: 80, byName: true},
}

func findTarget(pkg string) (target, bool) {
	for _, t := range targets {
		if t.pkg == pkg {
			return t, true
		}
	}
	return target{}, false
}

func targetNames() string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.pkg
	}
	return strings.Join(names, ", ")
}
