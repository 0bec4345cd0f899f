package fidelity

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	cloudRun := Report{Target: "cloudrun", Observations: []Observation{
		{Behaviour: "get a missing service", Request: "GetService", Code: "NOT_FOUND", Message: "Resource 'x' does not exist."},
		{Behaviour: "create a service", Request: "CreateService", Code: "OK", Fields: map[string]string{
			"uri": "https://{service}-{hash}-an.a.run.app", "terminalCondition.type": "Ready",
		}},
		{Behaviour: "delete a serving revision", Request: "DeleteRevision", Code: "FAILED_PRECONDITION", Message: "serves traffic"},
		{Behaviour: "only on Cloud Run", Request: "ListServices", Code: "OK"},
	}}
	fake := Report{Target: "fakerun", Observations: []Observation{
		{Behaviour: "get a missing service", Request: "GetService", Code: "NOT_FOUND", Message: "other wording"},
		{Behaviour: "create a service", Request: "CreateService", Code: "OK", Fields: map[string]string{
			"uri": "https://{service}-{hash}.asia-northeast1.run.app", "generation": "1",
		}},
		{Behaviour: "delete a serving revision", Request: "DeleteRevision", Code: "INVALID_ARGUMENT"},
		{Behaviour: "only on fakerun", Request: "GetRevision", Code: "OK"},
	}}

	got := Compare(cloudRun, fake)
	want := []Mismatch{
		{Behaviour: "create a service", Request: "CreateService", What: "field generation", CloudRun: missing, Fakerun: "1"},
		{Behaviour: "create a service", Request: "CreateService", What: "field terminalCondition.type", CloudRun: "Ready", Fakerun: missing},
		{Behaviour: "create a service", Request: "CreateService", What: "field uri", CloudRun: "https://{service}-{hash}-an.a.run.app", Fakerun: "https://{service}-{hash}.asia-northeast1.run.app"},
		{Behaviour: "delete a serving revision", Request: "DeleteRevision", What: "code", CloudRun: "FAILED_PRECONDITION", Fakerun: "INVALID_ARGUMENT", Message: "serves traffic"},
		{Behaviour: "only on Cloud Run", Request: "ListServices", What: "observation", CloudRun: "OK", Fakerun: missing},
		{Behaviour: "only on fakerun", Request: "GetRevision", What: "observation", CloudRun: missing, Fakerun: "OK"},
	}
	assert.Equal(t, want, got)
	assert.Equal(t, `fakerun fix candidate: delete a serving revision (DeleteRevision): code is "FAILED_PRECONDITION" on Cloud Run but "INVALID_ARGUMENT" on fakerun (Cloud Run says: serves traffic)`, got[3].String())

	assert.Empty(t, Compare(cloudRun, cloudRun), "a report matches itself")
}

func TestWriteRead(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "report.json")
	r := Report{Target: "fakerun", Observations: []Observation{{Behaviour: "b", Request: "r", Code: "OK", Fields: map[string]string{"k": "v"}}}}
	require.NoError(t, Write(path, r))
	got, err := Read(path)
	require.NoError(t, err)
	assert.Equal(t, r, got)

	_, err = Read(filepath.Join(t.TempDir(), "missing.json"))
	require.Error(t, err)
}

func TestShape(t *testing.T) {
	t.Parallel()
	ph := map[string]string{"project": "my-proj", "service": "e2e1a2b3c-4f5e-fid", "region": "asia-northeast1"}
	tests := []struct {
		name, in, want string
	}{
		{"success: service name", "projects/my-proj/locations/asia-northeast1/services/e2e1a2b3c-4f5e-fid", "projects/{project}/locations/{region}/services/{service}"},
		{"success: revision name", "e2e1a2b3c-4f5e-fid-00001-x7z", "{service}-{NNNNN}-{xxx}"},
		{"success: legacy URI", "https://e2e1a2b3c-4f5e-fid-2n4m6k8q0a-an.a.run.app", "https://{service}-{hash}-an.a.run.app"},
		{"success: short words stay", "Ready v2 abc123", "Ready v2 abc123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, Shape(tt.in, ph))
		})
	}
}
