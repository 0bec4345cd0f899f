package soak

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// outcome is what a deployment left on one deploy target.
type outcome string

const (
	outcomeNew      outcome = "new"
	outcomeRestored outcome = "restored"
	outcomeOther    outcome = "other"
)

// check is the oracle: on every deploy target, the service is exactly the new state (after a success) or
// exactly the state before the deployment (after a failure or a cancellation), the out-of-band tags kept in
// both; it also notes the revisions per commit and the first error line of every failed stage.
func (s *Soak) check(a *app, p plan, res *piped.Result, before map[string]*runpb.Service, edits map[string][]string) {
	success := res.Status == model.DeploymentStatus_DEPLOYMENT_SUCCESS
	var outcomes []outcome
	for _, t := range a.targets {
		name := s.serviceName(a.id, t)
		live, err := s.e.Fakerun.Service(name)
		if err != nil {
			s.problem("%s: reading service %s on %s after: %v", p, a.id, t, err)
			outcomes = append(outcomes, outcomeOther)
			continue
		}
		revs := s.e.Fakerun.Revisions(name)
		s.noteRevisions(name, revs)
		restored := restoredState(before[t], edits[t])
		fresh := newState(a, p, name, before[t], edits[t], revs)
		got := serviceState(live)
		want, o := restored, outcomeRestored
		if success {
			want, o = fresh, outcomeNew
		}
		if !got.equal(want) {
			o = outcomeOther
			s.problem("%s on %s ended %s but service %s is neither exactly new nor exactly as before:\n%s\nlog:\n%s",
				p, t, res.Status, a.id, dumpStates(got, fresh, restored), res.Report())
		}
		outcomes = append(outcomes, o)
	}
	if success {
		a.lastSuccess = p.commit
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses[res.Status]++
	if p.canary {
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
		line := framework.FirstErrorLine(st)
		s.firstLines[normalizeLine(line)]++
		if reason := notActionable(line); reason != "" {
			s.problems = append(s.problems, fmt.Sprintf("%s: the first error line of failed stage %s is %s: %q\n%s", p, st.Name, reason, line, res.Report()))
		}
	}
}

// noteRevisions records a service's revisions by the commit in their names ({service}-{commit[:7]}-{hash}).
func (s *Soak) noteRevisions(service string, revs []*runpb.Revision) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := framework.ShortName(service)
	for _, r := range revs {
		rest, ok := strings.CutPrefix(framework.ShortName(r.GetName()), id+"-")
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
		s.revisions[service][commit][framework.ShortName(r.GetName())] = true
	}
}

// RevisionsTwice lists every commit for which a service has more than one revision, sorted.
func (s *Soak) RevisionsTwice() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for svc, byCommit := range s.revisions {
		for commit, names := range byCommit {
			if len(names) > 1 {
				out = append(out, fmt.Sprintf("service %s, commit %s: revisions %v", svc, commit, slices.Sorted(maps.Keys(names))))
			}
		}
	}
	slices.Sort(out)
	return out
}

// state is what the oracle compares: the traffic block with tags, what Cloud Run serves, the template
// and the labels.
type state struct {
	traffic, serving []string
	template         *runpb.RevisionTemplate
	labels           map[string]string
}

func serviceState(svc *runpb.Service) state {
	return state{traffic: framework.Traffic(svc.GetTraffic()), serving: framework.LiveTraffic(svc), template: svc.GetTemplate(), labels: svc.GetLabels()}
}

func (a state) equal(b state) bool {
	return slices.Equal(a.traffic, b.traffic) && slices.Equal(a.serving, b.serving) &&
		proto.Equal(a.template, b.template) && maps.Equal(a.labels, b.labels)
}

func (a state) String() string {
	return fmt.Sprintf("  traffic %v\n  serving %v\n  template %v\n  labels %v", a.traffic, a.serving, a.template, a.labels)
}

// restoredState is the service before the deployment with the out-of-band tags.
func restoredState(before *runpb.Service, edits []string) state {
	st := serviceState(before)
	st.traffic = framework.Routes(append(st.traffic, edits...)...)
	st.serving = st.traffic
	return st
}

// newState is what a successful deployment leaves, by the README: 100% to the new revision (with its preview
// tag after a canary), every other tagged entry kept as a 0% tag-only entry but the previous deployment's
// preview tag, the new template, and the labels with the new commit.
func newState(a *app, p plan, name string, before *runpb.Service, edits []string, revs []*runpb.Revision) state {
	rev := ""
	for _, r := range revs {
		if strings.HasPrefix(framework.ShortName(r.GetName()), framework.ShortName(name)+"-"+p.commit[:7]+"-") {
			rev = framework.ShortName(r.GetName())
		}
	}
	routes := append([]string{framework.Route(rev, 100, "")}, edits...)
	preview := "preview-" + p.commit[:7]
	if p.canary {
		routes = append(routes, framework.Route(rev, 0, preview))
	}
	for _, t := range before.GetTraffic() {
		if t.GetTag() != "" && t.GetTag() != "preview-"+a.lastSuccess[:7] && t.GetTag() != preview {
			routes = append(routes, framework.Route(t.GetRevision(), 0, t.GetTag()))
		}
	}
	tmpl := proto.Clone(before.GetTemplate()).(*runpb.RevisionTemplate)
	tmpl.Revision = rev
	tmpl.Containers[0].Image = p.image
	tmpl.Containers[0].Env[0].Values = &runpb.EnvVar_Value{Value: "hello from " + p.commit[:7]}
	labels := maps.Clone(before.GetLabels())
	labels["pipecd-dev-commit-hash"] = p.commit
	traffic := framework.Routes(routes...)
	return state{traffic: traffic, serving: traffic, template: tmpl, labels: labels}
}

func dumpStates(got, fresh, restored state) string {
	return fmt.Sprintf("got:\n%s\nnew state:\n%s\nstate before (with out-of-band tags):\n%s", got, fresh, restored)
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

// Summary is the soak's report of a run of total deployments that took took: deployments, faults by kind,
// outcomes, the plugin's footprint after the first deployments (start), after its last restart (baseline)
// and at the end.
func (s *Soak) Summary(total int, took time.Duration, start, baseline, end framework.ProcessStats) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "soak seed %d: %d deployments (%d quick syncs, %d canaries) on %d services and 2 deploy targets through one plugin process, %s\n",
		s.seed, total, total-s.canaries, s.canaries, Services, took.Round(time.Second))
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
