package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const profile = `mode: atomic
github.com/pipecd-cloudrun/cloudrun/plugin/deployment/pipeline.go:10.1,12.2 9 1
github.com/pipecd-cloudrun/cloudrun/plugin/deployment/pipeline.go:13.1,14.2 1 0
github.com/pipecd-cloudrun/cloudrun/plugin/deployment/sync.go:10.1,12.2 4 0
github.com/pipecd-cloudrun/cloudrun/plugin/deployment/sync.go:10.1,12.2 4 3
github.com/pipecd-cloudrun/cloudrun/plugin/provider/client.go:1.1,2.2 10 0
github.com/pipecd-cloudrun/cloudrun/plugin/naming/naming.go:1.1,2.2 10 0
`

func TestMeasure(t *testing.T) {
	t.Parallel()
	blocks, err := parseProfile(strings.NewReader(profile))
	require.NoError(t, err)
	results := measure(components, blocks)

	byName := map[string]result{}
	for _, r := range results {
		byName[r.name] = r
	}
	iface := byName["plugin interface (versions, strategy, stage building)"]
	assert.Equal(t, 10, iface.total, "pipeline.go belongs to the plugin interface, not to the stage executors")
	assert.InDelta(t, 90.0, iface.percent(), 0.01)
	assert.True(t, iface.meetsFloor())

	stages := byName["stage executors (SYNC, PROMOTE, ANALYSIS, ROLLBACK, CANARY_CLEANUP)"]
	assert.Equal(t, 4, stages.total, "a block listed by two test binaries counts once")
	assert.Equal(t, 4, stages.covered, "a block covered by any test binary counts as covered")

	client := byName["Cloud Run client layer"]
	assert.False(t, client.meetsFloor())
	assert.True(t, byName["naming and traffic arithmetic"].meetsFloor(), "components without a floor never fail")
}

// allCovered covers one block of every component that has a floor.
const allCovered = `mode: atomic
github.com/pipecd-cloudrun/cloudrun/plugin/deployment/pipeline.go:1.1,2.2 1 1
github.com/pipecd-cloudrun/cloudrun/plugin/deployment/sync.go:1.1,2.2 1 1
github.com/pipecd-cloudrun/cloudrun/plugin/provider/client.go:1.1,2.2 1 1
github.com/pipecd-cloudrun/cloudrun/plugin/analysis/judge.go:1.1,2.2 1 1
github.com/pipecd-cloudrun/cloudrun/plugin/config/decode.go:1.1,2.2 1 1
github.com/pipecd-cloudrun/cloudrun/fakerun/server.go:1.1,2.2 1 1
`

func TestRun(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		profile string
		wantOK  bool
		wantErr string
		wantOut string
	}{
		{name: "success: every floor holds", profile: allCovered, wantOK: true, wantOut: "ok: every component meets its floor"},
		{name: "fail: a component below its floor", profile: profile, wantOK: false, wantOut: "FAIL: below the floor: Cloud Run client layer"},
		{name: "fail: a component with no statements at all", profile: "mode: atomic\n", wantOK: false, wantOut: "fakerun"},
		{name: "fail: a malformed line", profile: "mode: atomic\nnot a profile line\n", wantErr: "line 2"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			ok, err := run(strings.NewReader(tc.profile), &out)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantOK, ok)
			assert.Contains(t, out.String(), tc.wantOut)
		})
	}
}
