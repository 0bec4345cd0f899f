package deployment

import (
	"testing"
	"time"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/stagetime"
)

// TestStageTimingLogsOneLinePerStage: with stage timing on, a SYNC that waits for its revision logs where its
// time went: its Cloud Run calls, the sleeps between readiness polls, and the rest.
func TestStageTimingLogsOneLinePerStage(t *testing.T) {
	const delay = 200 * time.Millisecond
	e := newEnv(t, newFake(t, fakerun.WithReadinessDelay(delay)))
	e.plugin.stageTiming = true
	core, logs := observer.New(zap.InfoLevel)
	e.logger = zap.New(core)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	start := time.Now()
	status, log := e.run(StageCloudRunSync, "", quick)
	elapsed := time.Since(start)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	lines := logs.FilterMessage(stagetime.Message).All()
	require.Len(t, lines, 1)
	f := lines[0].ContextMap()
	assert.Equal(t, StageCloudRunSync, f[stagetime.FieldStage])
	assert.Equal(t, int64(0), f[stagetime.FieldStageIndex])
	assert.Equal(t, "deploy-1111111aaaa", f[stagetime.FieldDeployment])
	calls := callCounts(e.fakes[0])
	total := 0
	for _, n := range calls {
		total += n
	}
	assert.Equal(t, int64(total), f[stagetime.FieldRPCs], "one call counted per request fakerun received: %v", calls)
	totalMS, rpcMS, waitMS, ownMS := f[stagetime.FieldTotal].(float64), f[stagetime.FieldRPC].(float64), f[stagetime.FieldWait].(float64), f[stagetime.FieldOwn].(float64)
	polls := calls["GetRevision"]
	require.Greater(t, polls, 1, "the revision was not ready at the first poll")
	assert.GreaterOrEqual(t, waitMS, float64(polls-1)*float64(e.plugin.pollInterval.Microseconds())/1000, "a poll interval asleep between polls")
	assert.GreaterOrEqual(t, totalMS, float64(delay.Microseconds())/1000)
	assert.Greater(t, rpcMS, 0.0)
	assert.LessOrEqual(t, totalMS, float64(elapsed.Microseconds())/1000)
	assert.InDelta(t, totalMS-rpcMS-waitMS, ownMS, 0.0021, "own is the rest, each figure rounded to the microsecond")
}

func TestStageTimingIsOffByDefault(t *testing.T) {
	e := newEnv(t, newFake(t))
	core, logs := observer.New(zap.DebugLevel)
	e.logger = zap.New(core)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Empty(t, logs.FilterMessage(stagetime.Message).All())
}
