package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/console"
)

// bar is a traffic row of the console's service page as the browser renders it.
type bar struct {
	Revision string `json:"revision"`
	Tag      string `json:"tag"`
	Label    string `json:"label"` // the percentage written beside the bar
	Width    int    `json:"width"` // the bar's drawn width, in percent of its track
}

// readBars reads the traffic rows of the page.
const readBars = `[...document.querySelectorAll("#live tr.traffic-row")].map(r => ({
  revision: r.dataset.revision, tag: r.dataset.tag, label: r.querySelector(".pct").textContent,
  width: Math.round(100 * r.querySelector("rect.fill").getBoundingClientRect().width / r.querySelector("svg.track").getBoundingClientRect().width),
}))`

// readRevisions reads the revisions table: revision name to its row's text.
const readRevisions = `Object.fromEntries([...document.querySelectorAll("#live tr.revision-row")].map(r => [r.dataset.revision, r.innerText]))`

// readRequests reads a revision's request count beside the charts (-1 without a row).
const readRequests = `(document.querySelector('#live tr.legend-row[data-revision=%q]') || {dataset: {requests: "-1"}}).dataset.requests`

// stageView is what the page showed after a stage.
type stageView struct {
	stage     string
	bars      []bar
	revisions map[string]string
}

var _ = Describe("Console [console]", Label("console", "fakerun-only"), func() {
	It("shows the canary in a browser: bars that follow the traffic after each stage, the new revision, live request counts", func(ctx SpecContext) {
		browser := NewBrowser()
		e := newEnv()
		e.Fakerun.Handle(fakerun.AdminPrefix, e.Fakerun.AdminHandler())
		shots := newScreenshots(browser)

		By("running v1 by quick sync and opening its page in the console")
		v1 := e.DeployCanaryV1(ctx)
		Expect(browser.Open("http://" + e.Fakerun.Addr() + console.Prefix + e.ServiceName("canary"))).To(Succeed())
		var bars []bar
		Expect(browser.PollPage(readBars, &bars, func() bool { return len(bars) > 0 })).To(BeTrue())
		Expect(bars).To(Equal([]bar{{v1, "", "100%", 100}}))
		shots.take("v1")

		By("sending load to the service URL")
		_, err := e.Fakerun.StartLoad(fakerun.Load{URL: e.Service(ctx, "canary").GetUri() + "/", Rate: 40, Duration: time.Minute})
		Expect(err).NotTo(HaveOccurred())

		By("running a short canary pipeline (no 10% step, no WAIT) for v2, reading the page after every stage")
		c := Commit()
		tag := "preview-" + c[:7]
		var v2 string
		var expected [][]bar
		var seen []stageView
		onStageEnd := func(_ *piped.Run, s piped.StageRecord) {
			if v2 == "" { // CLOUDRUN_SYNC created it
				svc, _ := e.Fakerun.Service(e.ServiceName("canary"))
				v2 = ShortName(svc.GetLatestCreatedRevision())
				expected = [][]bar{
					{{v1, "", "100%", 100}, {v2, tag, "0%", 0}},                    // CLOUDRUN_SYNC (skipTrafficShift, tag)
					{{v1, "", "50%", 50}, {v2, "", "50%", 50}, {v2, tag, "0%", 0}}, // CLOUDRUN_PROMOTE 50
					{{v2, "", "100%", 100}, {v2, tag, "0%", 0}},                    // CLOUDRUN_PROMOTE 100
					{{v2, "", "100%", 100}, {v2, tag, "0%", 0}},                    // CLOUDRUN_CANARY_CLEANUP
				}
			}
			view := stageView{stage: s.Name}
			if i := len(seen); i < len(expected) {
				browser.PollPage(readBars, &view.bars, func() bool { return sameBars(view.bars, expected[i]) })
			}
			browser.PollPage(readRevisions, &view.revisions, func() bool { return view.revisions[v2] != "" })
			seen = append(seen, view)
			shots.take(s.Name)
		}
		ExpectSuccess(e.Deploy(ctx, DeployInput{App: "canary", Commit: c, Files: canaryFiles("canary", "hello from v2"), Hooks: piped.Hooks{OnStageEnd: onStageEnd}}))
		Expect(seen).To(HaveLen(len(expected)))
		for i, view := range seen {
			Expect(view.bars).To(ConsistOf(expected[i]), "the bars after stage %d %s", i, view.stage)
			Expect(view.revisions).To(HaveKeyWithValue(v2, And(ContainSubstring(sampleImage+"\t"), ContainSubstring("SUCCEEDED"))),
				"the new revision's row after stage %d %s", i, view.stage)
		}
		Expect(seen[0].revisions[v2]).To(ContainSubstring("not serving"), "v2 serves nothing after CLOUDRUN_SYNC")
		Expect(seen[len(seen)-1].revisions[v2]).To(ContainSubstring("100%"))

		By("watching v2's request count beside the charts grow while the load runs")
		var first, later string
		Expect(browser.PollPage(fmt.Sprintf(readRequests, v2), &first, func() bool { return requests(first) > 0 })).To(BeTrue(), "v2's requests: %s", first)
		Expect(browser.PollPage(fmt.Sprintf(readRequests, v2), &later, func() bool { return requests(later) > requests(first) })).To(BeTrue(),
			"v2's requests stay at %s", first)
		var charted bool
		Expect(browser.Eval(fmt.Sprintf(`document.querySelector('figure.chart svg[aria-label="Requests/s"] polyline[data-revision=%q]') !== null`, v2), &charted)).To(Succeed())
		Expect(charted).To(BeTrue(), "v2 has a line on the requests/s chart")
		shots.take("load")

		Expect(browser.Errors()).To(BeEmpty(), "the console logs no errors")
		Expect(shots.errs).To(BeEmpty())
		GinkgoWriter.Printf("screenshots in %s\n", shots.dir)
	})
})

// sameBars reports whether two lists hold the same bars, in any order (the page keeps the traffic block's).
func sameBars(a, b []bar) bool {
	sorted := func(bars []bar) []string {
		out := make([]string, len(bars))
		for i, x := range bars {
			out[i] = fmt.Sprint(x)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(sorted(a), sorted(b))
}

// requests reads a request count of the page.
func requests(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// screenshots saves screenshots of a browser's page, numbered in order and named after the step, into the
// artifacts folder's console/ directory.
type screenshots struct {
	browser *Browser
	dir     string
	n       int
	errs    []error
}

func newScreenshots(b *Browser) *screenshots {
	GinkgoHelper()
	dir := filepath.Join(artifactsDir(), "console")
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	return &screenshots{browser: b, dir: dir}
}

// take saves one; errors are kept for the spec to check, since it also runs in deployment hooks.
func (s *screenshots) take(step string) {
	s.n++
	png, err := s.browser.Screenshot()
	if err == nil {
		err = os.WriteFile(filepath.Join(s.dir, fmt.Sprintf("%02d-%s.png", s.n, step)), png, 0o644)
	}
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("screenshot %d (%s): %w", s.n, step, err))
	}
}
