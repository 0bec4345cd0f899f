package pipelinetest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// Statuses of a deployment (Result.Status) and of a stage (Stage.Status), as the PipeCD console shows them.
const (
	StatusSuccess   = "SUCCESS"
	StatusFailure   = "FAILURE"
	StatusCancelled = "CANCELLED"
	StatusSkipped   = "SKIPPED"
)

// Symbolic revisions of a Route: the revision that served before the deployment, and the newest revision
// after it (the one the deployment created).
const (
	PreviousRevision = "previous"
	NewRevision      = "new"
)

// Result is the outcome of a deployment.
type Result struct {
	// App is the service or job ID, Kind KindService or KindJob.
	App, Kind string
	// Status is StatusSuccess, StatusFailure or StatusCancelled; Reason says why.
	Status, Reason string
	// Strategy is "QUICK_SYNC" or "PIPELINE".
	Strategy string
	// Stages are the stages that ran, in order of execution, rollback stages included.
	Stages []Stage
	// Targets are the deploy targets, with the service or job before and after the deployment.
	Targets []TargetResult
}

// Stage is a stage that ran.
type Stage struct {
	Name     string
	Status   string
	Rollback bool
	// Log is the stage's log, one line per log entry.
	Log string
}

// TargetResult is one deploy target's service or job before and after the deployment.
type TargetResult struct {
	Target
	Before, After *State
}

func (r *Result) fill(out *piped.Result) {
	r.Status = strings.TrimPrefix(out.Status.String(), "DEPLOYMENT_")
	// piped names a stage by its ID in the deployment's status reason; a report names it by its name.
	r.Reason = out.StatusReason
	for _, s := range out.Stages {
		r.Reason = strings.ReplaceAll(r.Reason, s.ID, s.Name)
	}
	r.Strategy = out.Strategy.String()
	for _, s := range out.Executed() {
		log := s.LogText()
		if s.Err != nil {
			log += "error: " + s.Err.Error() + "\n"
		}
		r.Stages = append(r.Stages, Stage{Name: s.Name, Status: strings.TrimPrefix(s.Status.String(), "STAGE_"), Rollback: s.Rollback, Log: log})
	}
}

// FailedStage is the name of the first stage that did not succeed, rollback stages aside ("" for none).
func (r *Result) FailedStage() string {
	for _, s := range r.Stages {
		if !s.Rollback && s.Status != StatusSuccess && s.Status != StatusSkipped {
			return s.Name
		}
	}
	return ""
}

// StageNames are the names of the stages that ran, in order.
func (r *Result) StageNames() []string {
	out := make([]string, 0, len(r.Stages))
	for _, s := range r.Stages {
		out = append(out, s.Name)
	}
	return out
}

// RolledBack reports whether rollback stages ran and all succeeded.
func (r *Result) RolledBack() bool {
	ran := false
	for _, s := range r.Stages {
		if s.Rollback {
			ran = true
			if s.Status != StatusSuccess {
				return false
			}
		}
	}
	return ran
}

// target returns the named deploy target's result ("": the first).
func (r *Result) target(name string) (*TargetResult, error) {
	for i := range r.Targets {
		if name == "" || r.Targets[i].Name == name {
			return &r.Targets[i], nil
		}
	}
	return nil, fmt.Errorf("the deployment did not deploy to target %q", name)
}

// Traffic is the service's traffic block on a deploy target ("": the first) after the deployment, sorted.
func (r *Result) Traffic(target string) ([]Route, error) {
	t, err := r.target(target)
	if err != nil {
		return nil, err
	}
	if t.After.Service == nil {
		return nil, fmt.Errorf("no service %s on target %s after the deployment", r.App, t.Name)
	}
	return routesOf(t.After.Service.GetTraffic()), nil
}

// Revision resolves PreviousRevision and NewRevision on a deploy target ("": the first); other names are
// returned as they are.
func (r *Result) Revision(target, name string) string {
	t, err := r.target(target)
	if err != nil {
		return name
	}
	switch name {
	case PreviousRevision:
		return naming.ShortName(t.Before.Service.GetLatestReadyRevision())
	case NewRevision:
		return naming.ShortName(t.After.Service.GetLatestCreatedRevision())
	}
	return name
}

var checkLine = regexp.MustCompile(`(?m)^Check \d+/\d+ \(window [^)]*\): ([A-Z]+)$`)

// AnalysisVerdicts are the verdicts of the CLOUDRUN_ANALYSIS checks that ran, in order: "PASS", "FAIL" or
// "INCONCLUSIVE".
func (r *Result) AnalysisVerdicts() []string {
	var out []string
	for _, s := range r.Stages {
		if s.Name == "CLOUDRUN_ANALYSIS" {
			for _, m := range checkLine.FindAllStringSubmatch(s.Log, -1) {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// Report renders the deployment, its stages and their logs, for failure messages.
func (r *Result) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deployment of %s %s: %s (%s), strategy %s\n", r.Kind, r.App, r.Status, r.Reason, r.Strategy)
	for _, s := range r.Stages {
		kind := ""
		if s.Rollback {
			kind = " (rollback)"
		}
		fmt.Fprintf(&b, "  stage %s%s: %s\n", s.Name, kind, s.Status)
		for _, l := range strings.Split(strings.TrimRight(s.Log, "\n"), "\n") {
			if l != "" {
				fmt.Fprintf(&b, "    | %s\n", l)
			}
		}
	}
	for _, t := range r.Targets {
		if t.After.Service != nil {
			fmt.Fprintf(&b, "  traffic on %s after: %v\n", t.Name, routesOf(t.After.Service.GetTraffic()))
		}
	}
	return b.String()
}

// Route is one entry of a service's traffic block: Percent of the traffic to Revision (a short revision
// name, "LATEST" for the latest ready one, or PreviousRevision and NewRevision in expectations), with Tag.
type Route struct {
	Revision string `yaml:"revision"`
	Percent  int    `yaml:"percent"`
	Tag      string `yaml:"tag"`
}

func (r Route) String() string {
	s := fmt.Sprintf("%d%% %s", r.Percent, r.Revision)
	if r.Tag != "" {
		s += " tag " + r.Tag
	}
	return s
}

// routesOf renders a traffic block as routes, sorted.
func routesOf(targets []*runpb.TrafficTarget) []Route {
	out := make([]Route, 0, len(targets))
	for _, t := range targets {
		rev := naming.ShortName(t.GetRevision())
		if t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST {
			rev = "LATEST"
		}
		out = append(out, Route{Revision: rev, Percent: int(t.GetPercent()), Tag: t.GetTag()})
	}
	sortRoutes(out)
	return out
}

func sortRoutes(rs []Route) {
	slices.SortFunc(rs, func(a, b Route) int {
		return strings.Compare(fmt.Sprintf("%s\x00%08d\x00%s", a.Revision, a.Percent, a.Tag), fmt.Sprintf("%s\x00%08d\x00%s", b.Revision, b.Percent, b.Tag))
	})
}
