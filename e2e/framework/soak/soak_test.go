package soak

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/e2e/framework"
)

func TestDrawPlan(t *testing.T) {
	t.Parallel()
	assert.Equal(t, drawPlan(7, 3, "img", false), drawPlan(7, 3, "img", false), "the same seed and number draw the same plan")
	assert.NotEqual(t, drawPlan(7, 3, "img", false).commit, drawPlan(8, 3, "img", false).commit, "another seed draws another commit")

	seen := map[faultKind]bool{}
	for n := range 500 {
		p := drawPlan(42, n, "img", false)
		seen[p.fault] = true
		assert.Equal(t, "img:soak-42-"+strconv.Itoa(n), p.image)
		assert.Len(t, p.commit, 40)
		assert.NotEqual(t, faultKill, p.fault, "only a planned kill kills")
		if p.canary {
			assert.NotEqual(t, faultNone, p.fault, "a canary without a fault gets an out-of-band edit")
			assert.Less(t, p.stage, canaryStages)
		} else {
			assert.NotEqual(t, faultTrafficEdit, p.fault, "a quick sync has no between stages")
			assert.Zero(t, p.stage)
		}
		if p.fault == faultTrafficEdit {
			assert.Less(t, p.stage, canaryStages-1, "an edit strikes after a stage that another follows")
		}
		if p.fault == faultSlowWrite {
			assert.Equal(t, "UpdateService", p.method)
		}
		assert.Contains(t, burstMethods, p.method)
		assert.True(t, p.times >= 1 && p.times <= 3, "times %d", p.times)
		assert.True(t, p.delay >= 50*time.Millisecond && p.delay < 1050*time.Millisecond, "delay %s", p.delay)
	}
	assert.Len(t, seen, len(faults)-1, "500 deployments draw every kind of fault (none is listed twice): %v", seen)
	assert.Equal(t, faultKill, drawPlan(42, 1, "img", true).fault)
}

func TestKills(t *testing.T) {
	t.Parallel()
	for _, total := range []int{2, Services, 100, 1000} {
		kills := Kills(9, total)
		waves := (total + Services - 1) / Services
		assert.Len(t, kills, (waves+1)/2, "one kill in each wave of the first half of %d", total)
		for n := range kills {
			assert.True(t, n >= 0 && n < total, "kill %d of %d", n, total)
			assert.Less(t, n/Services, (waves+1)/2, "kill %d in the first half of %d", n, total)
		}
	}
	assert.Equal(t, Kills(9, 100), Kills(9, 100))
}

// service is a soak service at revision rev with traffic routes.
func service(rev string, traffic ...*runpb.TrafficTarget) *runpb.Service {
	return &runpb.Service{
		Name:   "projects/p/locations/l/services/soak-01",
		Labels: map[string]string{"team": "soak", "pipecd-dev-commit-hash": "aaaaaaa0"},
		Template: &runpb.RevisionTemplate{Revision: rev, Containers: []*runpb.Container{{
			Image: "img:old", Env: []*runpb.EnvVar{{Name: "GREETING", Values: &runpb.EnvVar_Value{Value: "hello from aaaaaaa"}}},
		}}},
		Traffic: traffic,
	}
}

func TestStates(t *testing.T) {
	t.Parallel()
	before := service("soak-01-aaaaaaa-x",
		framework.RevisionTarget("soak-01-aaaaaaa-x", 100, ""),
		framework.RevisionTarget("soak-01-aaaaaaa-x", 0, "preview-aaaaaaa"),
		framework.RevisionTarget("soak-01-0000000-y", 0, "keep"))
	a := &app{id: "soak-01", lastSuccess: "aaaaaaa0"}
	p := plan{canary: true, commit: "bbbbbbb1", image: "img:new"}
	revs := []*runpb.Revision{{Name: "projects/p/locations/l/services/soak-01/revisions/soak-01-bbbbbbb-z"}}

	fresh := newState(a, p, before.GetName(), before, []string{framework.Route("soak-01-aaaaaaa-x", 0, "oob-1")}, revs)
	assert.Equal(t, framework.Routes(framework.Route("soak-01-bbbbbbb-z", 100, ""), framework.Route("soak-01-aaaaaaa-x", 0, "oob-1"),
		framework.Route("soak-01-bbbbbbb-z", 0, "preview-bbbbbbb"), framework.Route("soak-01-0000000-y", 0, "keep")), fresh.traffic,
		"100% to the new revision, its preview tag, the edit and the other tag; the last preview tag dropped")
	assert.Equal(t, fresh.traffic, fresh.serving)
	assert.Equal(t, "img:new", fresh.template.GetContainers()[0].GetImage())
	assert.Equal(t, "soak-01-bbbbbbb-z", fresh.template.GetRevision())
	assert.Equal(t, "bbbbbbb1", fresh.labels["pipecd-dev-commit-hash"])
	assert.Equal(t, "aaaaaaa0", before.GetLabels()["pipecd-dev-commit-hash"], "before is left as it was")

	restored := restoredState(before, []string{framework.Route("soak-01-aaaaaaa-x", 0, "oob-1")})
	assert.Contains(t, restored.traffic, framework.Route("soak-01-aaaaaaa-x", 0, "oob-1"))
	assert.True(t, restored.equal(restoredState(before, []string{framework.Route("soak-01-aaaaaaa-x", 0, "oob-1")})))
	assert.False(t, restored.equal(fresh))
	assert.False(t, restored.equal(restoredState(before, nil)), "a lost out-of-band tag is another state")
}

func TestRevisionsTwice(t *testing.T) {
	t.Parallel()
	s := &Soak{revisions: map[string]map[string]map[string]bool{}}
	name := "projects/p/locations/l/services/soak-01"
	rev := func(short string) *runpb.Revision { return &runpb.Revision{Name: name + "/revisions/" + short} }
	s.noteRevisions(name, []*runpb.Revision{rev("soak-01-aaaaaaa-x"), rev("soak-01-bbbbbbb-y"), rev("other-1")})
	assert.Empty(t, s.RevisionsTwice())
	s.noteRevisions(name, []*runpb.Revision{rev("soak-01-aaaaaaa-x"), rev("soak-01-aaaaaaa-w")})
	assert.Equal(t, []string{"service " + name + ", commit aaaaaaa: revisions [soak-01-aaaaaaa-w soak-01-aaaaaaa-x]"}, s.RevisionsTwice())
}

func TestNotActionable(t *testing.T) {
	t.Parallel()
	testcases := []struct{ line, want string }{
		{"", "missing"},
		{"rpc error: code = Unavailable desc = down", "a raw gRPC error"},
		{"failed to update service web: code = Internal desc = boom", "a raw gRPC error"},
		{"failed to wait for revision web-1 to become ready: context canceled", "a bare context error"},
		{"failed to read web: context deadline exceeded", "a bare context error"},
		{"revision web-1 failed", "too short to say what failed and what to do"},
		{"revision web-1 did not become ready within 2s: raise CLOUDRUN_SYNC's timeout", ""},
	}
	for _, tc := range testcases {
		assert.Equal(t, tc.want, notActionable(tc.line), "%q", tc.line)
	}
}

func TestNormalizeLine(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "revision … failed after … attempts", normalizeLine("revision web-00002-abc failed after  3 attempts"))
	require.Len(t, []rune(normalizeLine(strings.Repeat("a ", 200))), 160)
}

func TestRestarterWait(t *testing.T) {
	t.Parallel()
	r := &restarter{}
	r.wait() // no kill in progress: returns at once
	back, ok := r.begin()
	require.True(t, ok)
	_, again := r.begin()
	assert.False(t, again, "one kill at a time")
	done := make(chan struct{})
	go func() {
		r.wait()
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("wait returned while a kill is in progress")
	case <-time.After(50 * time.Millisecond):
	}
	r.end(back, framework.ProcessStats{Goroutines: 7}, nil)
	<-done
	kills, baseline, err := (&Soak{restart: r}).Restarts()
	assert.Equal(t, 1, kills)
	assert.Equal(t, 7, baseline.Goroutines)
	require.NoError(t, err)
}
