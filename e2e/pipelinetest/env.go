package pipelinetest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// Defaults of Options.
const (
	DefaultTarget    = "local"
	DefaultRegion    = "asia-northeast1"
	DefaultProject   = "pipelinetest"
	DefaultTimeScale = 0.01
)

// Behavior is what the revisions of an image do on fakerun: fail to become ready (Fail), become ready late
// (ReadinessDelay), answer with errors (ErrorRate, ErrorCode) or slowly (Latency), and what job tasks do
// (Task). See fakerun.Behavior.
type Behavior = fakerun.Behavior

// TaskBehavior is what each task of a job execution does (see fakerun.TaskBehavior).
type TaskBehavior = fakerun.TaskBehavior

// Fault makes calls of one Cloud Run Admin API method fail with a gRPC code or answer late.
type Fault struct {
	// Method is the RPC's short name, e.g. "UpdateService" (see fakerun.Methods).
	Method string
	// Code is the gRPC code returned; codes.OK only applies Delay.
	Code codes.Code
	// Times is how many calls the fault affects; 0 means every call of the deployment.
	Times int
	// Delay is added before the call is answered.
	Delay time.Duration
}

// Target is one of the plugin's deploy targets: a name (as in piped.yaml) and the fakerun region it maps to.
type Target struct {
	Name   string
	Region string
}

// Options configure Start. The zero value is valid.
type Options struct {
	// Plugin is the plugin binary to run. Default: LocalBuild().
	Plugin Plugin
	// Targets are the plugin's deploy targets, each a region of one fakerun project. Default: one target
	// DefaultTarget in DefaultRegion.
	Targets []Target
	// Project is the Google Cloud project of every target. Default: DefaultProject.
	Project string
	// TimeScale multiplies WAIT durations and the durations of CLOUDRUN_ANALYSIS stages. Default:
	// DefaultTimeScale (a 10m analysis takes 6s); 1 keeps them.
	TimeScale float64
	// Fakerun is the address (host:port) of a running fakerun to deploy to, such as the released image's
	// container (`docker run -p 127.0.0.1:8080:8080 fakerun:vX.Y.Z`), turned through its admin API. Its
	// behaviours and faults are shared: run one Env on it at a time. Default: a fakerun in process.
	Fakerun string
	// Log receives a readable progress log: each stage, its log lines and its status. Default: none.
	Log io.Writer
}

// Env is a running fakerun, the plugin and the piped driving it. Deployments of one Env run one at a time
// per application (as piped does); use one Env per test to run tests in parallel.
type Env struct {
	opts     Options
	fakerun  control
	driver   *piped.Piped
	services *run.ServicesClient
	jobs     *run.JobsClient
	log      *progress
}

// Start starts fakerun in process, obtains the plugin and starts it under piped with opts.Targets pointing
// at fakerun. Close stops everything.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.Plugin.resolve == nil {
		opts.Plugin = LocalBuild()
	}
	if len(opts.Targets) == 0 {
		opts.Targets = []Target{{Name: DefaultTarget, Region: DefaultRegion}}
	}
	if opts.Project == "" {
		opts.Project = DefaultProject
	}
	if opts.TimeScale == 0 {
		opts.TimeScale = DefaultTimeScale
	}
	seen := map[string]bool{}
	for i, t := range opts.Targets {
		if t.Name == "" || t.Region == "" || seen[t.Name] {
			return nil, fmt.Errorf("pipelinetest: Options.Targets[%d] %+v: a unique name and a region are required", i, t)
		}
		seen[t.Name] = true
	}
	e := &Env{opts: opts, log: &progress{w: opts.Log}}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	bin, err := opts.Plugin.resolve(ctx)
	if err != nil {
		return nil, fmt.Errorf("pipelinetest: the plugin (%s): %w", opts.Plugin, err)
	}
	if opts.Fakerun != "" {
		e.fakerun = remote{address: opts.Fakerun}
	} else {
		srv, err := fakerun.NewServer()
		if err != nil {
			return nil, fmt.Errorf("pipelinetest: start fakerun: %w", err)
		}
		e.fakerun = inProcess{srv: srv}
	}
	if e.services, err = run.NewServicesClient(ctx, e.fakerun.clientOptions()...); err != nil {
		return nil, err
	}
	if e.jobs, err = run.NewJobsClient(ctx, e.fakerun.clientOptions()...); err != nil {
		return nil, err
	}
	dts := make([]piped.DeployTarget, 0, len(opts.Targets))
	for _, t := range opts.Targets {
		dts = append(dts, piped.DeployTarget{Name: t.Name, Config: map[string]any{
			"project": opts.Project, "region": t.Region, "endpoint": e.fakerun.addr(), "insecure": true,
		}})
	}
	e.driver, err = piped.New(ctx, piped.WithPluginBinary(bin), piped.WithTimeScale(opts.TimeScale),
		piped.WithGracePeriod(5*time.Second), piped.WithDeployTargets(dts...))
	if err != nil {
		return nil, fmt.Errorf("pipelinetest: start the plugin %s: %w", bin, err)
	}
	e.log.printf("fakerun at %s; plugin %s (%s), deploy targets %s", e.fakerun.addr(), bin, opts.Plugin, targetNames(opts.Targets))
	return e, nil
}

// Close stops the plugin, piped and fakerun.
func (e *Env) Close() {
	if e.driver != nil {
		e.driver.Close()
	}
	for _, c := range []io.Closer{e.services, e.jobs} {
		if c != nil {
			_ = c.Close()
		}
	}
	if e.fakerun != nil {
		_ = e.fakerun.close()
	}
}

// Fakerun is the in-process fakerun, for what this package does not wrap (its state, call log, clock); nil
// with Options.Fakerun.
func (e *Env) Fakerun() *fakerun.Server {
	if c, ok := e.fakerun.(inProcess); ok {
		return c.srv
	}
	return nil
}

// Deployment is one deployment of an application directory: a commit changing its image or files, with the
// behaviours and faults that the change meets.
type Deployment struct {
	// AppDir holds app.pipecd.yaml and the manifest it names. Required.
	AppDir string
	// Image replaces the first container image of the manifest. Default: the manifest's.
	Image string
	// Edits change files of the application directory, after Files.
	Edits []Edit
	// Files replace or add files (path relative to AppDir → content).
	Files map[string]string
	// Targets names the deploy targets to deploy to. Default: the first of Options.Targets.
	Targets []string
	// QuickSync forces a quick sync, as the web console's sync button does (e.g. to set up the live state).
	QuickSync bool
	// Behaviors are what the revisions of each image do, from this deployment on.
	Behaviors map[string]Behavior
	// Faults hit the Cloud Run API during this deployment; the ones not used up are cleared after it.
	Faults []Fault
	// Load makes fakerun send this many requests a second to each service of the application from the start
	// of the deployment, for CLOUDRUN_ANALYSIS to judge, until the Env closes (10 minutes at most). Default: none.
	Load int
}

// Deploy runs a deployment to its end and returns its outcome. The error is for a deployment that could not
// run (a bad application directory, a planning error); a failed deployment is a Result.
func (e *Env) Deploy(ctx context.Context, d Deployment) (*Result, error) {
	if d.AppDir == "" {
		return nil, errNoAppDir
	}
	a, err := readApp(d.AppDir, e.driver.PluginName())
	if err != nil {
		return nil, err
	}
	files, err := a.files(d, e.opts.TimeScale)
	if err != nil {
		return nil, err
	}
	targets, err := e.targets(d.Targets)
	if err != nil {
		return nil, err
	}
	if _, err := d.Check(); err != nil {
		return nil, fmt.Errorf("pipelinetest: %w", err)
	}
	if len(d.Behaviors) > 0 {
		if err := e.fakerun.setBehaviors(ctx, fakerun.Behaviors{Images: d.Behaviors}); err != nil {
			return nil, fmt.Errorf("pipelinetest: Deployment.Behaviors: %w", err)
		}
	}
	for i, f := range d.Faults {
		if err := e.fakerun.injectFault(ctx, f); err != nil {
			return nil, fmt.Errorf("pipelinetest: Deployment.Faults[%d]: %w", i, err)
		}
	}
	if len(d.Faults) > 0 {
		defer func() { _ = e.fakerun.clearFaults(context.WithoutCancel(ctx)) }()
	}

	res := &Result{App: a.name, Kind: a.kind}
	for _, t := range targets {
		before, err := e.read(ctx, a, t)
		if err != nil {
			return nil, err
		}
		res.Targets = append(res.Targets, TargetResult{Target: t, Before: before})
		if d.Load > 0 && before.Service != nil {
			if err := e.fakerun.startLoad(ctx, fakerun.Load{URL: before.Service.GetUri(), Rate: d.Load, Duration: 10 * time.Minute}); err != nil {
				return nil, fmt.Errorf("pipelinetest: Deployment.Load: %w", err)
			}
		}
	}
	dep := piped.Deployment{AppDir: a.dir, AppID: a.name, Files: files, DeployTargets: targetNames(targets), Hooks: e.log.hooks()}
	if d.QuickSync {
		dep.SyncStrategy = model.SyncStrategy_QUICK_SYNC
	}
	e.log.printf("deploying %s %s (%s) to %s", a.kind, a.name, describe(d), targetNames(targets))
	out, err := e.driver.Deploy(ctx, dep)
	if err != nil {
		return nil, fmt.Errorf("pipelinetest: deploy %s: %w", a.dir, err)
	}
	res.fill(out)
	for i := range res.Targets {
		if res.Targets[i].After, err = e.read(ctx, a, res.Targets[i].Target); err != nil {
			return nil, err
		}
	}
	e.log.printf("deployment of %s ended %s%s", a.name, res.Status, reasonSuffix(res.Reason))
	return res, nil
}

// targets resolves deploy target names (default: the first).
func (e *Env) targets(names []string) ([]Target, error) {
	if len(names) == 0 {
		return e.opts.Targets[:1], nil
	}
	byName := map[string]Target{}
	for _, t := range e.opts.Targets {
		byName[t.Name] = t
	}
	out := make([]Target, 0, len(names))
	for _, n := range names {
		t, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("pipelinetest: deploy target %q; allowed: %v", n, slices.Sorted(maps.Keys(byName)))
		}
		out = append(out, t)
	}
	return out, nil
}

// read reads the application's service or job on target t (nil when it does not exist).
func (e *Env) read(ctx context.Context, a *app, t Target) (*State, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var err error
	s := &State{}
	if a.kind == KindJob {
		name := fmt.Sprintf("projects/%s/locations/%s/jobs/%s", e.opts.Project, t.Region, a.name)
		s.Job, err = e.jobs.GetJob(ctx, &runpb.GetJobRequest{Name: name})
	} else {
		s.Service, err = e.services.GetService(ctx, &runpb.GetServiceRequest{Name: naming.ServiceName(e.opts.Project, t.Region, a.name)})
	}
	if status.Code(err) == codes.NotFound {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pipelinetest: read %s %s in %s: %w", a.kind, a.name, t.Region, err)
	}
	return s, nil
}

// State is an application's service or job on one deploy target, as the Cloud Run API returns it; both nil
// when it does not exist.
type State struct {
	Service *runpb.Service
	Job     *runpb.Job
}

// Equivalent reports whether two states deploy the same thing: the same template and traffic block of a
// service, or the same template of a job (generations, etags and timestamps aside).
func (s *State) Equivalent(o *State) bool {
	switch {
	case s.Service != nil && o.Service != nil:
		return proto.Equal(s.Service.GetTemplate(), o.Service.GetTemplate()) &&
			slices.Equal(routesOf(s.Service.GetTraffic()), routesOf(o.Service.GetTraffic()))
	case s.Job != nil && o.Job != nil:
		return proto.Equal(s.Job.GetTemplate(), o.Job.GetTemplate())
	default:
		return s.Service == nil && o.Service == nil && s.Job == nil && o.Job == nil
	}
}

func targetNames(ts []Target) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func describe(d Deployment) string {
	s := "image unchanged"
	if d.Image != "" {
		s = "image " + d.Image
	}
	if n := len(d.Edits) + len(d.Files); n > 0 {
		s += fmt.Sprintf(", %d file change(s)", n)
	}
	if d.QuickSync {
		s += ", quick sync"
	}
	return s
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}
