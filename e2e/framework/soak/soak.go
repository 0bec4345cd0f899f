// Package soak is the soak's harness: many deployments through one plugin process with random faults
// (plan.go), SIGKILL and restarts of the plugin (restarter.go), and an oracle after each deployment
// (oracle.go). The spec (soak_test.go in the suite) tells the story: create the services, run, check.
//
// Like the framework, it fails the running spec with Gomega, so it is used from Ginkgo specs.
package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	"github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// The soak's size and seed, from the environment: SeedEnv replays a run (the same deployments and faults, in
// the same order per service; the interleaving of services still varies), DeploymentsEnv makes a long run.
const (
	SeedEnv        = "E2E_SOAK_SEED"
	DeploymentsEnv = "E2E_SOAK_DEPLOYMENTS"
	// ShortRun is the number of deployments of make test's run.
	ShortRun = 100
	// Services is how many services deploy at once, one deployment after another each.
	Services = 34
	// SecondTarget is the second deploy target, in SecondRegion of the same fakerun.
	SecondTarget = "second"
	SecondRegion = "us-central1"
)

// The leak check's bounds: the plugin's goroutines at the end over those of the quiet process just after its
// last restart, and its RSS at the end over 1.5 times the first process's after the first deployments (a fresh
// process has not grown its heap yet).
const (
	GoroutineSlack = 10
	RSSSlackKB     = 32 * 1024
)

// readinessTimeout is the readiness timeout of CLOUDRUN_SYNC (pipeline and quick sync) in the soak's
// applications; revisions of a "readiness slower than the timeout" fault take slowReadiness.
const (
	readinessTimeout = 2 * time.Second
	slowReadiness    = 3 * time.Second
)

// pipeline is the soak's application: a canary (SYNC at 0% with a preview tag, 30%, WAIT, 100%, cleanup)
// whose SYNC and quick sync time out after readinessTimeout.
const pipeline = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: %[1]s
  planner:
    autoRollback: true
  pipeline:
    stages:
      - name: CLOUDRUN_SYNC
        with:
          skipTrafficShift: true
          tag: true
          timeout: %[2]s
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 30
      - name: WAIT
        with:
          duration: 10s
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 100
      - name: CLOUDRUN_CANARY_CLEANUP
        with:
          keepCount: 2
  plugins:
    cloudrun:
      input:
        serviceManifestFile: service.yaml
      quickSync:
        timeout: %[2]s
`

// manifest is the soak's service: every deployment has its own image and greeting, so its own template.
const manifest = `name: %s
labels:
  team: soak
template:
  containers:
    - image: %s
      env:
        - name: GREETING
          value: %s
`

// canaryStages is the number of stages of pipeline (WAIT included).
const canaryStages = 5

// Size returns the seed (SeedEnv, else random) and the number of deployments (DeploymentsEnv, else ShortRun).
func Size() (seed uint64, deployments int) {
	GinkgoHelper()
	seed = uint64(rand.Uint32())
	if v := os.Getenv(SeedEnv); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		Expect(err).NotTo(HaveOccurred(), "%s must be an unsigned integer", SeedEnv)
	}
	deployments = ShortRun
	if v := os.Getenv(DeploymentsEnv); v != "" {
		var err error
		deployments, err = strconv.Atoi(v)
		Expect(err).NotTo(HaveOccurred(), "%s must be an integer", DeploymentsEnv)
		Expect(deployments).To(BeNumerically(">=", 2), "%s must be at least 2", DeploymentsEnv)
	}
	return seed, deployments
}

// Timeout bounds the spec: about 3 s per deployment over Services at once, plus the set-up.
func Timeout() time.Duration {
	n := ShortRun
	if v, err := strconv.Atoi(os.Getenv(DeploymentsEnv)); err == nil && v > n {
		n = v
	}
	return 3*time.Minute + time.Duration(n)*3*time.Second
}

// app is one service of the soak and the deploy targets its deployments use.
type app struct {
	id      string
	targets []string
	// lastSuccess is the commit of its last successful deployment: the running commit, whose preview tag the
	// next successful deployment drops.
	lastSuccess string
}

// Soak is one run: its environment, the restarts of the plugin and what the oracle saw.
type Soak struct {
	e       *framework.Environment
	seed    uint64
	image   string
	restart *restarter
	apps    []*app

	mu       sync.Mutex
	faults   map[faultKind]int
	outcomes map[outcome]int
	statuses map[model.DeploymentStatus]int
	canaries int
	problems []string
	// revisions are the revisions seen per service and commit (commit[:7] → names), for "no revision created
	// twice for one commit".
	revisions map[string]map[string]map[string]bool
	// firstLines counts the first error lines of the failed stages.
	firstLines map[string]int
}

// New prepares a run with seed on e, whose deploy targets are LocalDeployTarget and SecondTarget; every
// deployment's image is a tag of image.
func New(e *framework.Environment, seed uint64, image string) *Soak {
	return &Soak{
		e: e, seed: seed, image: image, restart: &restarter{pd: e.Piped},
		faults: map[faultKind]int{}, outcomes: map[outcome]int{}, statuses: map[model.DeploymentStatus]int{},
		revisions: map[string]map[string]map[string]bool{}, firstLines: map[string]int{},
	}
}

// CreateServices creates the Services services by quick sync, on LocalDeployTarget, SecondTarget or both.
func (s *Soak) CreateServices(ctx context.Context) {
	GinkgoHelper()
	targetSets := [][]string{{framework.LocalDeployTarget}, {SecondTarget}, {framework.LocalDeployTarget, SecondTarget}}
	s.apps = make([]*app, Services)
	var wg sync.WaitGroup
	for i := range s.apps {
		s.apps[i] = &app{id: fmt.Sprintf("soak-%02d", i), targets: targetSets[i%len(targetSets)]}
		wg.Go(func() {
			defer GinkgoRecover()
			commit := framework.Commit()
			res := s.e.Deploy(ctx, s.deployInput(s.apps[i], commit, fmt.Sprintf("%s:soak-%d-init", s.image, s.seed), nil, piped.Hooks{}))
			framework.ExpectSuccess(res)
			s.apps[i].lastSuccess = commit
		})
	}
	wg.Wait()
	// A service on both deploy targets: its live state connects a restarted plugin to both.
	s.restart.warmUp = s.deployInput(s.apps[len(targetSets)-1], framework.Commit(), s.image, nil, piped.Hooks{}).Source()
}

// Run runs deployments 0 to total-1: deployment n on service n % Services, each service's in order, the
// services at once; kills are the deployments that SIGKILL the plugin (see Kills).
func (s *Soak) Run(ctx context.Context, total int, kills map[int]bool) {
	var wg sync.WaitGroup
	for w, a := range s.apps {
		wg.Go(func() {
			defer GinkgoRecover()
			for n := w; n < total && ctx.Err() == nil; n += len(s.apps) {
				s.deploy(ctx, a, drawPlan(s.seed, n, s.image, kills[n]))
			}
		})
	}
	wg.Wait()
}

// Restarts returns how many times the plugin was killed, its footprint just after the last restart, and
// what failed in restarting it.
func (s *Soak) Restarts() (kills int, baseline framework.ProcessStats, err error) {
	s.restart.mu.Lock()
	defer s.restart.mu.Unlock()
	return s.restart.kills, s.restart.baseline, s.restart.err
}

// SettledStats returns the plugin's footprint once its goroutines are back within GoroutineSlack of
// baseline, or after 10 s: the goroutines of the last stages may still be ending.
func (s *Soak) SettledStats(ctx context.Context, baseline framework.ProcessStats) (framework.ProcessStats, error) {
	end, err := framework.PluginStats(ctx, s.e.Piped)
	for deadline := time.Now().Add(10 * time.Second); err == nil && end.Goroutines > baseline.Goroutines+GoroutineSlack && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		end, err = framework.PluginStats(ctx, s.e.Piped)
	}
	return end, err
}

// Problems returns what the oracle found, each in full, in the order found.
func (s *Soak) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.problems)
}

// Others returns how many deployments left a deploy target neither exactly new nor exactly as before.
func (s *Soak) Others() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outcomes[outcomeOther]
}

func (s *Soak) count(f faultKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[f]++
}

func (s *Soak) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	GinkgoWriter.Printf("SOAK PROBLEM (seed %d): %s\n", s.seed, msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, msg)
}

// deployInput is a deployment of a at commit with image; a canary plan forces the pipeline, else a quick sync.
func (s *Soak) deployInput(a *app, commit, image string, p *plan, hooks piped.Hooks) framework.DeployInput {
	strategy := model.SyncStrategy_QUICK_SYNC
	if p != nil && p.canary {
		strategy = model.SyncStrategy_PIPELINE
	}
	return framework.DeployInput{
		App: "canary", AppID: a.id, Commit: commit, DeployTargets: a.targets, SyncStrategy: strategy, Hooks: hooks,
		Files: map[string]string{
			"app.pipecd.yaml": fmt.Sprintf(pipeline, a.id, readinessTimeout),
			"service.yaml":    fmt.Sprintf(manifest, a.id, image, "hello from "+commit[:7]),
		},
	}
}

// serviceName is the full name of service id on a deploy target of the soak.
func (s *Soak) serviceName(id, deployTarget string) string {
	if deployTarget == SecondTarget {
		return naming.ServiceName(s.e.Target.Project(), SecondRegion, id)
	}
	return s.e.ServiceName(id)
}

// deploy runs one deployment with its fault and checks what it left.
func (s *Soak) deploy(ctx context.Context, a *app, p plan) {
	s.restart.wait()
	fr := s.e.Fakerun
	before := map[string]*runpb.Service{}
	for _, t := range a.targets {
		svc, err := fr.Service(s.serviceName(a.id, t))
		if err != nil {
			s.problem("%s: reading service %s on %s before: %v", p, a.id, t, err)
			return
		}
		before[t] = svc
	}
	if b, ok := readinessFaults[p.fault]; ok {
		Expect(fr.SetBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{p.image: b}})).To(Succeed())
	}
	if p.fault != faultKill && p.fault != faultTrafficEdit {
		s.count(p.fault) // the kill and the edit are counted when they happen
	}

	// edits are the tags added out of band, by deploy target: both outcomes keep them.
	edits := map[string][]string{}
	hooks := piped.Hooks{
		OnStageStart: func(r *piped.Run, st piped.StageRecord) {
			s.restart.wait()
			if st.Rollback || st.Index != p.stage || st.Executions != 1 {
				return
			}
			switch p.fault {
			case faultUnavailable, faultAborted, faultExhausted:
				fr.InjectFault(p.method, fakerun.Fault{Code: burstCodes[p.fault], Times: p.times,
					Message: fmt.Sprintf("soak: injected %s burst", burstCodes[p.fault])})
			case faultSlowWrite:
				fr.InjectFault(p.method, fakerun.Fault{Delay: p.delay, Times: p.times})
			case faultCancel:
				go func() {
					time.Sleep(p.delay / 4)
					r.Cancel()
				}()
			case faultKill:
				go func() {
					time.Sleep(p.delay / 4)
					if s.restart.kill(ctx) {
						s.count(faultKill)
					}
				}()
			}
		},
		OnStageEnd: func(_ *piped.Run, st piped.StageRecord) {
			if p.fault != faultTrafficEdit || st.Rollback || st.Index != p.stage || st.Status != model.StageStatus_STAGE_SUCCESS {
				return
			}
			t := a.targets[p.n%len(a.targets)]
			tag := fmt.Sprintf("oob-%d", p.n)
			if s.tagOutOfBand(ctx, s.serviceName(a.id, t), tag, framework.ShortName(before[t].GetTemplate().GetRevision())) {
				edits[t] = append(edits[t], framework.Route(framework.ShortName(before[t].GetTemplate().GetRevision()), 0, tag))
				s.count(faultTrafficEdit)
			}
		},
	}

	in := s.deployInput(a, p.commit, p.image, &p, hooks)
	var run *piped.Run
	for attempt := 0; ; attempt++ {
		var err error
		if run, err = s.e.Piped.Start(ctx, in.Deployment()); err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil {
			s.problem("%s: planning failed: %v", p, err)
			return
		}
		s.restart.wait() // planning asks the plugin, which may be restarting
		time.Sleep(200 * time.Millisecond)
	}
	res, err := run.Wait()
	for err == nil && res.Terminated && ctx.Err() == nil {
		s.restart.wait()
		if err = run.Resume(ctx); err == nil {
			res, err = run.Wait()
		}
	}
	if err != nil || res.Terminated {
		s.problem("%s: did not end: %v", p, err)
		return
	}
	s.e.Keep(res)
	s.check(a, p, res, before, edits)
}

// tagOutOfBand adds a 0% tag-only entry for revision to a service, as someone with gcloud would, retrying
// through the injected faults; it reports whether the tag is there.
func (s *Soak) tagOutOfBand(ctx context.Context, name, tag, revision string) bool {
	for range 10 {
		err := func() error {
			ctx, cancel := context.WithTimeout(ctx, framework.IntervalRead)
			defer cancel()
			svc, err := s.e.ServicesClient.GetService(ctx, &runpb.GetServiceRequest{Name: name})
			if err != nil {
				return err
			}
			svc.Traffic = append(svc.Traffic, framework.RevisionTarget(revision, 0, tag))
			op, err := s.e.ServicesClient.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
			if err != nil {
				return err
			}
			_, err = op.Wait(ctx)
			return err
		}()
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	svc, err := s.e.Fakerun.Service(name)
	return err == nil && slices.Contains(framework.Traffic(svc.GetTraffic()), framework.Route(revision, 0, tag))
}
