package livestate

import (
	"fmt"
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
)

func TestJoinPaths_NamesAtMostFive(t *testing.T) {
	t.Parallel()
	paths := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("f%d", i+1)
		}
		return out
	}
	assert.Equal(t, "f1, f2, f3, f4, f5", joinPaths(paths(5)), "five are all named")
	assert.Equal(t, "f1, f2, f3, f4, f5 and 1 more", joinPaths(paths(6)))
	assert.Equal(t, "f1, f2, f3, f4, f5 and 3 more", joinPaths(paths(8)))
}

func TestCombine_TheWorstStatusWins(t *testing.T) {
	t.Parallel()
	synced := targetSync{status: sdk.ApplicationSyncStateSynced, short: "a synced", reason: "a traffic"}
	out := targetSync{status: sdk.ApplicationSyncStateOutOfSync, short: "b differs", reason: "b diff"}
	invalid := targetSync{status: sdk.ApplicationSyncStateInvalidConfig, short: "c invalid", reason: "c why"}
	unknown := targetSync{status: sdk.ApplicationSyncStateUnknown, short: "d unknown", reason: "d why"}

	assert.Equal(t, sdk.ApplicationSyncState{Status: sdk.ApplicationSyncStateUnknown}, combine(nil))
	assert.Equal(t, sdk.ApplicationSyncState{Status: sdk.ApplicationSyncStateSynced, ShortReason: "a synced; a synced", Reason: "a traffic\na traffic"},
		combine([]targetSync{synced, synced}), "all in sync: every reason")
	assert.Equal(t, sdk.ApplicationSyncState{Status: sdk.ApplicationSyncStateOutOfSync, ShortReason: "b differs", Reason: "b diff\nd why"},
		combine([]targetSync{synced, out, unknown}), "only the targets not in sync give reasons")
	assert.Equal(t, sdk.ApplicationSyncState{Status: sdk.ApplicationSyncStateInvalidConfig, ShortReason: "c invalid", Reason: "b diff\nc why"},
		combine([]targetSync{out, invalid, synced}))
	assert.Equal(t, sdk.ApplicationSyncStateUnknown, combine([]targetSync{synced, unknown}).Status)
}
