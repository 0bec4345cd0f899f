package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/e2e/pipelinetest"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// scenario is one document of a scenario file: given the live state, when a change is deployed, then what
// must hold.
type scenario struct {
	Name    string                `yaml:"name"`
	App     string                `yaml:"app"`
	Targets []pipelinetest.Target `yaml:"targets"`
	Timeout time.Duration         `yaml:"timeout"`
	Given   *change               `yaml:"given"`
	When    *change               `yaml:"when"`
	Then    *expectations         `yaml:"then"`
	file    string                // the scenario file
	line    int                   // the document's first line
	appDir  string                // App, relative to the working directory
	kind    string                // pipelinetest.KindService or KindJob
}

// change is a deployment: the image, file edits and files of a commit, the behaviours and faults it meets.
type change struct {
	Image     string              `yaml:"image"`
	Edits     []edit              `yaml:"edits"`
	Files     map[string]string   `yaml:"files"`
	Behaviors map[string]behavior `yaml:"behaviors"`
	Faults    []fault             `yaml:"faults"`
	Load      int                 `yaml:"load"`
}

type edit struct {
	File    string `yaml:"file"`
	Replace string `yaml:"replace"`
	With    string `yaml:"with"`
}

// behavior is fakerun's Behavior in the scenario's words.
type behavior struct {
	FailReadiness  bool          `yaml:"failReadiness"`
	ReadinessDelay time.Duration `yaml:"readinessDelay"`
	ErrorRate      float64       `yaml:"errorRate"`
	ErrorCode      int           `yaml:"errorCode"`
	Latency        time.Duration `yaml:"latency"`
	Jitter         time.Duration `yaml:"jitter"`
	Task           *task         `yaml:"task"`
}

type task struct {
	Duration     time.Duration `yaml:"duration"`
	ExitCode     int           `yaml:"exitCode"`
	FailTasks    []int         `yaml:"failTasks"`
	FailAttempts int           `yaml:"failAttempts"`
	FailureRate  float64       `yaml:"failureRate"`
}

type fault struct {
	Method method        `yaml:"method"`
	Code   grpcCode      `yaml:"code"`
	Times  int           `yaml:"times"`
	Delay  time.Duration `yaml:"delay"`
}

type expectations struct {
	Status      status               `yaml:"status"`
	FailedStage string               `yaml:"failedStage"`
	Stages      []string             `yaml:"stages"`
	RolledBack  *bool                `yaml:"rolledBack"`
	Traffic     []pipelinetest.Route `yaml:"traffic"`
	Analysis    []verdict            `yaml:"analysis"`
}

// oneOf decodes a scalar that must be one of allowed, naming the line, the field and the allowed values.
func oneOf(n *yaml.Node, field string, allowed []string) (string, error) {
	var s string
	if err := n.Decode(&s); err != nil {
		return "", err
	}
	if !slices.Contains(allowed, s) {
		return "", fmt.Errorf("line %d: %s %q is not allowed; allowed: %s", n.Line, field, s, strings.Join(allowed, ", "))
	}
	return s, nil
}

type status string

func (s *status) UnmarshalYAML(n *yaml.Node) error {
	v, err := oneOf(n, "then.status", []string{pipelinetest.StatusSuccess, pipelinetest.StatusFailure, pipelinetest.StatusCancelled})
	*s = status(v)
	return err
}

type verdict string

func (v *verdict) UnmarshalYAML(n *yaml.Node) error {
	s, err := oneOf(n, "then.analysis", []string{"PASS", "FAIL", "INCONCLUSIVE"})
	*v = verdict(s)
	return err
}

type method string

func (m *method) UnmarshalYAML(n *yaml.Node) error {
	s, err := oneOf(n, "faults[].method", fakerun.Methods)
	*m = method(s)
	return err
}

type grpcCode codes.Code

func (c *grpcCode) UnmarshalYAML(n *yaml.Node) error {
	s, err := oneOf(n, "faults[].code", allCodeNames())
	for i := codes.OK; i <= codes.Unauthenticated; i++ {
		if codeName(i) == s {
			*c = grpcCode(i)
		}
	}
	return err
}

var camelCase = regexp.MustCompile(`([a-z])([A-Z])`)

// codeName is a gRPC code's name as Cloud Run and gcloud print it: UNAVAILABLE, RESOURCE_EXHAUSTED.
func codeName(c codes.Code) string {
	return strings.ToUpper(camelCase.ReplaceAllString(c.String(), "${1}_${2}"))
}

func allCodeNames() []string {
	var out []string
	for i := codes.OK; i <= codes.Unauthenticated; i++ {
		out = append(out, codeName(i))
	}
	return out
}

// yamlTypeNames are the Go types the YAML decoder names in its errors, in the scenario's words.
var yamlTypeNames = strings.NewReplacer(
	"in type main.scenario", "in a scenario (allowed: name, app, targets, timeout, given, when, then)",
	"in type main.change", "in given or when (allowed: image, edits, files, behaviors, faults, load)",
	"in type main.edit", "in an edit (allowed: file, replace, with)",
	"in type main.behavior", "in a behavior (allowed: failReadiness, readinessDelay, errorRate, errorCode, latency, jitter, task)",
	"in type main.task", "in a task behavior (allowed: duration, exitCode, failTasks, failAttempts, failureRate)",
	"in type main.fault", "in a fault (allowed: method, code, times, delay)",
	"in type main.expectations", "in then (allowed: status, failedStage, stages, rolledBack, traffic, analysis)",
	"in type pipelinetest.Route", "in a route (allowed: revision, percent, tag)",
	"in type pipelinetest.Target", "in a target (allowed: name, region)",
	"main.", "", "pipelinetest.", "",
)

// loadScenarios reads every scenario of the files, strictly: an unknown field, a value of the wrong type or
// outside its allowed values, or a missing required field is an error naming the file and the line. It
// reads the applications too, so that a missing directory or an edit that does not apply is reported before
// anything is deployed.
func loadScenarios(files []string) ([]*scenario, error) {
	var out []*scenario
	var errs []error
	names := map[string]string{}
	for _, f := range files {
		scs, err := loadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, sc := range scs {
			where := fmt.Sprintf("%s:%d", sc.file, sc.line)
			if prev, ok := names[sc.Name]; ok {
				errs = append(errs, fmt.Errorf("%s: name %q is already the name of the scenario at %s", where, sc.Name, prev))
				continue
			}
			names[sc.Name] = where
			out = append(out, sc)
		}
	}
	return out, errors.Join(errs...)
}

func loadFile(file string) ([]*scenario, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	// Two passes over the documents: nodes for each scenario's first line, then the strict decoding (unknown
	// fields refused, which Node.Decode does not do).
	lines := yaml.NewDecoder(bytes.NewReader(raw))
	strict := yaml.NewDecoder(bytes.NewReader(raw))
	strict.KnownFields(true)
	var out []*scenario
	for {
		var doc yaml.Node
		err := lines.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlError(file, err)
		}
		sc := &scenario{file: file, line: doc.Line}
		if len(doc.Content) > 0 {
			sc.line = doc.Content[0].Line
		}
		if err := strict.Decode(sc); err != nil {
			return nil, yamlError(file, err)
		}
		if err := sc.validate(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, sc.line, err)
		}
		out = append(out, sc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no scenario in the file", file)
	}
	return out, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlError renders the decoder's errors as file:line: message, one a line, in the scenario's words.
func yamlError(file string, err error) error {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for i, m := range msgs {
		m = yamlTypeNames.Replace(m)
		if loc := yamlLine.FindStringSubmatch(m); loc != nil {
			msgs[i] = file + ":" + loc[1] + ": " + m[len(loc[0]):]
		} else {
			msgs[i] = file + ": " + strings.TrimPrefix(m, "yaml: ")
		}
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// validate checks the required fields and reads the application, applying both deployments' changes.
func (sc *scenario) validate() error {
	switch {
	case sc.Name == "":
		return errors.New("name is required")
	case sc.App == "":
		return errors.New("app is required: the application directory (holding app.pipecd.yaml), relative to the scenario file")
	case sc.When == nil:
		return errors.New("when is required: the change to deploy (image, edits, files)")
	case sc.Then == nil:
		return errors.New("then is required: what must hold after the deployment (status, failedStage, stages, rolledBack, traffic, analysis)")
	case sc.Timeout < 0:
		return errors.New("timeout must not be negative")
	}
	names := map[string]bool{}
	for i, t := range sc.Targets {
		if t.Name == "" || t.Region == "" || names[t.Name] {
			return fmt.Errorf("targets[%d]: a unique name and a region are required, got name %q, region %q", i, t.Name, t.Region)
		}
		names[t.Name] = true
	}
	sc.appDir = sc.App
	if !filepath.IsAbs(sc.appDir) {
		sc.appDir = filepath.Join(filepath.Dir(sc.file), sc.App)
	}
	if info, err := os.Stat(sc.appDir); err != nil || !info.IsDir() {
		return fmt.Errorf("app %q: no directory %s (app is relative to the scenario file)", sc.App, sc.appDir)
	}
	var err error
	if sc.Given != nil {
		if _, err = sc.deployment(sc.Given).Check(); err != nil {
			return fmt.Errorf("given: %w", err)
		}
	}
	if sc.kind, err = sc.deployment(sc.When).Check(); err != nil {
		return fmt.Errorf("when: %w", err)
	}
	if len(sc.Then.Traffic) > 0 && sc.kind == pipelinetest.KindJob {
		return errors.New("then.traffic: the application is a job, which has no traffic")
	}
	return nil
}

// deployment is the package's Deployment of a change of the scenario's application.
func (sc *scenario) deployment(c *change) pipelinetest.Deployment {
	d := pipelinetest.Deployment{AppDir: sc.appDir, Image: c.Image, Files: c.Files, Load: c.Load}
	for _, t := range sc.Targets {
		d.Targets = append(d.Targets, t.Name)
	}
	for _, e := range c.Edits {
		d.Edits = append(d.Edits, pipelinetest.Edit{File: e.File, Old: e.Replace, New: e.With})
	}
	if len(c.Behaviors) > 0 {
		d.Behaviors = map[string]pipelinetest.Behavior{}
	}
	for image, b := range c.Behaviors {
		fb := pipelinetest.Behavior{Fail: b.FailReadiness, ReadinessDelay: b.ReadinessDelay, ErrorRate: b.ErrorRate,
			ErrorCode: b.ErrorCode, Latency: b.Latency, Jitter: b.Jitter}
		if b.Task != nil {
			fb.Task = pipelinetest.TaskBehavior{Duration: b.Task.Duration, ExitCode: b.Task.ExitCode, FailTasks: b.Task.FailTasks,
				FailAttempts: b.Task.FailAttempts, FailureRate: b.Task.FailureRate}
		}
		d.Behaviors[image] = fb
	}
	for _, f := range c.Faults {
		d.Faults = append(d.Faults, pipelinetest.Fault{Method: string(f.Method), Code: codes.Code(f.Code), Times: f.Times, Delay: f.Delay})
	}
	return d
}
