package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/pipecd-cloudrun/cloudrun/e2e/pipelinetest"
)

// outcome is how a scenario went.
type outcome struct {
	scenario *scenario
	took     time.Duration
	// err is set when the scenario could not run (the plugin did not start, a deployment could not be planned).
	err error
	// failures are the expectations that did not hold, one message each.
	failures []string
	// report is the deployment's stages and logs; log is the scenario's progress log.
	report, log string
}

func (o outcome) passed() bool { return o.err == nil && len(o.failures) == 0 }

func (o outcome) failureText() string {
	return strings.Join(o.failures, "\n") + "\n\n" + o.report
}

// runner runs scenarios, each in an environment of its own (fakerun, the plugin and piped).
type runner struct {
	plugin    pipelinetest.Plugin
	timeScale float64
	parallel  int
	fakerun   string    // a running fakerun's address; empty: one in process per scenario
	out       io.Writer // the progress log of every scenario, each line prefixed by its name
	outMu     sync.Mutex
}

func (r *runner) runAll(ctx context.Context, scs []*scenario) []outcome {
	outcomes := make([]outcome, len(scs))
	sem := make(chan struct{}, max(r.parallel, 1))
	var wg sync.WaitGroup
	for i, sc := range scs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			outcomes[i] = r.run(ctx, sc, fmt.Sprintf("pipelinetest-%d", i+1))
		}()
	}
	wg.Wait()
	return outcomes
}

// scenarioLog keeps a scenario's progress log and copies each line to the runner's output with a prefix.
type scenarioLog struct {
	r      *runner
	prefix string
	mu     sync.Mutex
	buf    strings.Builder
}

func (l *scenarioLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	l.r.outMu.Lock()
	defer l.r.outMu.Unlock()
	for _, line := range strings.SplitAfter(strings.TrimSuffix(string(p), "\n"), "\n") {
		if _, err := fmt.Fprintf(l.r.out, "%s%s\n", l.prefix, strings.TrimSuffix(line, "\n")); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (l *scenarioLog) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(l, format+"\n", args...)
}

func (l *scenarioLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// run runs a scenario in a project of its own (its services do not meet other scenarios' on a shared fakerun).
func (r *runner) run(ctx context.Context, sc *scenario, project string) (o outcome) {
	start := time.Now()
	log := &scenarioLog{r: r, prefix: "[" + sc.Name + "] "}
	o.scenario = sc
	defer func() {
		o.took = time.Since(start)
		verdict := "PASSED"
		if !o.passed() {
			verdict = "FAILED"
		}
		log.printf("%s in %s (%s)", verdict, o.took.Round(100*time.Millisecond), sc.file)
		for _, f := range o.failures {
			log.printf("  ✘ %s", f)
		}
		if o.err != nil {
			log.printf("  ✘ %v", o.err)
		}
		o.log = log.String()
	}()
	timeout := sc.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	env, err := pipelinetest.Start(ctx, pipelinetest.Options{Plugin: r.plugin, Targets: sc.Targets, Project: project,
		TimeScale: r.timeScale, Fakerun: r.fakerun, Log: log})
	if err != nil {
		o.err = err
		return o
	}
	defer env.Close()
	if sc.Given != nil {
		log.printf("given: quick sync of %s", sc.App)
		d := sc.deployment(sc.Given)
		d.QuickSync = true
		res, err := env.Deploy(ctx, d)
		if err != nil {
			o.err = fmt.Errorf("given: %w", err)
			return o
		}
		if res.Status != pipelinetest.StatusSuccess {
			o.err = fmt.Errorf("given: the deployment setting up the live state ended %s: %s", res.Status, res.Reason)
			o.report = res.Report()
			return o
		}
	}
	log.printf("when: deploying the change of %s", sc.App)
	res, err := env.Deploy(ctx, sc.deployment(sc.When))
	if err != nil {
		o.err = fmt.Errorf("when: %w", err)
		return o
	}
	o.report = res.Report()
	for _, m := range sc.Then.matchers(sc) {
		if ok, err := m.Match(res); err != nil {
			o.failures = append(o.failures, err.Error())
		} else if !ok {
			msg := m.FailureMessage(res)
			first, _, _ := strings.Cut(msg, "\n") // the report follows once, in failureText
			o.failures = append(o.failures, first)
		}
	}
	return o
}

// matchers are the package's matchers of the expectations.
func (e *expectations) matchers(sc *scenario) []types.GomegaMatcher {
	var out []types.GomegaMatcher
	if e.Status != "" {
		out = append(out, pipelinetest.HaveStatus(string(e.Status)))
	}
	if e.FailedStage != "" {
		out = append(out, pipelinetest.HaveFailedAt(e.FailedStage))
	}
	if len(e.Stages) > 0 {
		out = append(out, pipelinetest.HaveRunStages(e.Stages...))
	}
	if e.RolledBack != nil {
		m := pipelinetest.HaveRolledBack()
		if !*e.RolledBack {
			m = gomega.Not(m)
		}
		out = append(out, m)
	}
	if len(e.Traffic) > 0 {
		targets := []string{""}
		if len(sc.Targets) > 0 {
			targets = targets[:0]
			for _, t := range sc.Targets {
				targets = append(targets, t.Name)
			}
		}
		for _, t := range targets {
			out = append(out, pipelinetest.HaveTrafficOn(t, e.Traffic...))
		}
	}
	if len(e.Analysis) > 0 {
		vs := make([]string, 0, len(e.Analysis))
		for _, v := range e.Analysis {
			vs = append(vs, string(v))
		}
		out = append(out, pipelinetest.HaveAnalysisVerdicts(vs...))
	}
	return out
}
