package pipelinetest

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/onsi/gomega/types"
)

// matcher is a Gomega matcher of a *Result whose failure message ends with the deployment's report.
type matcher struct {
	what  string // "have succeeded"
	match func(r *Result) (ok bool, detail string, err error)
	// detail explains the last mismatch.
	detail string
}

func (m *matcher) Match(actual any) (bool, error) {
	r, ok := actual.(*Result)
	if !ok || r == nil {
		return false, fmt.Errorf("pipelinetest matchers take a *pipelinetest.Result, got %T", actual)
	}
	ok, detail, err := m.match(r)
	m.detail = detail
	return ok, err
}

func (m *matcher) FailureMessage(actual any) string { return m.message(actual, "to") }

func (m *matcher) NegatedFailureMessage(actual any) string { return m.message(actual, "not to") }

func (m *matcher) message(actual any, to string) string {
	r := actual.(*Result)
	msg := fmt.Sprintf("expected the deployment of %s %s %s", r.App, to, m.what)
	if m.detail != "" {
		msg += ": " + m.detail
	}
	return msg + "\n" + r.Report()
}

func newMatcher(what string, match func(r *Result) (bool, string, error)) types.GomegaMatcher {
	return &matcher{what: what, match: match}
}

// HaveStatus succeeds when the deployment ended with status: StatusSuccess, StatusFailure or StatusCancelled.
func HaveStatus(status string) types.GomegaMatcher {
	return newMatcher("end "+status, func(r *Result) (bool, string, error) {
		return r.Status == status, "it ended " + r.Status + reasonSuffix(r.Reason), nil
	})
}

// HaveSucceeded succeeds when the deployment ended with StatusSuccess.
func HaveSucceeded() types.GomegaMatcher { return HaveStatus(StatusSuccess) }

// HaveFailedAt succeeds when the deployment failed and stage was the first stage not to succeed.
func HaveFailedAt(stage string) types.GomegaMatcher {
	return newMatcher("fail at "+stage, func(r *Result) (bool, string, error) {
		got := r.FailedStage()
		if r.Status != StatusFailure {
			return false, "it ended " + r.Status, nil
		}
		return got == stage, fmt.Sprintf("the first stage not to succeed was %q", got), nil
	})
}

// HaveRunStages succeeds when exactly these stages ran, in this order (rollback stages included).
func HaveRunStages(names ...string) types.GomegaMatcher {
	return newMatcher("run "+strings.Join(names, ", "), func(r *Result) (bool, string, error) {
		return slices.Equal(r.StageNames(), names), "it ran " + strings.Join(r.StageNames(), ", "), nil
	})
}

// HaveStage succeeds when a stage named name ran and ended with status (e.g. StatusFailure).
func HaveStage(name, status string) types.GomegaMatcher {
	return newMatcher("run "+name+" ending "+status, func(r *Result) (bool, string, error) {
		var got []string
		for _, s := range r.Stages {
			if s.Name == name {
				if s.Status == status {
					return true, "", nil
				}
				got = append(got, s.Status)
			}
		}
		if len(got) == 0 {
			return false, name + " did not run", nil
		}
		return false, name + " ended " + strings.Join(got, ", "), nil
	})
}

// HaveRolledBack succeeds when the rollback stages ran and succeeded, and every deploy target's service or
// job is back exactly as it was before the deployment: the same template and the same traffic block, tags
// included (a job: the same template).
func HaveRolledBack() types.GomegaMatcher {
	return newMatcher("have rolled back to exactly the pre-deploy state", func(r *Result) (bool, string, error) {
		if !r.RolledBack() {
			return false, "no rollback stage ran, or one did not succeed", nil
		}
		for _, t := range r.Targets {
			if !t.Before.Equivalent(t.After) {
				return false, fmt.Sprintf("on target %s, before: %s; after: %s", t.Name, t.Before.summary(), t.After.summary()), nil
			}
		}
		return true, "", nil
	})
}

// HaveTraffic succeeds when the service's traffic block after the deployment on the first deploy target is
// exactly routes, in any order. PreviousRevision and NewRevision stand for the revisions of Result.Revision;
// a Tag may be a path.Match pattern, such as "preview-*" for the preview tag named after the commit.
func HaveTraffic(routes ...Route) types.GomegaMatcher { return HaveTrafficOn("", routes...) }

// HaveTrafficOn is HaveTraffic on the named deploy target.
func HaveTrafficOn(target string, routes ...Route) types.GomegaMatcher {
	return newMatcher(fmt.Sprintf("leave the traffic %v", routes), func(r *Result) (bool, string, error) {
		got, err := r.Traffic(target)
		if err != nil {
			return false, "", err
		}
		want := make([]Route, 0, len(routes))
		for _, rt := range routes {
			rt.Revision = r.Revision(target, rt.Revision)
			want = append(want, rt)
		}
		detail := fmt.Sprintf("it left %v, expected %v", got, want)
		if len(got) != len(want) {
			return false, detail, nil
		}
		used := make([]bool, len(got))
		for _, w := range want {
			found := false
			for i, g := range got {
				if !used[i] && g.Revision == w.Revision && g.Percent == w.Percent && tagMatches(w.Tag, g.Tag) {
					used[i], found = true, true
					break
				}
			}
			if !found {
				return false, detail, nil
			}
		}
		return true, "", nil
	})
}

func tagMatches(pattern, tag string) bool {
	ok, err := path.Match(pattern, tag)
	return err == nil && ok
}

// HaveAnalysisVerdicts succeeds when the CLOUDRUN_ANALYSIS checks that ran gave exactly these verdicts, in
// order ("PASS", "FAIL", "INCONCLUSIVE").
func HaveAnalysisVerdicts(verdicts ...string) types.GomegaMatcher {
	return newMatcher("give the analysis verdicts "+strings.Join(verdicts, ", "), func(r *Result) (bool, string, error) {
		got := r.AnalysisVerdicts()
		return slices.Equal(got, verdicts), "the checks gave " + strings.Join(got, ", "), nil
	})
}

// summary describes a state in a line: the image and the traffic of a service, the image of a job.
func (s *State) summary() string {
	switch {
	case s.Service != nil:
		img := ""
		if cs := s.Service.GetTemplate().GetContainers(); len(cs) > 0 {
			img = cs[0].GetImage()
		}
		return fmt.Sprintf("image %s, traffic %v", img, routesOf(s.Service.GetTraffic()))
	case s.Job != nil:
		img := ""
		if cs := s.Job.GetTemplate().GetTemplate().GetContainers(); len(cs) > 0 {
			img = cs[0].GetImage()
		}
		return "image " + img
	}
	return "nothing"
}
