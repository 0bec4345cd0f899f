package soak

import (
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

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

// faults are the kinds a deployment draws from (SIGKILL is planned apart), none twice as often as the others.
var faults = []faultKind{
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
	faultReadinessOverLimit: {ReadinessDelay: slowReadiness},
}

// burstMethods are the Cloud Run RPCs the plugin's stages call, which the bursts and slow writes hit.
var burstMethods = []string{"GetService", "UpdateService", "GetRevision", "GetOperation", "ListRevisions"}

// plan is one deployment, drawn from the seed and its number alone.
type plan struct {
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

func (p plan) String() string {
	kind := "quick sync"
	if p.canary {
		kind = "canary"
	}
	return fmt.Sprintf("deployment #%d (%s, commit %s, image %s, fault %q at stage %d: method %s times %d delay %s)",
		p.n, kind, p.commit[:7], p.image, p.fault, p.stage, p.method, p.times, p.delay)
}

// drawPlan draws deployment n's plan from the seed; image is the image repository, kill makes it the
// deployment that kills the plugin.
func drawPlan(seed uint64, n int, image string, kill bool) plan {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	p := plan{n: n, canary: rng.IntN(4) == 0}
	p.commit = fmt.Sprintf("%016x%016x%08x", rng.Uint64(), rng.Uint64(), rng.Uint32())
	p.image = fmt.Sprintf("%s:soak-%d-%d", image, seed, n)
	p.fault = faults[rng.IntN(len(faults))]
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
		p.stage = rng.IntN(canaryStages)
		if p.fault == faultTrafficEdit {
			p.stage = rng.IntN(canaryStages - 1) // after a stage that another follows
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

// Kills are the deployments of a run of total that kill the plugin: one in each wave (Services deployments,
// one per service) of the first half, drawn from the seed.
func Kills(seed uint64, total int) map[int]bool {
	kills := map[int]bool{}
	rng := rand.New(rand.NewPCG(seed, 0))
	waves := (total + Services - 1) / Services
	for wave := range (waves + 1) / 2 {
		kills[min(total-1, wave*Services+rng.IntN(Services))] = true
	}
	return kills
}
