package deployment

import (
	"testing"
	"time"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// successRatio is the PromQL threshold of the tests: the share of the new revision's answers that are
// not 5xx, over the check's window, at least 95%.
const successRatio = `{"duration": "2s", "interval": "1s", "ingestionDelay": "0s", "metrics": [{"promql": {"min": 0.95, "query":
  "sum(rate(run_googleapis_com:request_count{revision_name=\"${CLOUDRUN_REVISION}\",response_code_class!=\"5xx\"}[${CLOUDRUN_WINDOW}])) / sum(rate(run_googleapis_com:request_count{revision_name=\"${CLOUDRUN_REVISION}\"}[${CLOUDRUN_WINDOW}]))"}}]}`

func TestAnalysis_PromQLCatchesABadCanary(t *testing.T) {
	t.Parallel()
	f := newFake(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		"gcr.io/p/web:bad": {ErrorRate: 0.5, ErrorCode: 503},
	}}))
	e := newEnv(t, f)
	revNew, revOld := canaryAt10(t, f, e, "gcr.io/p/web:bad", 5*time.Second)

	status, log := e.run(StageCloudRunAnalysis, successRatio, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Regexp(t, `promql +0\.\d+ +>= 0\.95 +FAIL +sum\(rate\(run_googleapis_com:request_count\{revision_name="\$\{CLOUDRUN_REVISION\}"`, log.String())
	assert.Contains(t, log.String(), "ERROR revision "+revNew+" failed the analysis at check 1/2")

	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revOld + ":100"}, trafficOf(t, f))
}

func TestAnalysis_PromQLPassesAGoodCanary(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revNew, _ := canaryAt10(t, f, e, "gcr.io/p/web:v2", 5*time.Second)

	status, log := e.run(StageCloudRunAnalysis, successRatio, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Regexp(t, `promql +1 +>= 0\.95 +PASS`, log.String())
	assert.Contains(t, log.String(), "Revision "+revNew+" passed the analysis: 2 checks, 2 passed")
}

func TestAnalysis_PromQLWithoutDataIsInconclusiveAndABadQueryFails(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	canaryAt10(t, f, e, "gcr.io/p/web:v2", 0)

	status, log := e.run(StageCloudRunAnalysis, successRatio, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "the query gave no value: sum(rate(")

	status, log = e.run(StageCloudRunAnalysis, `{"duration": "1s", "interval": "1s", "ingestionDelay": "0s", "metrics": [{"promql": {"query": "topk(1, run_googleapis_com:request_count)", "max": 1}}]}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), `check 1/1 cannot read Cloud Monitoring: failed to evaluate the PromQL query of projects/proj: invalid argument: aggregation "topk" is not supported by fakerun's PromQL`)
}
