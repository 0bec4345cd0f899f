package config

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRawDeployTargetConfig(t *testing.T) {
	t.Parallel()
	var empty RawDeployTargetConfig
	b, err := json.Marshal(empty)
	require.NoError(t, err)
	assert.JSONEq(t, "null", string(b))

	raw := `{"project": "p", "region": "us-central1"}`
	var c RawDeployTargetConfig
	require.NoError(t, json.Unmarshal([]byte(raw), &c), "a mistake is found when the target is used, not when piped's message is decoded")
	b, err = json.Marshal(c)
	require.NoError(t, err)
	assert.JSONEq(t, raw, string(b), "kept exactly as piped sent it")
	got, err := c.Decode()
	require.NoError(t, err)
	assert.Equal(t, DeployTargetConfig{Project: "p", Region: "us-central1"}, got)

	require.NoError(t, json.Unmarshal([]byte(`{"project": "p"}`), &c))
	_, err = c.Decode()
	require.ErrorContains(t, err, `deploy target config: field "region": is required`)
}

func TestRawApplicationSpec(t *testing.T) {
	t.Parallel()
	var s RawApplicationSpec
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, "null", string(b))
	got, err := s.Decode("app.pipecd.yaml")
	require.NoError(t, err)
	assert.Equal(t, DefaultServiceManifestFile, got.Input.ServiceManifestFile, "no section means the defaults")

	raw := `{"input": {"image": "gcr.io/p/web:v2"}}`
	require.NoError(t, json.Unmarshal([]byte(raw), &s))
	b, err = json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, raw, string(b))
	got, err = s.Decode("app.pipecd.yaml")
	require.NoError(t, err)
	assert.Equal(t, "gcr.io/p/web:v2", got.Input.Image)

	require.NoError(t, json.Unmarshal([]byte(`{"input": {"serviceManifestFile": "../x.yaml"}}`), &s))
	_, err = s.Decode("app.pipecd.yaml")
	require.ErrorContains(t, err, `app.pipecd.yaml: application spec.plugins.cloudrun: field "input.serviceManifestFile": "../x.yaml" is outside the application directory`)
	require.NoError(t, json.Unmarshal([]byte(`{"inputs": {}}`), &s))
	_, err = s.Decode("app.pipecd.yaml")
	require.ErrorContains(t, err, `app.pipecd.yaml: application spec.plugins.cloudrun: unknown field "inputs", allowed fields: access, input, quickSync`)
}
