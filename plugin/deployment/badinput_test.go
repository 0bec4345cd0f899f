package deployment

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// appWith returns an application config whose cloudrun section is plugin (YAML under spec.plugins.cloudrun).
func appWith(plugin string) string {
	return quickSyncApp[:strings.Index(quickSyncApp, "    cloudrun:")] + "    cloudrun:\n" + plugin
}

// targetJSON is a deploy target config for the fake at addr with extra fields replacing the defaults.
func targetJSON(addr, fields string) string {
	if fields == "" {
		return fmt.Sprintf(`{"project": %q, "region": %q, "endpoint": %q, "insecure": true}`, testProject, testRegion, addr)
	}
	return "{" + fields + "}"
}

func TestStages_BadInputFailsClearlyAndLeavesTrafficUnchanged(t *testing.T) {
	t.Parallel()
	v2 := serviceYAML("gcr.io/p/web:v2")
	testcases := []struct {
		name     string
		stage    string
		config   string
		app      string
		service  string
		target   string // deploy target fields; "-" means no deploy target at all
		wantLogs []string
	}{
		// Service manifests.
		{name: "fail: manifest unknown field", service: "name: web\ntemplat:\n  containers:\n    - image: gcr.io/p/web:v2\n", wantLogs: []string{"service.yaml", "templat"}},
		{name: "fail: manifest without template", service: "name: web\n", wantLogs: []string{"service.yaml", "template"}},
		{name: "fail: container without image", service: "name: web\ntemplate:\n  containers:\n    - ports:\n        - containerPort: 8080\n", wantLogs: []string{"service.yaml", "image"}},
		{name: "fail: invalid service name", service: strings.Replace(v2, "name: web", "name: Web_App", 1), wantLogs: []string{"service.yaml", "Web_App"}},
		{name: "fail: output-only field", service: "uri: https://x\n" + v2, wantLogs: []string{"service.yaml", "uri"}},
		{name: "fail: not YAML", service: "name: web\ntemplate: [\n", wantLogs: []string{"service.yaml"}},
		{name: "fail: empty manifest", service: "", wantLogs: []string{"service.yaml"}},
		{name: "fail: other project in name", service: strings.Replace(v2, "name: web", "name: projects/other/locations/asia-northeast1/services/web", 1), wantLogs: []string{"service.yaml", `project "other"`}},
		{name: "fail: other region in name", service: strings.Replace(v2, "name: web", "name: projects/proj/locations/us-central1/services/web", 1), wantLogs: []string{"service.yaml", `region "us-central1"`}},
		{name: "fail: invalid image", service: serviceYAML("gcr.io/p/WEB:v2"), wantLogs: []string{"service.yaml", "gcr.io/p/WEB:v2"}},
		{name: "fail: port is not a number", service: strings.Replace(v2, "containerPort: 8080", "containerPort: http", 1), wantLogs: []string{"service.yaml", "containerPort"}},
		{name: "fail: manifest duplicate image", service: v2 + "      image: gcr.io/p/web:v3\n", wantLogs: []string{"service.yaml", "duplicate key", `line 7: key "image" already set in map`}},
		// Application config.
		{name: "fail: duplicate key in plugin spec", app: appWith("      input:\n        serviceManifestFile: service.yaml\n        serviceManifestFile: other.yaml\n"),
			wantLogs: []string{"app.pipecd.yaml", "duplicate key", `line 9: key "serviceManifestFile" already set in map`}},
		{name: "fail: manifest file missing", app: appWith("      input:\n        serviceManifestFile: missing.yaml\n"), wantLogs: []string{"missing.yaml"}},
		{name: "fail: manifest outside the application directory", app: appWith("      input:\n        serviceManifestFile: ../service.yaml\n"), wantLogs: []string{"app.pipecd.yaml", "serviceManifestFile", "outside the application directory"}},
		{name: "fail: unknown field in plugin spec", app: appWith("      inputs: {}\n"), wantLogs: []string{"app.pipecd.yaml", "inputs"}},
		{name: "fail: invalid input.image", app: appWith("      input:\n        image: 'gcr.io/p/web:'\n"), wantLogs: []string{"gcr.io/p/web:"}},
		{name: "fail: negative quick sync timeout", app: appWith("      quickSync:\n        timeout: -1s\n"), wantLogs: []string{"app.pipecd.yaml", "timeout", "positive duration"}},
		{name: "fail: prune is not a boolean", app: appWith("      quickSync:\n        prune: maybe\n"), wantLogs: []string{"app.pipecd.yaml", "prune"}},
		// Stage options.
		{name: "fail: SYNC unknown option", app: canaryApp, config: `{"skipTraficShift": true}`, wantLogs: []string{"CLOUDRUN_SYNC", "skipTraficShift", "skipTrafficShift"}},
		{name: "fail: SYNC timeout not a duration", app: canaryApp, config: `{"timeout": "soon"}`, wantLogs: []string{"CLOUDRUN_SYNC", "timeout", "soon"}},
		{name: "fail: SYNC tag not a boolean", app: canaryApp, config: `{"tag": "yes"}`, wantLogs: []string{"CLOUDRUN_SYNC", "tag"}},
		{name: "fail: PROMOTE percent too high", stage: StageCloudRunPromote, app: canaryApp, config: `{"percent": 150}`, wantLogs: []string{"CLOUDRUN_PROMOTE", "percent", "0-100"}},
		{name: "fail: PROMOTE percent missing", stage: StageCloudRunPromote, app: canaryApp, config: `{}`, wantLogs: []string{"CLOUDRUN_PROMOTE", "percent", "required"}},
		{name: "fail: PROMOTE percent not a number", stage: StageCloudRunPromote, app: canaryApp, config: `{"percent": "ten"}`, wantLogs: []string{"CLOUDRUN_PROMOTE", "ten", "0-100"}},
		{name: "fail: CLEANUP keepCount zero", stage: StageCloudRunCanaryCleanup, app: canaryApp, config: `{"keepCount": 0}`, wantLogs: []string{"CLOUDRUN_CANARY_CLEANUP", "keepCount", ">= 1"}},
		{name: "fail: CLEANUP unknown option", stage: StageCloudRunCanaryCleanup, app: canaryApp, config: `{"keep": 2}`, wantLogs: []string{"CLOUDRUN_CANARY_CLEANUP", "keep", "keepCount"}},
		// Deploy target configs.
		{name: "fail: deploy target without region", target: `"project": "proj"`, wantLogs: []string{"dt1", "region", "is required"}},
		{name: "fail: deploy target bad region", target: `"project": "proj", "region": "Tokyo"`, wantLogs: []string{"dt1", "Tokyo", "not a Cloud Run region"}},
		{name: "fail: deploy target insecure without endpoint", target: `"project": "proj", "region": "asia-northeast1", "insecure": true`, wantLogs: []string{"dt1", "insecure", "endpoint"}},
		{name: "fail: deploy target unknown field", target: `"project": "proj", "region": "asia-northeast1", "credentialFile": "k.json"`, wantLogs: []string{"dt1", "credentialFile", "credentialsFile"}},
		{name: "fail: deploy target credentials file missing", target: `"project": "proj", "region": "asia-northeast1", "credentialsFile": "/nonexistent/sa.json"`, wantLogs: []string{"dt1", "credentialsFile", "/nonexistent/sa.json"}},
		{name: "fail: no deploy target", target: "-", wantLogs: []string{"no deploy target"}},
		// Names that cannot be built.
		{name: "fail: service name too long for a preview tag", app: canaryApp, config: `{"tag": true, "skipTrafficShift": true}`,
			service: strings.Replace(v2, "name: web", "name: "+strings.Repeat("w", 45), 1), wantLogs: []string{"tag", "at most"}},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			e := newEnv(t, f)
			e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
			require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, "", quick)))
			before := trafficOf(t, f)
			f.ResetCalls()

			stage, app, service := StageCloudRunSync, quickSyncApp, v2
			if tc.stage != "" {
				stage = tc.stage
			}
			if tc.app != "" {
				app = tc.app
			}
			if tc.service != "" || strings.Contains(tc.name, "empty manifest") {
				service = tc.service
			}
			switch tc.target {
			case "":
			case "-":
				e.dts = nil
			default:
				e.dts = nil
				e.addTarget("dt1", targetJSON(f.Addr(), tc.target))
			}
			e.deploy("2222222bbbb", app, service)
			status, log := e.run(stage, tc.config, nil)

			assert.Equal(t, sdk.StageStatusFailure, status)
			for _, want := range tc.wantLogs {
				assert.Contains(t, log.String(), want)
			}
			assert.Contains(t, log.String(), "ERROR")
			assert.Equal(t, before, trafficOf(t, f), "traffic unchanged")
			for _, c := range f.Calls() {
				assert.NotEqual(t, "UpdateService", c.Method, "no write")
			}
		})
	}
}

func TestStages_MalformedCredentialsFileNamesTheTargetAndPathNotItsContent(t *testing.T) {
	t.Parallel()
	key := filepath.Join(t.TempDir(), "sa.json")
	require.NoError(t, os.WriteFile(key, []byte(`{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\nS3CRET`), 0o600))
	e := newEnv(t)
	e.addTarget("tokyo", fmt.Sprintf(`{"project": %q, "region": %q, "credentialsFile": %q}`, testProject, testRegion, key))
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	assert.Equal(t, sdk.StageStatusFailure, status)
	assert.Contains(t, log.String(), "cannot connect to Cloud Run for deploy target tokyo: credentialsFile \""+key+"\" is not a service-account key file")
	assert.NotContains(t, log.String(), "S3CRET")
}
