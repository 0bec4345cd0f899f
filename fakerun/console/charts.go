package console

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/api/distribution"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
)

// The charts show the last chartSeconds seconds, one point per second; the
// legend's figures cover the last rateSeconds (requests/s) and
// statsSeconds (errors, latency).
const (
	chartSeconds = 120
	rateSeconds  = 10
	statsSeconds = 60
)

// chart is one SVG line chart, a line per revision, drawn in a 300×100 box (the window's seconds across).
type chart struct {
	Title, Max string
	Lines      []chartLine
}

type chartLine struct{ Revision, Color, Points string }

// legendRow is a revision's figures beside the charts.
type legendRow struct {
	Revision, Color string
	Requests        int64 // in the charts' window
	Rate            string
	ErrorPct        string
	P50, P99        string
}

// revisionSeconds are a revision's requests per second of the window.
type revisionSeconds struct {
	count, errors [chartSeconds]int64
	latencies     [chartSeconds][]*distribution.Distribution
}

// chartsOf reads the service's request metrics of the last chartSeconds
// through ListTimeSeries (raw per-second points, ALIGN_NONE) and draws them
// per revision; revisions are listed as colors names them, newest first.
func chartsOf(ctx context.Context, src Source, svc *runpb.Service, now time.Time, colors map[string]string, order []string) ([]chart, []legendRow, error) {
	end := now.Truncate(time.Second) // the last whole second
	start := end.Add(-chartSeconds * time.Second)
	loc := strings.Split(svc.GetName(), "/") // projects P locations L services S
	byRevision := map[string]*revisionSeconds{}
	at := func(ts *monitoringpb.TimeSeries, p *monitoringpb.Point) (*revisionSeconds, int) {
		rev := ts.GetResource().GetLabels()["revision_name"]
		i := int(p.GetInterval().GetEndTime().AsTime().Sub(start)/time.Second) - 1
		if byRevision[rev] == nil {
			byRevision[rev] = &revisionSeconds{}
		}
		return byRevision[rev], min(max(i, 0), chartSeconds-1)
	}
	query := func(metricType string, add func(*monitoringpb.TimeSeries, *monitoringpb.Point)) error {
		req := &monitoringpb.ListTimeSeriesRequest{
			Name:     "projects/" + loc[1],
			Filter:   fmt.Sprintf("metric.type = %q AND resource.labels.location = %q AND resource.labels.service_name = %q", metricType, loc[3], loc[5]),
			Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)},
		}
		for {
			resp, err := src.ListTimeSeries(ctx, req)
			if err != nil {
				return fmt.Errorf("reading %s: %w", metricType, err)
			}
			for _, ts := range resp.GetTimeSeries() {
				for _, p := range ts.GetPoints() {
					add(ts, p)
				}
			}
			if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
				return nil
			}
		}
	}
	err := query(metrics.RequestCount, func(ts *monitoringpb.TimeSeries, p *monitoringpb.Point) {
		rs, i := at(ts, p)
		rs.count[i] += p.GetValue().GetInt64Value()
		if ts.GetMetric().GetLabels()["response_code_class"] == "5xx" {
			rs.errors[i] += p.GetValue().GetInt64Value()
		}
	})
	if err == nil {
		err = query(metrics.RequestLatencies, func(ts *monitoringpb.TimeSeries, p *monitoringpb.Point) {
			rs, i := at(ts, p)
			rs.latencies[i] = append(rs.latencies[i], p.GetValue().GetDistributionValue())
		})
	}
	if err != nil {
		return nil, nil, err
	}

	charts := []chart{{Title: "Requests/s"}, {Title: "Errors (5xx, %)"}, {Title: "Latency p50 (ms)"}, {Title: "Latency p99 (ms)"}}
	var legend []legendRow
	series := make([]map[string][]point, len(charts))
	for c := range series {
		series[c] = map[string][]point{}
	}
	for _, rev := range order {
		rs := byRevision[rev]
		if rs == nil {
			legend = append(legend, legendRow{Revision: rev, Color: colors[rev], Rate: "0", ErrorPct: "–", P50: "–", P99: "–"})
			continue
		}
		for i := range chartSeconds {
			series[0][rev] = append(series[0][rev], point{i, float64(rs.count[i])})
			if rs.count[i] > 0 {
				series[1][rev] = append(series[1][rev], point{i, 100 * float64(rs.errors[i]) / float64(rs.count[i])})
			}
			if len(rs.latencies[i]) > 0 {
				series[2][rev] = append(series[2][rev], point{i, metrics.Percentile(rs.latencies[i], 50)})
				series[3][rev] = append(series[3][rev], point{i, metrics.Percentile(rs.latencies[i], 99)})
			}
		}
		legend = append(legend, rs.legend(rev, colors[rev]))
	}
	for c := range charts {
		charts[c].Max, charts[c].Lines = draw(series[c], order, colors)
	}
	return charts, legend, nil
}

// point is a value at a second of the window.
type point struct {
	second int
	value  float64
}

// legend sums up the last seconds of a revision.
func (rs *revisionSeconds) legend(rev, color string) legendRow {
	row := legendRow{Revision: rev, Color: color, ErrorPct: "–", P50: "–", P99: "–"}
	var recent int64
	for i := range chartSeconds {
		row.Requests += rs.count[i]
		if i >= chartSeconds-rateSeconds {
			recent += rs.count[i]
		}
	}
	row.Rate = number(float64(recent) / rateSeconds)
	var count, errs int64
	var dists []*distribution.Distribution
	for i := chartSeconds - statsSeconds; i < chartSeconds; i++ {
		count, errs = count+rs.count[i], errs+rs.errors[i]
		dists = append(dists, rs.latencies[i]...)
	}
	if count > 0 {
		row.ErrorPct = number(100 * float64(errs) / float64(count))
		row.P50, row.P99 = number(metrics.Percentile(dists, 50)), number(metrics.Percentile(dists, 99))
	}
	return row
}

// draw scales the lines of one chart to its box, the largest value at the
// top, and returns that value for the axis.
func draw(lines map[string][]point, order []string, colors map[string]string) (string, []chartLine) {
	top := 0.0
	for _, ps := range lines {
		for _, p := range ps {
			top = max(top, p.value)
		}
	}
	if top == 0 {
		top = 1
	}
	var out []chartLine
	for _, rev := range order {
		ps := lines[rev]
		if len(ps) == 0 {
			continue
		}
		var b strings.Builder
		for i, p := range ps {
			if i > 0 && i < len(ps)-1 && p.value == ps[i-1].value && p.value == ps[i+1].value {
				continue // inside a flat run: its ends draw it
			}
			fmt.Fprintf(&b, "%.1f,%.1f ", 300*float64(p.second)/(chartSeconds-1), 100-95*p.value/top)
		}
		out = append(out, chartLine{Revision: rev, Color: colors[rev], Points: strings.TrimSpace(b.String())})
	}
	return number(top), out
}

// number formats a figure with 3 significant digits, or as a whole number from 100 on.
func number(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
