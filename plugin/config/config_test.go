package config

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pipe-cd/piped-plugin-sdk-go/unit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeDeployTargetConfig(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		raw     string
		want    DeployTargetConfig
		wantErr string
	}{
		{name: "success: minimal", raw: `{"project": "my-proj", "region": "asia-northeast1"}`, want: DeployTargetConfig{Project: "my-proj", Region: "asia-northeast1"}},
		{
			name: "success: fake endpoint",
			raw:  `{"project": "p", "region": "us-central1", "endpoint": "127.0.0.1:8080", "insecure": true}`,
			want: DeployTargetConfig{Project: "p", Region: "us-central1", Endpoint: "127.0.0.1:8080", Insecure: true},
		},
		{
			name: "success: credentials file",
			raw:  `{"project": "example.com:proj", "region": "europe-west1", "credentialsFile": "/etc/sa.json"}`,
			want: DeployTargetConfig{Project: "example.com:proj", Region: "europe-west1", CredentialsFile: "/etc/sa.json"},
		},
		{name: "success: unquoted project number", raw: `{"project": 123456789012, "region": "asia-northeast1"}`, want: DeployTargetConfig{Project: "123456789012", Region: "asia-northeast1"}},
		{name: "fail: project number with a fraction", raw: `{"project": 1234.5, "region": "asia-northeast1"}`, wantErr: `field "project": 1234.5 is not a string`},
		{name: "fail: empty", raw: ``, wantErr: `deploy target config: field "project": is required`},
		{name: "fail: missing region", raw: `{"project": "p"}`, wantErr: `deploy target config: field "region": is required, allowed a Cloud Run region such as "us-central1"`},
		{name: "fail: bad region", raw: `{"project": "p", "region": "Tokyo"}`, wantErr: `field "region": "Tokyo" is not a Cloud Run region`},
		{name: "fail: zone instead of region", raw: `{"project": "p", "region": "us-central1-a"}`, wantErr: `"us-central1-a" is not a Cloud Run region`},
		{name: "fail: bad project", raw: `{"project": "my/proj", "region": "us-central1"}`, wantErr: `field "project": "my/proj" is not a project ID`},
		{name: "fail: insecure without endpoint", raw: `{"project": "p", "region": "us-central1", "insecure": true}`, wantErr: `field "insecure": true requires "endpoint" to be set`},
		{name: "fail: insecure with credentials", raw: `{"project": "p", "region": "us-central1", "endpoint": "127.0.0.1:8080", "insecure": true, "credentialsFile": "k.json"}`, wantErr: `field "insecure": true and "credentialsFile" are both set: an insecure connection sends no credentials, remove one of them`},
		{name: "fail: endpoint with scheme", raw: `{"project": "p", "region": "us-central1", "endpoint": "http://localhost:80"}`, wantErr: `field "endpoint": "http://localhost:80" must not have a scheme, allowed "host:port"`},
		{name: "fail: endpoint without port", raw: `{"project": "p", "region": "us-central1", "endpoint": "localhost"}`, wantErr: `"localhost" is not host:port`},
		{name: "fail: endpoint bad port", raw: `{"project": "p", "region": "us-central1", "endpoint": "localhost:99999"}`, wantErr: `has an invalid port`},
		{name: "fail: endpoint port 0", raw: `{"project": "p", "region": "us-central1", "endpoint": "localhost:0"}`, wantErr: `field "endpoint": "localhost:0" has an invalid port`},
		{name: "fail: endpoint port 65536", raw: `{"project": "p", "region": "us-central1", "endpoint": "localhost:65536"}`, wantErr: `field "endpoint": "localhost:65536" has an invalid port`},
		{
			name: "success: the lowest port",
			raw:  `{"project": "p", "region": "us-central1", "endpoint": "localhost:1"}`,
			want: DeployTargetConfig{Project: "p", Region: "us-central1", Endpoint: "localhost:1"},
		},
		{
			name: "success: the highest port",
			raw:  `{"project": "p", "region": "us-central1", "endpoint": "localhost:65535"}`,
			want: DeployTargetConfig{Project: "p", Region: "us-central1", Endpoint: "localhost:65535"},
		},
		{name: "fail: unknown field", raw: `{"project": "p", "region": "us-central1", "credentialFile": "x"}`, wantErr: `deploy target config: unknown field "credentialFile", allowed fields: credentialsFile, endpoint, insecure, project, region`},
		{name: "fail: project not a string", raw: `{"project": true, "region": "us-central1"}`, wantErr: `field "project": true is not a string`},
		{name: "fail: insecure as string", raw: `{"project": "p", "region": "us-central1", "endpoint": "127.0.0.1:8080", "insecure": "true"}`, wantErr: `deploy target config: field "insecure": "true" is not a boolean, allowed true or false`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeDeployTargetConfig([]byte(tc.raw))
			var viaJSON DeployTargetConfig
			jsonErr := json.Unmarshal([]byte(orEmptyObject(tc.raw)), &viaJSON)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				require.Error(t, jsonErr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, jsonErr)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.want, viaJSON)
		})
	}
}

func orEmptyObject(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

func TestApplicationSpec(t *testing.T) {
	t.Parallel()
	defaults := ApplicationSpec{
		Input:     Input{ServiceManifestFile: "service.yaml"},
		QuickSync: QuickSyncOptions{Timeout: unit.Duration(10 * time.Minute)},
	}
	testcases := []struct {
		name    string
		raw     string
		want    ApplicationSpec
		wantErr string
	}{
		{name: "success: empty object means defaults", raw: `{}`, want: defaults},
		{name: "success: empty input means defaults", raw: `{"input": {}, "quickSync": null}`, want: defaults},
		{name: "success: empty manifest file name means default", raw: `{"input": {"serviceManifestFile": ""}}`, want: defaults},
		{
			name: "success: every field",
			raw:  `{"input": {"serviceManifestFile": "run/svc.json", "image": "localhost:5000/app:v2"}, "quickSync": {"prune": true, "timeout": "2m"}, "access": {"public": true}}`,
			want: ApplicationSpec{
				Input:     Input{ServiceManifestFile: "run/svc.json", Image: "localhost:5000/app:v2"},
				QuickSync: QuickSyncOptions{Prune: true, Timeout: unit.Duration(2 * time.Minute)},
				Access:    Access{Public: new(true)},
			},
		},
		{name: "success: access.public false revokes public access", raw: `{"access": {"public": false}}`, want: ApplicationSpec{Input: defaults.Input, QuickSync: defaults.QuickSync, Access: Access{Public: new(false)}}},
		{name: "success: access without public leaves the policy alone", raw: `{"access": {}}`, want: defaults},
		{name: "fail: access.public not a boolean", raw: `{"access": {"public": "yes"}}`, wantErr: `field "access.public": "yes" is not a boolean, allowed true or false`},
		{name: "fail: unknown access field", raw: `{"access": {"invokers": ["allUsers"]}}`, wantErr: `unknown field "access.invokers", allowed fields: public`},
		{name: "fail: access.public for a job", raw: `{"input": {"jobManifestFile": "job.yaml"}, "access": {"public": true}}`, wantErr: `field "access.public" is set for a job or a worker pool, allowed only for a service`},
		{name: "fail: access.public for a worker pool", raw: `{"input": {"workerPoolManifestFile": "pool.yaml"}, "access": {"public": true}}`, wantErr: `field "access.public" is set for a job or a worker pool, allowed only for a service`},
		{name: "fail: unknown top-level field", raw: `{"inputs": {}}`, wantErr: `application spec.plugins.cloudrun: unknown field "inputs", allowed fields: access, input, quickSync`},
		{name: "fail: unknown input field", raw: `{"input": {"manifest": "a.yaml"}}`, wantErr: `unknown field "input.manifest", allowed fields: image, jobManifestFile, serviceManifestFile, workerPoolManifestFile`},
		{
			name: "success: a job",
			raw:  `{"input": {"jobManifestFile": "job.yaml"}}`,
			want: ApplicationSpec{Input: Input{JobManifestFile: "job.yaml"}, QuickSync: defaults.QuickSync},
		},
		{name: "fail: a service and a job", raw: `{"input": {"serviceManifestFile": "service.yaml", "jobManifestFile": "job.yaml"}}`, wantErr: `fields "input.serviceManifestFile" and "input.jobManifestFile" are set together: an application deploys one service, one job or one worker pool, allowed one of them`},
		{
			name: "success: a worker pool",
			raw:  `{"input": {"workerPoolManifestFile": "worker-pool.yaml"}}`,
			want: ApplicationSpec{Input: Input{WorkerPoolManifestFile: "worker-pool.yaml"}, QuickSync: defaults.QuickSync},
		},
		{name: "fail: a service and a worker pool", raw: `{"input": {"serviceManifestFile": "service.yaml", "workerPoolManifestFile": "pool.yaml"}}`, wantErr: `fields "input.serviceManifestFile" and "input.workerPoolManifestFile" are set together`},
		{name: "fail: input not an object", raw: `{"input": "service.yaml"}`, wantErr: `field "input": must be an object, got "service.yaml"`},
		{name: "fail: bad quick sync timeout", raw: `{"quickSync": {"timeout": "soon"}}`, wantErr: `field "quickSync.timeout": "soon" is not a duration`},
		{name: "fail: unknown quick sync field", raw: `{"quickSync": {"tag": true}}`, wantErr: `unknown field "quickSync.tag", allowed fields: prune, timeout`},
		{name: "fail: manifest outside the app dir", raw: `{"input": {"serviceManifestFile": "../other/service.yaml"}}`, wantErr: `field "input.serviceManifestFile": "../other/service.yaml" is outside the application directory`},
		{name: "fail: absolute manifest path", raw: `{"input": {"serviceManifestFile": "/etc/service.yaml"}}`, wantErr: `"/etc/service.yaml" is outside the application directory`},
		{name: "fail: image with spaces", raw: `{"input": {"image": " app:v1"}}`, wantErr: `field "input.image": " app:v1" has surrounding spaces`},
		{name: "fail: image not a string", raw: `{"input": {"image": 2}}`, wantErr: `field "input.image": 2 is not a string`},
		{name: "fail: manifest file not a string", raw: `{"input": {"serviceManifestFile": ["a.yaml"]}}`, wantErr: `field "input.serviceManifestFile": ["a.yaml"] is not a string`},
		{name: "fail: quick sync not an object", raw: `{"quickSync": true}`, wantErr: `field "quickSync": must be an object, got true`},
		{name: "fail: quick sync prune not a boolean", raw: `{"quickSync": {"prune": "yes"}}`, wantErr: `field "quickSync.prune": "yes" is not a boolean`},
		{name: "fail: quick sync timeout zero", raw: `{"quickSync": {"timeout": "0s"}}`, wantErr: `field "quickSync.timeout": "0s" is not positive`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var spec ApplicationSpec
			err := json.Unmarshal([]byte(tc.raw), &spec)
			if err == nil {
				err = spec.Validate()
			}
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, spec)
			assert.Equal(t, SyncStageOptions{Prune: tc.want.QuickSync.Prune, Timeout: tc.want.QuickSync.Timeout}, spec.QuickSync.SyncStageOptions())
		})
	}
}

func TestPluginConfig(t *testing.T) {
	t.Parallel()
	var c PluginConfig
	require.NoError(t, json.Unmarshal([]byte(`{}`), &c))
	err := json.Unmarshal([]byte(`{"project": "p"}`), &c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `plugin config: unknown field "project", no fields are allowed`)

	data, err := json.Marshal(PluginConfig{})
	require.NoError(t, err)
	assert.JSONEq(t, `{}`, string(data), "piped's config round-trips as an empty object")
}

// TestApplicationSpecValidate covers specs built in code rather than decoded.
func TestApplicationSpecValidate(t *testing.T) {
	t.Parallel()
	spec := ApplicationSpec{QuickSync: QuickSyncOptions{Timeout: unit.Duration(time.Minute)}}
	err := spec.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `field "input.serviceManifestFile": is empty, allowed a path relative to the application directory (default "service.yaml")`)

	spec.Input.ServiceManifestFile = "service.yaml"
	spec.QuickSync.Timeout = 0
	err = spec.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `field "quickSync.timeout": "0s" is not positive`)
}
