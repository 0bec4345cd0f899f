package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// The soak's size and seed, from the environment: E2E_SOAK_SEED replays a run (the same deployments and
// faults, in the same order per service; the interleaving of services still varies), E2E_SOAK_DEPLOYMENTS
// makes a long run.
const (
	soakSeedEnv        = "E2E_SOAK_SEED"
	soakDeploymentsEnv = "E2E_SOAK_DEPLOYMENTS"
	// soakShortRun is the number of deployments of make test's run.
	soakShortRun = 100
	// soakServices is how many services deploy at once, one deployment after another each.
	soakServices = 34
	// soakReadinessTimeout is the readiness timeout of CLOUDRUN_SYNC (pipeline and quick sync) in the soak's
	// applications; revisions of a "readiness slower than the timeout" fault take soakSlowReadiness.
	soakReadinessTimeout = 2 * time.Second
	soakSlowReadiness    = 3 * time.Second
	// soakSecondTarget is the second deploy target, another region of the same fakerun.
	soakSecondTarget = "second"
	soakSecondRegion = "us-central1"
)

// soakPipeline is the soak's application: a canary (SYNC at 0% with a preview tag, 30%, WAIT, 100%, cleanup)
// whose SYNC and quick sync time out after soakReadinessTimeout.
const soakPipeline = `apiVersion: pipecd.dev/v1beta1
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

// soakManifest is the soak's service: every deployment has its own image and greeting, so its own template.
const soakManifest = `name: %s
labels:
  team: soak
template:
  containers:
    - image: %s
      env:
        - name: GREETING
          value: %s
`

// soakCanaryStages is the number of stages of soakPipeline (WAIT included).
const soakCanaryStages = 5

// faultKind is one kind of fault the soak injects into a deployment.
type faultKind string

const (
	faultNone               faultKind = "none"
	faultUnavailable        faultKind = "UNAVAILABLE burst"
	faultAborted            faultKind = "ABORTED burst"
	faultExhausted          faultKind = "RESOURCE_EXHAUSTED burst"
	faultSlowWrite          faultKind = "slow write"
	faultRevisionFails      faultKind = "revision fails"
	faultNeverReady         faultKind = "revision never ready"
	faultReadinessOverLimit faultKind = "readiness slower than the timeout"
	faultTrafficEdit        faultKind = "out-of-band traffic edit"
	faultCancel             faultKind = "cancellation"
	faultKill               faultKind = "SIGKILL + restart"
)

// soakFaults are the kinds a deployment draws from (SIGKILL is planned apart), none twice as often as the others.
var soakFaults = []faultKind{
	faultNone, faultNone, faultUnavailable, faultAborted, faultExhausted, faultSlowWrite, faultRevisionFails,
	faultNeverReady, faultReadinessOverLimit, faultTrafficEdit, faultCancel,
}

// burstCodes are the codes of the API bursts.
var burstCodes = map[faultKind]codes.Code{
	faultUnavailable: codes.Unavailable, faultAborted: codes.Aborted, faultExhausted: codes.ResourceExhausted,
}

// readinessFaults are the faults that are the behaviour of the deployment's image in fakerun.
var readinessFaults = map[faultKind]fakerun.Behavior{
	faultRevisionFails:      {Fail: true},
	faultNeverReady:         {ReadinessDelay: time.Hour},
	faultReadinessOverLimit: {ReadinessDelay: soakSlowReadiness},
}

// burstMethods are the Cloud Run RPCs the plugin's stages call, which the bursts and slow writes hit.
var burstMethods = []string{"GetService", "UpdateService", "GetRevision", "GetOperation", "ListRevisions"}

// soakApp is one service of the soak and the deploy targets its deployments use.
type soakApp struct {
	id      string
	targets []string
	// lastSuccess is the commit of its last successful deployment: the running commit, whose preview tag the
	// next successful deployment drops.
	lastSuccess string
}

// soakPlan is one deployment, drawn from the seed and its number alone.
type soakPlan struct {
	n      int
	canary bool
	commit string
	image  string
	fault  faultKind
	// stage is the index of the stage at whose start (at whose end, for a traffic edit) the fault strikes.
	stage int
	// times is how many calls a burst or slow write affects; method is the RPC.
	times  int
	method string
	// delay is the slow write's delay, or how long after the stage started to cancel or kill.
	delay time.Duration
}

func (p soakPlan) String() string {
	kind := "quick sync"
	if p.canary {
		kind = "canary"
	}
	return fmt.Sprintf("deployment #%d (%s, commit %s, image %s, fault %q at stage %d: method %s times %d delay %s)",
		p.n, kind, p.commit[:7], p.image, p.fault, p.stage, p.method, p.times, p.delay)
}

// drawPlan draws deployment n's plan from the seed.
func drawPlan(seed uint64, n int, kill bool) soakPlan {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	p := soakPlan{n: n, canary: rng.IntN(4) == 0}
	p.commit = fmt.Sprintf("%016x%016x%08x", rng.Uint64(), rng.Uint64(), rng.Uint32())
	p.image = fmt.Sprintf("%s:soak-%d-%d", sampleImage, seed, n)
	p.fault = soakFaults[rng.IntN(len(soakFaults))]
	if kill {
		p.fault = faultKill
	}
	switch {
	case !p.canary && p.fault == faultTrafficEdit:
		p.fault = faultNone // a quick sync has no "between stages"
	case p.canary && p.fault == faultNone:
		p.fault = faultTrafficEdit
	}
	if p.canary {
		p.stage = rng.IntN(soakCanaryStages)
		if p.fault == faultTrafficEdit {
			p.stage = rng.IntN(soakCanaryStages - 1) // after a stage that another follows
		}
	}
	p.times = 1 + rng.IntN(3)
	p.method = burstMethods[rng.IntN(len(burstMethods))]
	p.delay = time.Duration(50+rng.IntN(1000)) * time.Millisecond
	if p.fault == faultSlowWrite {
		p.method = "UpdateService"
	}
	return p
}

// soakOutcome is what a deployment left on one deploy target.
type soakOutcome string

const (
	outcomeNew      soakOutcome = "new"
	outcomeRestored soakOutcome = "restored"
	outcomeOther    soakOutcome = "other"
)

// soak is one run: its environment, the restarts of the plugin and what the oracle saw.
type soak struct {
	e       *Environment
	seed    uint64
	restart *restarter

	mu       sync.Mutex
	faults   map[faultKind]int
	outcomes map[soakOutcome]int
	statuses map[model.DeploymentStatus]int
	canaries int
	problems []string
	// revisions are the revisions seen per service and commit (commit[:7] → names), for "no revision created
	// twice for one commit".
	revisions map[string]map[string]map[string]bool
	// firstLines counts the first error lines of the failed stages.
	firstLines map[string]int
}

func (s *soak) count(f faultKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[f]++
}

func (s *soak) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	GinkgoWriter.Printf("SOAK PROBLEM (seed %d): %s\n", s.seed, msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, msg)
}

// restarter kills the plugin with SIGKILL and starts it again, one kill at a time. While it does, no stage
// starts (the soak's hooks and deployments wait for it), so that once the new process has connected to both
// deploy targets (a live-state request) its footprint is a quiet baseline for the leak check.
type restarter struct {
	e *Environment
	// warmUp is the live-state request that connects the new process to both deploy targets.
	warmUp piped.Source

	mu       sync.Mutex
	back     chan struct{} // closed when the plugin runs again; nil when no kill is in progress
	kills    int
	baseline ProcessStats
	err      error
}

// kill kills the plugin, restarts it after a moment (the machine coming back) and measures the new process,
// unless a kill is in progress.
func (r *restarter) kill(ctx context.Context) bool {
	r.mu.Lock()
	if r.back != nil {
		r.mu.Unlock()
		return false
	}
	back := make(chan struct{})
	r.back = back
	r.kills++
	r.mu.Unlock()
	defer close(back)

	r.e.Piped.KillPlugin()
	time.Sleep(300 * time.Millisecond)
	err := r.e.Piped.RestartPlugin(ctx)
	var stats ProcessStats
	if err == nil {
		if _, err = r.e.Piped.Livestate(ctx, r.warmUp); err == nil {
			stats, err = PluginStats(ctx, r.e.Piped)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.back, r.baseline, r.err = nil, stats, errors.Join(r.err, err)
	return true
}

// wait returns once no kill is in progress.
func (r *restarter) wait() {
	r.mu.Lock()
	back := r.back
	r.mu.Unlock()
	if back != nil {
		<-back
	}
}

// soakSize returns the seed (E2E_SOAK_SEED, else random) and the number of deployments (E2E_SOAK_DEPLOYMENTS,
// else soakShortRun).
func soakSize() (seed uint64, deployments int) {
	GinkgoHelper()
	seed = uint64(rand.Uint32())
	if v := os.Getenv(soakSeedEnv); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		Expect(err).NotTo(HaveOccurred(), "%s must be an unsigned integer", soakSeedEnv)
	}
	deployments = soakShortRun
	if v := os.Getenv(soakDeploymentsEnv); v != "" {
		var err error
		deployments, err = strconv.Atoi(v)
		Expect(err).NotTo(HaveOccurred(), "%s must be an integer", soakDeploymentsEnv)
		Expect(deployments).To(BeNumerically(">=", 2), "%s must be at least 2", soakDeploymentsEnv)
	}
	return seed, deployments
}

// soakTimeout bounds the spec: about 3 s per deployment over soakServices at once, plus the set-up.
func soakTimeout() time.Duration {
	n := soakShortRun
	if v, err := strconv.Atoi(os.Getenv(soakDeploymentsEnv)); err == nil && v > n {
		n = v
	}
	return 3*time.Minute + time.Duration(n)*3*time.Second
}

var _ = Describe("Soak [soak]", Label("soak", "fakerun-only"), func() {
	It("keeps every service exactly new or exactly as before through many deployments with random faults", SpecTimeout(soakTimeout()), func(ctx SpecContext) {
		seed, total := soakSize()
		By(fmt.Sprintf("soak seed %d, %d deployments (replay: %s=%d %s=%d)", seed, total, soakSeedEnv, seed, soakDeploymentsEnv, total))
		AddReportEntry("soak seed", fmt.Sprintf("%s=%d %s=%d", soakSeedEnv, seed, soakDeploymentsEnv, total))
		e := newFakerunEnv(func(fr *target.Fakerun) []piped.DeployTarget {
			return []piped.DeployTarget{
				{Name: LocalDeployTarget, Config: fr.DeployTargetConfig(region)},
				{Name: soakSecondTarget, Config: fr.DeployTargetConfig(soakSecondRegion)},
			}
		})
		s := &soak{
			e: e, seed: seed, restart: &restarter{e: e},
			faults: map[faultKind]int{}, outcomes: map[soakOutcome]int{}, statuses: map[model.DeploymentStatus]int{},
			revisions: map[string]map[string]map[string]bool{}, firstLines: map[string]int{},
		}
		started := time.Now()

		By(fmt.Sprintf("creating %d services on deploy targets %s, %s or both, by quick sync", soakServices, LocalDeployTarget, soakSecondTarget))
		targetSets := [][]string{{LocalDeployTarget}, {soakSecondTarget}, {LocalDeployTarget, soakSecondTarget}}
		apps := make([]*soakApp, soakServices)
		var wg sync.WaitGroup
		for i := range apps {
			apps[i] = &soakApp{id: fmt.Sprintf("soak-%02d", i), targets: targetSets[i%len(targetSets)]}
			wg.Go(func() {
				defer GinkgoRecover()
				commit := Commit()
				res := e.Deploy(ctx, s.deployInput(apps[i], commit, fmt.Sprintf("%s:soak-%d-init", sampleImage, seed), nil, piped.Hooks{}))
				ExpectSuccess(res)
				apps[i].lastSuccess = commit
			})
		}
		wg.Wait()
		start, err := PluginStats(ctx, e.Piped)
		Expect(err).NotTo(HaveOccurred())
		s.restart.warmUp = s.deployInput(apps[len(targetSets)-1], Commit(), sampleImage, nil, piped.Hooks{}).Source()

		// One kill in each wave (soakServices deployments, one per service) of the first half.
		kills := map[int]bool{}
		rng := rand.New(rand.NewPCG(seed, 0))
		waves := (total + soakServices - 1) / soakServices
		for wave := range (waves + 1) / 2 {
			kills[min(total-1, wave*soakServices+rng.IntN(soakServices))] = true
		}
		By(fmt.Sprintf("running %d deployments, %d at once, with faults and %d SIGKILL + restarts of the plugin in the first half", total, soakServices, len(kills)))
		s.run(ctx, apps, total, kills)
		Expect(s.restart.err).NotTo(HaveOccurred(), "restarting the plugin")
		Expect(s.restart.kills).To(BeNumerically(">", 0), "the plugin was killed")
		baseline := s.restart.baseline

		end, err := PluginStats(ctx, e.Piped)
		for deadline := time.Now().Add(10 * time.Second); err == nil && end.Goroutines > baseline.Goroutines+soakGoroutineSlack && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond) // goroutines of the last stages may still be ending
			end, err = PluginStats(ctx, e.Piped)
		}
		Expect(err).NotTo(HaveOccurred())
		summary := s.summary(total, time.Since(started), start, baseline, end)
		AddReportEntry("soak summary", summary)

		By("checking every deployment left its services exactly new or exactly as before, and every failed stage said why")
		if len(s.problems) > 0 {
			Fail(fmt.Sprintf("%d problem(s), each printed in full above as SOAK PROBLEM; seed %d (replay with %s=%d %s=%d)\n%s\nthe first:\n%s",
				len(s.problems), seed, soakSeedEnv, seed, soakDeploymentsEnv, total, summary, s.problems[0][:min(len(s.problems[0]), 4000)]))
		}
		Expect(s.outcomes[outcomeOther]).To(BeZero())

		By("checking no revision was created twice for one commit")
		for svc, byCommit := range s.revisions {
			for commit, names := range byCommit {
				Expect(names).To(HaveLen(1), "service %s, commit %s (seed %d)", svc, commit, seed)
			}
		}

		By("checking the plugin's goroutines and RSS came back near where they started (a leak check)")
		Expect(end.Goroutines).To(BeNumerically("<=", baseline.Goroutines+soakGoroutineSlack),
			"goroutines after the soak; baseline just after the last restart: %s (seed %d)", baseline, seed)
		Expect(end.RSS).To(BeNumerically("<=", start.RSS*3/2+soakRSSSlackKB),
			"RSS after the soak; after the first deployments: %s (seed %d)", start, seed)
	})
})

// The leak check's bounds: the plugin's goroutines at the end over those of the quiet process just after its
// last restart, and its RSS at the end over 1.5 times the first process's after the first deployments (a fresh
// process has not grown its heap yet).
const (
	soakGoroutineSlack = 10
	soakRSSSlackKB     = 32 * 1024
)

// deployInput is a deployment of app at commit with image; canary forces the pipeline, else a quick sync.
func (s *soak) deployInput(app *soakApp, commit, image string, plan *soakPlan, hooks piped.Hooks) DeployInput {
	strategy := model.SyncStrategy_QUICK_SYNC
	if plan != nil && plan.canary {
		strategy = model.SyncStrategy_PIPELINE
	}
	return DeployInput{
		App: "canary", AppID: app.id, Commit: commit, DeployTargets: app.targets, SyncStrategy: strategy, Hooks: hooks,
		Files: map[string]string{
			"app.pipecd.yaml": fmt.Sprintf(soakPipeline, app.id, soakReadinessTimeout),
			"service.yaml":    fmt.Sprintf(soakManifest, app.id, image, "hello from "+commit[:7]),
		},
	}
}

// run runs deployments 0 to total-1: deployment n on service n % soakServices, each service's in order, the
// services at once; kills are the deployments that SIGKILL the plugin.
func (s *soak) run(ctx context.Context, apps []*soakApp, total int, kills map[int]bool) {
	var wg sync.WaitGroup
	for w, app := range apps {
		wg.Go(func() {
			defer GinkgoRecover()
			for n := w; n < total && ctx.Err() == nil; n += len(apps) {
				s.deploy(ctx, app, drawPlan(s.seed, n, kills[n]))
			}
		})
	}
	wg.Wait()
}

// serviceName is the full name of service id on a deploy target of the soak.
func (s *soak) serviceName(id, deployTarget string) string {
	if deployTarget == soakSecondTarget {
		return naming.ServiceName(s.e.Target.Project(), soakSecondRegion, id)
	}
	return s.e.ServiceName(id)
}

// deploy runs one deployment with its fault and checks what it left.
func (s *soak) deploy(ctx context.Context, app *soakApp, plan soakPlan) {
	s.restart.wait()
	fr := s.e.Fakerun
	before := map[string]*runpb.Service{}
	for _, t := range app.targets {
		svc, err := fr.Service(s.serviceName(app.id, t))
		if err != nil {
			s.problem("%s: reading service %s on %s before: %v", plan, app.id, t, err)
			return
		}
		before[t] = svc
	}
	if b, ok := readinessFaults[plan.fault]; ok {
		Expect(fr.SetBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{plan.image: b}})).To(Succeed())
	}
	if plan.fault != faultKill && plan.fault != faultTrafficEdit {
		s.count(plan.fault) // the kill and the edit are counted when they happen
	}

	// edits are the tags added out of band, by deploy target: both outcomes keep them.
	edits := map[string][]string{}
	hooks := piped.Hooks{
		OnStageStart: func(r *piped.Run, st piped.StageRecord) {
			s.restart.wait()
			if st.Rollback || st.Index != plan.stage || st.Executions != 1 {
				return
			}
			switch plan.fault {
			case faultUnavailable, faultAborted, faultExhausted:
				fr.InjectFault(plan.method, fakerun.Fault{Code: burstCodes[plan.fault], Times: plan.times,
					Message: fmt.Sprintf("soak: injected %s burst", burstCodes[plan.fault])})
			case faultSlowWrite:
				fr.InjectFault(plan.method, fakerun.Fault{Delay: plan.delay, Times: plan.times})
			case faultCancel:
				go func() {
					time.Sleep(plan.delay / 4)
					r.Cancel()
				}()
			case faultKill:
				go func() {
					time.Sleep(plan.delay / 4)
					if s.restart.kill(ctx) {
						s.count(faultKill)
					}
				}()
			}
		},
		OnStageEnd: func(_ *piped.Run, st piped.StageRecord) {
			if plan.fault != faultTrafficEdit || st.Rollback || st.Index != plan.stage || st.Status != model.StageStatus_STAGE_SUCCESS {
				return
			}
			t := app.targets[plan.n%len(app.targets)]
			tag := fmt.Sprintf("oob-%d", plan.n)
			if s.tagOutOfBand(ctx, s.serviceName(app.id, t), tag, ShortName(before[t].GetTemplate().GetRevision())) {
				edits[t] = append(edits[t], Route(ShortName(before[t].GetTemplate().GetRevision()), 0, tag))
				s.count(faultTrafficEdit)
			}
		},
	}

	in := s.deployInput(app, plan.commit, plan.image, &plan, hooks)
	var run *piped.Run
	for attempt := 0; ; attempt++ {
		var err error
		if run, err = s.e.Piped.Start(ctx, in.Deployment()); err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil {
			s.problem("%s: planning failed: %v", plan, err)
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
		s.problem("%s: did not end: %v", plan, err)
		return
	}
	s.e.Keep(res)
	s.check(app, plan, res, before, edits)
}

// tagOutOfBand adds a 0% tag-only entry for revision to a service, as someone with gcloud would, retrying
// through the injected faults; it reports whether the tag is there.
func (s *soak) tagOutOfBand(ctx context.Context, name, tag, revision string) bool {
	for range 10 {
		err := func() error {
			ctx, cancel := context.WithTimeout(ctx, IntervalRead)
			defer cancel()
			svc, err := s.e.ServicesClient.GetService(ctx, &runpb.GetServiceRequest{Name: name})
			if err != nil {
				return err
			}
			svc.Traffic = append(svc.Traffic, RevisionTarget(revision, 0, tag))
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
	return err == nil && slices.Contains(Traffic(svc.GetTraffic()), Route(revision, 0, tag))
}

// check is the oracle: on every deploy target, the service is exactly the new state (after a success) or
// exactly the state before the deployment (after a failure or a cancellation), the out-of-band tags kept in
// both; it also notes the revisions per commit and the first error line of every failed stage.
func (s *soak) check(app *soakApp, plan soakPlan, res *piped.Result, before map[string]*runpb.Service, edits map[string][]string) {
	success := res.Status == model.DeploymentStatus_DEPLOYMENT_SUCCESS
	var outcomes []soakOutcome
	for _, t := range app.targets {
		name := s.serviceName(app.id, t)
		live, err := s.e.Fakerun.Service(name)
		if err != nil {
			s.problem("%s: reading service %s on %s after: %v", plan, app.id, t, err)
			outcomes = append(outcomes, outcomeOther)
			continue
		}
		revs := s.e.Fakerun.Revisions(name)
		s.noteRevisions(name, revs)
		restored := restoredState(before[t], edits[t])
		newState := newState(app, plan, name, before[t], edits[t], revs)
		got := serviceState(live)
		want, outcome := restored, outcomeRestored
		if success {
			want, outcome = newState, outcomeNew
		}
		if !got.equal(want) {
			outcome = outcomeOther
			s.problem("%s on %s ended %s but service %s is neither exactly new nor exactly as before:\n%s\nlog:\n%s",
				plan, t, res.Status, app.id, dumpStates(got, newState, restored), res.Report())
		}
		outcomes = append(outcomes, outcome)
	}
	if success {
		app.lastSuccess = plan.commit
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses[res.Status]++
	if plan.canary {
		s.canaries++
	}
	for _, o := range outcomes {
		s.outcomes[o]++
	}
	for _, st := range res.Stages {
		// A stage whose ExecuteStage call failed (st.Err) was failed by the stand-in, not by the plugin.
		if st.Status != model.StageStatus_STAGE_FAILURE || !strings.HasPrefix(st.Name, "CLOUDRUN_") || st.Err != nil {
			continue
		}
		line := firstErrorLine(st)
		s.firstLines[normalizeLine(line)]++
		if reason := notActionable(line); reason != "" {
			s.problems = append(s.problems, fmt.Sprintf("%s: the first error line of failed stage %s is %s: %q\n%s", plan, st.Name, reason, line, res.Report()))
		}
	}
}

// noteRevisions records a service's revisions by the commit in their names ({service}-{commit[:7]}-{hash}).
func (s *soak) noteRevisions(service string, revs []*runpb.Revision) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := ShortName(service)
	for _, r := range revs {
		rest, ok := strings.CutPrefix(ShortName(r.GetName()), id+"-")
		commit, _, found := strings.Cut(rest, "-")
		if !ok || !found {
			continue
		}
		if s.revisions[service] == nil {
			s.revisions[service] = map[string]map[string]bool{}
		}
		if s.revisions[service][commit] == nil {
			s.revisions[service][commit] = map[string]bool{}
		}
		s.revisions[service][commit][ShortName(r.GetName())] = true
	}
}

// soakState is what the oracle compares: the traffic block with tags, what Cloud Run serves, the template
// and the labels.
type soakState struct {
	traffic, serving []string
	template         *runpb.RevisionTemplate
	labels           map[string]string
}

func serviceState(svc *runpb.Service) soakState {
	return soakState{traffic: Traffic(svc.GetTraffic()), serving: LiveTraffic(svc), template: svc.GetTemplate(), labels: svc.GetLabels()}
}

func (a soakState) equal(b soakState) bool {
	return slices.Equal(a.traffic, b.traffic) && slices.Equal(a.serving, b.serving) &&
		proto.Equal(a.template, b.template) && maps.Equal(a.labels, b.labels)
}

func (a soakState) String() string {
	return fmt.Sprintf("  traffic %v\n  serving %v\n  template %v\n  labels %v", a.traffic, a.serving, a.template, a.labels)
}

// restoredState is the service before the deployment with the out-of-band tags.
func restoredState(before *runpb.Service, edits []string) soakState {
	st := serviceState(before)
	st.traffic = Routes(append(st.traffic, edits...)...)
	st.serving = st.traffic
	return st
}

// newState is what a successful deployment leaves, by the README: 100% to the new revision (with its preview
// tag after a canary), every other tagged entry kept as a 0% tag-only entry but the previous deployment's
// preview tag, the new template, and the labels with the new commit.
func newState(app *soakApp, plan soakPlan, name string, before *runpb.Service, edits []string, revs []*runpb.Revision) soakState {
	rev := ""
	for _, r := range revs {
		if strings.HasPrefix(ShortName(r.GetName()), ShortName(name)+"-"+plan.commit[:7]+"-") {
			rev = ShortName(r.GetName())
		}
	}
	routes := append([]string{Route(rev, 100, "")}, edits...)
	preview := "preview-" + plan.commit[:7]
	if plan.canary {
		routes = append(routes, Route(rev, 0, preview))
	}
	for _, t := range before.GetTraffic() {
		if t.GetTag() != "" && t.GetTag() != "preview-"+app.lastSuccess[:7] && t.GetTag() != preview {
			routes = append(routes, Route(t.GetRevision(), 0, t.GetTag()))
		}
	}
	tmpl := proto.Clone(before.GetTemplate()).(*runpb.RevisionTemplate)
	tmpl.Revision = rev
	tmpl.Containers[0].Image = plan.image
	tmpl.Containers[0].Env[0].Values = &runpb.EnvVar_Value{Value: "hello from " + plan.commit[:7]}
	labels := maps.Clone(before.GetLabels())
	labels["pipecd-dev-commit-hash"] = plan.commit
	traffic := Routes(routes...)
	return soakState{traffic: traffic, serving: traffic, template: tmpl, labels: labels}
}

func dumpStates(got, newState, restored soakState) string {
	return fmt.Sprintf("got:\n%s\nnew state:\n%s\nstate before (with out-of-band tags):\n%s", got, newState, restored)
}

// firstErrorLine is the first line a failed stage logged as an error: what the user reads first.
func firstErrorLine(st piped.StageRecord) string {
	for _, l := range st.Logs {
		if l.Severity == model.LogSeverity_ERROR {
			return l.Text
		}
	}
	return ""
}

// notActionable says why a failed stage's first error line gives the user nothing to act on, or "".
func notActionable(line string) string {
	switch {
	case line == "":
		return "missing"
	case strings.HasPrefix(line, "rpc error:"), strings.Contains(line, "desc = "):
		return "a raw gRPC error"
	case strings.HasSuffix(line, "context canceled"), strings.HasSuffix(line, "context deadline exceeded"):
		return "a bare context error"
	case len(line) < 40:
		return "too short to say what failed and what to do"
	}
	return ""
}

// normalizeLine replaces the names and numbers of a log line, so that lines of one kind count together.
func normalizeLine(line string) string {
	fields := strings.Fields(line)
	for i, f := range fields {
		if strings.ContainsAny(f, "0123456789") {
			fields[i] = "…"
		}
	}
	out := strings.Join(fields, " ")
	return out[:min(len(out), 160)]
}

// summary is the soak's report: deployments, faults by kind, outcomes, the plugin's footprint.
func (s *soak) summary(total int, took time.Duration, start, baseline, end ProcessStats) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "soak seed %d: %d deployments (%d quick syncs, %d canaries) on %d services and 2 deploy targets through one plugin process, %s\n",
		s.seed, total, total-s.canaries, s.canaries, soakServices, took.Round(time.Second))
	b.WriteString("faults injected:")
	for _, k := range slices.Sorted(maps.Keys(s.faults)) {
		fmt.Fprintf(&b, " %s %d,", k, s.faults[k])
	}
	fmt.Fprintf(&b, "\noutcomes per service and deploy target: new %d, restored %d, other %d\n",
		s.outcomes[outcomeNew], s.outcomes[outcomeRestored], s.outcomes[outcomeOther])
	b.WriteString("deployments:")
	for _, st := range slices.Sorted(maps.Keys(s.statuses)) {
		fmt.Fprintf(&b, " %s %d,", st, s.statuses[st])
	}
	fmt.Fprintf(&b, "\nplugin: after the first deployments %s; baseline just after the last restart %s; at end %s\n", start, baseline, end)
	b.WriteString("first error lines of the failed stages:\n")
	for _, l := range slices.Sorted(maps.Keys(s.firstLines)) {
		fmt.Fprintf(&b, "  %4d  %s\n", s.firstLines[l], l)
	}
	return b.String()
}
