package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/e2e/fidelity"
)

func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, r fidelity.Report) string {
		p := filepath.Join(dir, name)
		require.NoError(t, fidelity.Write(p, r))
		return p
	}
	cloudRunReport := write("cloudrun.json", fidelity.Report{Target: "cloudrun", Observations: []fidelity.Observation{
		{Behaviour: "get a missing service", Request: "GetService", Code: "NOT_FOUND"},
	}})
	same := write("same.json", fidelity.Report{Target: "fakerun", Observations: []fidelity.Observation{
		{Behaviour: "get a missing service", Request: "GetService", Code: "NOT_FOUND"},
	}})
	differs := write("differs.json", fidelity.Report{Target: "fakerun", Observations: []fidelity.Observation{
		{Behaviour: "get a missing service", Request: "GetService", Code: "INVALID_ARGUMENT"},
	}})

	tests := []struct {
		name       string
		cloudRun   string
		fake       string
		wantStatus int
		wantOut    string
	}{
		{"success: same answers", cloudRunReport, same, 0, "fakerun answered like Cloud Run in all 1 behaviour(s)"},
		{"fail: a different code", cloudRunReport, differs, 1, `fakerun fix candidate: get a missing service (GetService): code is "NOT_FOUND" on Cloud Run but "INVALID_ARGUMENT" on fakerun`},
		{"fail: a missing report", cloudRunReport, filepath.Join(dir, "none.json"), 2, "none.json"},
		{"fail: no flags", "", "", 2, "both -cloudrun and -fakerun are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			assert.Equal(t, tt.wantStatus, run(&out, tt.cloudRun, tt.fake))
			assert.Contains(t, out.String(), tt.wantOut)
		})
	}
}
