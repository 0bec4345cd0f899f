// Command pipelinetest runs YAML scenarios of PipeCD applications' Cloud Run pipelines against fakerun,
// through the Cloud Run plugin and piped, and reports them as a progress log and JUnit XML. A scenario says
// given the live state (the application deployed at an image by quick sync), when a change is deployed (an
// image, file edits) with behaviours (a revision answering 503s, never ready, job tasks failing) and Cloud
// Run API faults, then what must hold (the deployment's status, the failed stage, the stages, the rollback,
// the traffic, the analysis verdicts). Scenarios run in parallel, each against a fakerun of its own.
//
//	pipelinetest -plugin ./cloudrun_v0.1.0_linux_amd64 -junit report.xml scenarios/*.yaml
//
// Every scenario file is read and checked before anything is deployed: a bad file is reported with its
// name, line and field, and nothing runs. The exit code is 0 when every scenario passed, 1 when one failed,
// 2 for bad flags or scenario files.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/e2e/pipelinetest"
)

// Set by the release build (-X).
var (
	version = "devel"
	commit  = "unknown"
)

// Exit codes.
const (
	exitPassed   = 0
	exitFailed   = 1
	exitBadInput = 2
)

func main() {
	if filepath.Base(os.Args[0]) == "cp" {
		os.Exit(runCP(os.Args[1:], os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pipelinetest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: pipelinetest [flags] SCENARIO.yaml...\n\nRuns pipeline scenarios against fakerun through the Cloud Run plugin.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var (
		pluginPath    = fs.String("plugin", "", "the plugin binary to run (default: $E2E_PLUGIN_BINARY, else a build of ./plugin in this repository)")
		pluginVersion = fs.String("plugin-version", "", "download the released plugin of this version (e.g. v0.1.0) for this OS and CPU, checked against SHA256SUMS")
		pluginURL     = fs.String("plugin-url", "", "download the plugin binary from this https:// or file:// URL")
		pluginSHA     = fs.String("plugin-sha256", "", "with -plugin-url: the binary's SHA-256 (hex)")
		junitPath     = fs.String("junit", "", "write a JUnit XML report to this file")
		parallel      = fs.Int("parallel", 4, "scenarios run at once (each mostly waits on its stages)")
		timeScale     = fs.Float64("time-scale", pipelinetest.DefaultTimeScale, "factor applied to WAIT and CLOUDRUN_ANALYSIS durations")
		fakerunAddr   = fs.String("fakerun", "", "deploy to the running fakerun at host:port (e.g. its released image) instead of one per scenario; the scenarios then run one at a time")
		printVersion  = fs.Bool("version", false, "print the version and exit")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitPassed
		}
		return exitBadInput
	}
	if *printVersion {
		_, _ = fmt.Fprintf(stdout, "pipelinetest %s (commit %s, %s)\n", version, commit, runtime.Version())
		return exitPassed
	}
	plugin, err := pluginFlag(*pluginPath, *pluginVersion, *pluginURL, *pluginSHA)
	if err == nil && fs.NArg() == 0 {
		err = errors.New("no scenario file given")
	}
	if err == nil && (*timeScale <= 0 || *timeScale > 1) {
		err = fmt.Errorf("-time-scale %g: must be in (0, 1]", *timeScale)
	}
	if err == nil && *parallel < 1 {
		err = fmt.Errorf("-parallel %d: must be at least 1", *parallel)
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "pipelinetest: %v\n", err)
		fs.Usage()
		return exitBadInput
	}
	scs, err := loadScenarios(fs.Args())
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "pipelinetest: bad scenario files, nothing was deployed:\n%v\n", err)
		return exitBadInput
	}

	started := time.Now()
	_, _ = fmt.Fprintf(stdout, "Running %d scenario(s), %d at a time, plugin: %s\n", len(scs), *parallel, plugin)
	if *fakerunAddr != "" {
		*parallel = 1 // behaviours and faults are fakerun-wide
	}
	r := &runner{plugin: plugin, timeScale: *timeScale, parallel: *parallel, fakerun: *fakerunAddr, out: stdout}
	outcomes := r.runAll(ctx, scs)
	took := time.Since(started)

	failed := 0
	_, _ = fmt.Fprintf(stdout, "\nSummary (%s):\n", took.Round(100*time.Millisecond))
	for _, o := range outcomes {
		mark := "✔"
		if !o.passed() {
			mark = "✘"
			failed++
		}
		_, _ = fmt.Fprintf(stdout, "  %s %s (%s)\n", mark, o.scenario.Name, o.scenario.file)
	}
	_, _ = fmt.Fprintf(stdout, "%d passed, %d failed\n", len(outcomes)-failed, failed)
	if *junitPath != "" {
		if err := writeJUnitFile(*junitPath, started, took, outcomes); err != nil {
			_, _ = fmt.Fprintf(stderr, "pipelinetest: %v\n", err)
			return exitFailed
		}
	}
	if failed > 0 {
		return exitFailed
	}
	return exitPassed
}

// pluginFlag turns the plugin flags into a plugin source; at most one may be set.
func pluginFlag(path, version, url, sha string) (pipelinetest.Plugin, error) {
	set := 0
	for _, v := range []string{path, version, url} {
		if v != "" {
			set++
		}
	}
	switch {
	case set > 1:
		return pipelinetest.Plugin{}, errors.New("give at most one of -plugin, -plugin-version and -plugin-url")
	case sha != "" && url == "":
		return pipelinetest.Plugin{}, errors.New("-plugin-sha256 goes with -plugin-url")
	case path != "":
		return pipelinetest.PluginBinary(path), nil
	case version != "":
		return pipelinetest.PluginRelease(version), nil
	case url != "":
		return pipelinetest.PluginURL(url, sha), nil
	}
	return pipelinetest.LocalBuild(), nil
}

func writeJUnitFile(path string, started time.Time, took time.Duration, outcomes []outcome) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeJUnit(f, started, took, outcomes); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
