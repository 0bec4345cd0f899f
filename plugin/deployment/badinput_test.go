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
		// wantFirst is the first line of the first error of the stage, when the case checks it.
		wantFirst string
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
		{name: "fail: manifest duplicate image", service: v2 + "      image: gcr.io/p/web:v3\n", wantLogs: []string{"service.yaml"},
			wantFirst: `Invalid application configuration: manifest service.yaml: duplicate key "image" on line 7, allowed each key once per object`},
		// Explicit values outside Cloud Run's documented ranges, zero included where the minimum is above 0
		// (Cloud Run would read an explicit 0 as "unset" and use its default).
		{name: "fail: request timeout zero", service: v2 + "  timeout: 0s\n",
			wantFirst: `Invalid application configuration: manifest service.yaml: field "template.timeout": "0s" is out of range, allowed 1s to 3600s (Cloud Run's request timeout; omit it for 300s)`},
		{name: "fail: container port zero", service: strings.Replace(v2, "containerPort: 8080", "containerPort: 0", 1),
			wantFirst: `Invalid application configuration: manifest service.yaml: field "template.containers[0].ports[0].containerPort": 0 is out of range, allowed 1 to 65535 (omit the port for 8080)`},
		{name: "fail: concurrency above 1000", service: v2 + "  maxInstanceRequestConcurrency: 1001\n",
			wantFirst: `Invalid application configuration: manifest service.yaml: field "template.maxInstanceRequestConcurrency": 1001 is out of range, allowed 0 to 1000 (0 or none: Cloud Run's default)`},
		{name: "fail: probe failure threshold zero", service: v2 + "      startupProbe:\n        failureThreshold: 0\n        tcpSocket: {port: 8080}\n",
			wantFirst: `Invalid application configuration: manifest service.yaml: field "template.containers[0].startupProbe.failureThreshold": 0 is out of range, allowed 1 to 2147483647 (omit it for 3)`},
		{name: "fail: knative probe period zero", service: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - image: gcr.io/p/web:v2\n          livenessProbe: {periodSeconds: 0, httpGet: {path: /}}\n",
			wantFirst: `Invalid application configuration: manifest service.yaml: the Knative serving.knative.dev/v1 Service cannot be converted to a Cloud Run Admin API v2 Service (1 problem):`,
			wantLogs:  []string{`spec.template.spec.containers[0].livenessProbe.periodSeconds`, "an integer from 1 to"}},
		// Application config.
		{name: "fail: duplicate key in plugin spec", app: appWith("      input:\n        serviceManifestFile: service.yaml\n        serviceManifestFile: other.yaml\n"),
			wantFirst: `Invalid application configuration: app.pipecd.yaml: duplicate key "serviceManifestFile" on line 9, allowed each key once per object`},
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
			if tc.wantFirst != "" {
				assert.Equal(t, tc.wantFirst, log.firstError())
			}
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
