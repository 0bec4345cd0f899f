package analysis

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// Render draws c for the stage log: the requests, error rate and latency percentiles of the new revision
// and of the baseline, then every threshold with its value and verdict, e.g.
//
//	Check 2/5 (window 10:00:01-10:00:02 UTC): FAIL
//	REVISION       ROLE      REQUESTS  ERROR RATE  P99
//	web-00002-abc  new       120       20.00%      12.0ms
//	web-00001-xyz  baseline  1080      0.00%       10.0ms
//	METRIC     VALUE   THRESHOLD  VERDICT  DETAIL
//	errorRate  20.00%  <= 1.00%   FAIL     24 of 120 requests answered 5xx
func Render(opts config.AnalysisStageOptions, s Subject, c Check) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Check %d/%d (window %s-%s UTC): %s\n", c.Number, c.Of, clock(c.Start), clock(c.End), c.Verdict)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	percentiles := latencyPercentiles(opts)
	if rates, lat := Queries(opts); rates || lat {
		header := "REVISION\tROLE\tREQUESTS\tERROR RATE"
		for _, p := range percentiles {
			header += fmt.Sprintf("\tP%d", p)
		}
		_, _ = fmt.Fprintln(tw, header)
		row := func(rev, role string, smp *Sample) {
			rate := "-"
			if r, ok := smp.ErrorRate(); ok && rates {
				rate = percent(r)
			}
			line := fmt.Sprintf("%s\t%s\t%d\t%s", rev, role, smp.Requests, rate)
			for _, p := range percentiles {
				v, ok := smp.Latency.Percentile(float64(p))
				line += "\t-"
				if ok {
					line = strings.TrimSuffix(line, "-") + ms(v)
				}
			}
			_, _ = fmt.Fprintln(tw, line)
		}
		row(s.New, "new", &c.New)
		if c.Baseline != nil {
			row(strings.Join(s.Baseline, ","), "baseline", c.Baseline)
		}
		_ = tw.Flush() // the thresholds below have columns of their own
	}
	_, _ = fmt.Fprintln(tw, "METRIC\tVALUE\tTHRESHOLD\tVERDICT\tDETAIL")
	for _, r := range c.Results {
		verdict := string(r.Verdict)
		if r.DryRun {
			verdict += " (dry run)"
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Metric, r.Value, r.Threshold, verdict, r.Detail)
	}
	_ = tw.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// latencyPercentiles are the distinct percentiles of the latency thresholds, in ascending order.
func latencyPercentiles(opts config.AnalysisStageOptions) []int {
	var out []int
	for _, m := range opts.Metrics {
		if m.Latency != nil && !slices.Contains(out, m.Latency.Percentile) {
			out = append(out, m.Latency.Percentile)
		}
	}
	slices.Sort(out)
	return out
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05") }
