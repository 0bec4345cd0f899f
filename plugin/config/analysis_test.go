package config

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptr[T any](v T) *T { return &v }

func TestDecodeAnalysisStageOptions(t *testing.T) {
	t.Parallel()
	defaults := func(metrics ...AnalysisMetric) AnalysisStageOptions {
		return AnalysisStageOptions{Duration: 10 * time.Minute, Interval: time.Minute, IngestionDelay: 180 * time.Second, MinRequests: 100, ConsecutiveErrorLimit: 4, Metrics: metrics}
	}
	const errorRate = `"metrics": [{"errorRate": {"max": "1%"}}]`
	testcases := []struct {
		name    string
		raw     string
		want    AnalysisStageOptions
		wantErr string
	}{
		{
			name: "success: defaults",
			raw:  `{"duration": "10m", ` + errorRate + `}`,
			want: defaults(AnalysisMetric{ErrorRate: &ErrorRateMetric{Max: ptr(0.01)}}),
		},
		{
			name: "success: every field",
			raw: `{"duration": "6s", "interval": "2s", "ingestionDelay": "0s", "initialDelay": "30s", "failureLimit": 1, "inconclusiveLimit": 2, "consecutiveErrorLimit": 0,
			  "minRequests": 0, "onInconclusive": "pass", "metrics": [
			  {"errorRate": {"max": 2, "maxIncrease": "0.5%"}},
			  {"latency": {"percentile": 95, "max": "800ms", "maxIncrease": "100ms", "dryRun": true}},
			  {"latency": {"max": "1s", "dryRun": false}},
			  {"custom": {"filter": "metric.type = \"custom.googleapis.com/checkout_failures\"", "reduce": "max", "max": 0, "min": -1.5, "dryRun": true}},
			  {"promql": {"query": "sum(up)", "min": 1, "dryRun": true}}]}`,
			want: AnalysisStageOptions{Duration: 6 * time.Second, Interval: 2 * time.Second, InitialDelay: 30 * time.Second, FailureLimit: 1, InconclusiveLimit: 2, PassInconclusive: true, Metrics: []AnalysisMetric{
				{ErrorRate: &ErrorRateMetric{Max: ptr(0.02), MaxIncrease: ptr(0.005)}},
				{Latency: &LatencyMetric{Percentile: 95, Max: ptr(800 * time.Millisecond), MaxIncrease: ptr(100 * time.Millisecond)}, DryRun: true},
				{Latency: &LatencyMetric{Percentile: 99, Max: ptr(time.Second)}},
				{Custom: &CustomMetric{Filter: `metric.type = "custom.googleapis.com/checkout_failures"`, Reduce: ReduceMax, Max: ptr(0.0), Min: ptr(-1.5)}, DryRun: true},
				{PromQL: &PromQLMetric{Query: "sum(up)", Min: ptr(1.0)}, DryRun: true},
			}},
		},
		{
			name: "success: no error allowed, at most 100% more than the baseline",
			raw:  `{"duration": "10m", "metrics": [{"errorRate": {"max": "0%", "maxIncrease": 100}}]}`,
			want: defaults(AnalysisMetric{ErrorRate: &ErrorRateMetric{Max: ptr(0.0), MaxIncrease: ptr(1.0)}}),
		},
		{name: "fail: negative percentage", raw: `{"duration": "1m", "metrics": [{"errorRate": {"max": "-1%"}}]}`, wantErr: `field "metrics[0].errorRate.max": "-1%" is not allowed`},
		{name: "fail: empty", raw: ``, wantErr: `CLOUDRUN_ANALYSIS: field "duration" is required, allowed a positive duration such as "5m"`},
		{name: "fail: no metrics", raw: `{"duration": "1m"}`, wantErr: `CLOUDRUN_ANALYSIS: field "metrics" is required, allowed a list of errorRate, latency, custom or promql thresholds`},
		{name: "fail: unknown field", raw: `{"duration": "1m", "threshold": 1}`, wantErr: `CLOUDRUN_ANALYSIS: unknown field "threshold", allowed fields: consecutiveErrorLimit, duration, failureLimit, inconclusiveLimit, ingestionDelay, initialDelay, interval, metrics, minRequests, onInconclusive`},
		{name: "fail: negative initial delay", raw: `{"duration": "1m", "initialDelay": "-5s", ` + errorRate + `}`, wantErr: `field "initialDelay": "-5s" is out of range, allowed a duration >= 0 such as "3m" or "0s"`},
		{name: "fail: negative inconclusive limit", raw: `{"duration": "1m", "inconclusiveLimit": -1, ` + errorRate + `}`, wantErr: `field "inconclusiveLimit": -1 is out of range, allowed an integer >= 0`},
		{name: "fail: consecutive error limit as string", raw: `{"duration": "1m", "consecutiveErrorLimit": "4", ` + errorRate + `}`, wantErr: `field "consecutiveErrorLimit": "4" is not an integer, allowed an integer >= 0`},
		{name: "fail: dryRun as string", raw: `{"duration": "1m", "metrics": [{"errorRate": {"max": 1, "dryRun": "yes"}}]}`, wantErr: `field "metrics[0].errorRate.dryRun": "yes" is not a boolean, allowed true or false`},
		{name: "fail: duration as number", raw: `{"duration": 60, ` + errorRate + `}`, wantErr: `field "duration": 60 is not a duration, allowed a positive duration such as "5m"`},
		{name: "fail: zero interval", raw: `{"duration": "1m", "interval": "0s", ` + errorRate + `}`, wantErr: `field "interval": "0s" is out of range, allowed a positive duration such as "5m"`},
		{name: "fail: interval beyond duration", raw: `{"duration": "1m", "interval": "2m", ` + errorRate + `}`, wantErr: `field "interval": 2m0s is longer than duration 1m0s`},
		{name: "fail: negative ingestion delay", raw: `{"duration": "1m", "ingestionDelay": "-1s", ` + errorRate + `}`, wantErr: `field "ingestionDelay": "-1s" is out of range, allowed a duration >= 0 such as "3m" or "0s"`},
		{name: "fail: negative failure limit", raw: `{"duration": "1m", "failureLimit": -1, ` + errorRate + `}`, wantErr: `field "failureLimit": -1 is out of range, allowed an integer >= 0`},
		{name: "fail: minRequests as string", raw: `{"duration": "1m", "minRequests": "many", ` + errorRate + `}`, wantErr: `field "minRequests": "many" is not an integer, allowed an integer >= 0`},
		{name: "fail: onInconclusive", raw: `{"duration": "1m", "onInconclusive": "ignore", ` + errorRate + `}`, wantErr: `field "onInconclusive": "ignore" is not allowed, allowed fail, pass`},
		{name: "fail: metrics not a list", raw: `{"duration": "1m", "metrics": {"errorRate": {}}}`, wantErr: `field "metrics": {"errorRate": {}} is not a list`},
		{name: "fail: unknown metric", raw: `{"duration": "1m", "metrics": [{"errors": {}}]}`, wantErr: `CLOUDRUN_ANALYSIS: unknown field "metrics[0].errors", allowed fields: custom, errorRate, latency, promql`},
		{name: "fail: two metrics in one item", raw: `{"duration": "1m", "metrics": [{"errorRate": {"max": 1}, "latency": {"max": "1s"}}]}`, wantErr: `field "metrics[0]": must have exactly one of custom, errorRate, latency, promql`},
		{name: "fail: metric not an object", raw: `{"duration": "1m", "metrics": ["errorRate"]}`, wantErr: `field "metrics[0]": must be an object, got "errorRate"`},
		{name: "fail: no threshold", raw: `{"duration": "1m", "metrics": [{"errorRate": {}}]}`, wantErr: `field "metrics[0].errorRate": sets no threshold, allowed fields with a threshold: max, maxIncrease`},
		{name: "fail: unknown threshold", raw: `{"duration": "1m", "metrics": [{"errorRate": {"min": "1%"}}]}`, wantErr: `unknown field "metrics[0].errorRate.min", allowed fields: dryRun, max, maxIncrease`},
		{name: "fail: percentage out of range", raw: `{"duration": "1m", "metrics": [{"errorRate": {"max": "120%"}}]}`, wantErr: `field "metrics[0].errorRate.max": "120%" is not allowed, allowed a percentage such as "1%", "0.5%" or 1 (0-100)`},
		{name: "fail: percentile", raw: `{"duration": "1m", "metrics": [{"latency": {"percentile": 100, "max": "1s"}}]}`, wantErr: `field "metrics[0].latency.percentile": 100 is out of range, allowed an integer 1-99`},
		{
			name: "success: a latency of 0s allowed over the baseline",
			raw:  `{"duration": "10m", "metrics": [{"latency": {"maxIncrease": "0s"}}]}`,
			want: defaults(AnalysisMetric{Latency: &LatencyMetric{Percentile: 99, MaxIncrease: ptr(time.Duration(0))}}),
		},
		{
			name: "success: the lowest and highest percentiles",
			raw:  `{"duration": "10m", "metrics": [{"latency": {"percentile": 1, "max": "1s"}}, {"latency": {"percentile": 99, "max": "2s"}}]}`,
			want: defaults(AnalysisMetric{Latency: &LatencyMetric{Percentile: 1, Max: ptr(time.Second)}}, AnalysisMetric{Latency: &LatencyMetric{Percentile: 99, Max: ptr(2 * time.Second)}}),
		},
		{name: "fail: percentile 0", raw: `{"duration": "1m", "metrics": [{"latency": {"percentile": 0, "max": "1s"}}]}`, wantErr: `field "metrics[0].latency.percentile": 0 is out of range, allowed an integer 1-99`},
		{name: "fail: metric null", raw: `{"duration": "1m", "metrics": [{"errorRate": null}]}`, wantErr: `field "metrics[0]": must be an object with one of custom, errorRate, latency, promql`},
		{name: "fail: custom reducer not a string", raw: `{"duration": "1m", "metrics": [{"custom": {"filter": "metric.type = \"a\"", "reduce": 1, "max": 1}}]}`, wantErr: `field "metrics[0].custom.reduce": 1 is not a string`},
		{name: "fail: promql unknown field", raw: `{"duration": "1m", "metrics": [{"promql": {"query": "up", "max": 1, "step": "1m"}}]}`, wantErr: `unknown field "metrics[0].promql.step", allowed fields: dryRun, max, min, query`},
		{
			name: "success: the largest integer",
			raw:  `{"duration": "10m", "failureLimit": 2147483647, ` + errorRate + `}`,
			want: func() AnalysisStageOptions {
				o := defaults(AnalysisMetric{ErrorRate: &ErrorRateMetric{Max: ptr(0.01)}})
				o.FailureLimit = math.MaxInt32
				return o
			}(),
		},
		{name: "fail: an integer too large", raw: `{"duration": "1m", "failureLimit": 2147483648, ` + errorRate + `}`, wantErr: `field "failureLimit": 2147483648 is not an integer`},
		{name: "fail: the smallest integer is an integer, out of range", raw: `{"duration": "1m", "failureLimit": -2147483648, ` + errorRate + `}`, wantErr: `field "failureLimit": -2147483648 is out of range, allowed an integer >= 0`},
		{name: "fail: an integer too small", raw: `{"duration": "1m", "failureLimit": -2147483649, ` + errorRate + `}`, wantErr: `field "failureLimit": -2147483649 is not an integer`},
		{name: "fail: a 40-character value is shown whole", raw: `{"duration": "1m", "metrics": [{"errorRate": {"max": "` + strings.Repeat("9", 38) + `"}}]}`,
			wantErr: `field "metrics[0].errorRate.max": "` + strings.Repeat("9", 38) + `" is not allowed`},
		{name: "fail: a longer value is cut", raw: `{"duration": "1m", "metrics": [{"errorRate": {"max": "` + strings.Repeat("9", 39) + `"}}]}`,
			wantErr: `field "metrics[0].errorRate.max": "` + strings.Repeat("9", 39) + `... is not allowed`},
		{name: "fail: negative latency", raw: `{"duration": "1m", "metrics": [{"latency": {"max": "-1ms"}}]}`, wantErr: `field "metrics[0].latency.max": "-1ms" is out of range, allowed a duration >= 0 such as "800ms"`},
		{name: "fail: latency as number", raw: `{"duration": "1m", "metrics": [{"latency": {"max": 800}}]}`, wantErr: `field "metrics[0].latency.max": 800 is not a duration, allowed a duration >= 0 such as "800ms"`},
		{name: "fail: custom without metric type", raw: `{"duration": "1m", "metrics": [{"custom": {"filter": "resource.type = \"x\"", "max": 1}}]}`, wantErr: `field "metrics[0].custom.filter": "resource.type = \"x\"" names no metric`},
		{name: "fail: custom reducer", raw: `{"duration": "1m", "metrics": [{"custom": {"filter": "metric.type = \"a\"", "reduce": "p99", "max": 1}}]}`, wantErr: `field "metrics[0].custom.reduce": "p99" is not allowed, allowed sum, mean, max, min`},
		{name: "fail: promql without query", raw: `{"duration": "1m", "metrics": [{"promql": {"max": 1}}]}`, wantErr: `field "metrics[0].promql.query": is required, allowed a PromQL query that gives one value`},
		{name: "fail: custom without threshold", raw: `{"duration": "1m", "metrics": [{"custom": {"filter": "metric.type = \"a\""}}]}`, wantErr: `field "metrics[0].custom": sets no threshold, allowed fields with a threshold: max, min`},
		{name: "fail: promql without threshold", raw: `{"duration": "1m", "metrics": [{"promql": {"query": "up"}}]}`, wantErr: `field "metrics[0].promql": sets no threshold, allowed fields with a threshold: max, min`},
		{name: "fail: custom threshold as string", raw: `{"duration": "1m", "metrics": [{"custom": {"filter": "metric.type = \"a\"", "max": "1"}}]}`, wantErr: `field "metrics[0].custom.max": "1" is not a number, allowed a number`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeAnalysisStageOptions([]byte(tc.raw))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestAnalysisStageOptions_Checks(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 3, AnalysisStageOptions{Duration: 10 * time.Second, Interval: 3 * time.Second}.Checks())
	assert.Equal(t, 1, AnalysisStageOptions{Duration: time.Second, Interval: time.Second}.Checks())
}
