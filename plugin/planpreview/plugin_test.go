package planpreview

import (
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/internal/fakeenv"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/syncplan"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

func TestGetPlanPreview(t *testing.T) {
	t.Parallel()
	revV2, revEnv := revisionFor(t, fakeenv.ManifestV2, fakeenv.CommitV2), revisionFor(t, strings.Replace(fakeenv.ManifestV1, "value: hi", "value: hello", 1), fakeenv.CommitV2)
	// longName is v2 of a service whose name (46 characters) makes revision names of 63, Cloud Run's limit.
	longName := strings.Replace(fakeenv.ManifestV2, "name: hello", "name: "+strings.Repeat("s", 46), 1)
	revLong := revisionFor(t, longName, fakeenv.CommitV2)
	testcases := []struct {
		name string
		// arrange builds the live state and returns the target fakeenv.Source (and the running one, if any).
		arrange      func(t *testing.T, f *fixture) (target sdk.DeploymentSource[config.RawApplicationSpec], running *sdk.DeploymentSource[config.RawApplicationSpec])
		wantSummary  string
		wantNoChange bool
		wantDetails  []string
		notDetails   []string
	}{
		{
			name: "success: image change",
			arrange: func(t *testing.T, f *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2), nil
			},
			wantSummary: "New revision " + revV2 + " with image gcr.io/proj/hello:v2 (was gcr.io/proj/hello:v1)",
			wantDetails: []string{
				"Deploy target dt1: service hello in project proj, region asia-northeast1\n",
				"--- live service hello\n+++ target commit 2222222\n",
				"-    image: gcr.io/proj/hello:v1\n+    image: gcr.io/proj/hello:v2\n",
				"[ok] Cloud Run accepts the update of service hello (validate_only)",
				"[ok] revision name " + revV2 + " is not taken yet",
				"[ok] revision name " + revV2 + ": 22 characters, at most 63 allowed",
				"[ok] preview tag preview-2222222 (CLOUDRUN_SYNC option tag: true): 15 + 5 characters with the service name, at most 46 allowed",
				"[ok] revisions: 2 of 1000 after the deployment, 998 left",
			},
			notDetails: []string{"[warning]", "[error]"},
		},
		{
			name: "success: image change in a Knative manifest",
			arrange: func(t *testing.T, f *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				f.Deploy(knativeManifest, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, strings.Replace(knativeManifest, "hello:v1", "hello:v2", 1)), nil
			},
			wantSummary: "with image gcr.io/proj/hello:v2 (was gcr.io/proj/hello:v1)",
			wantDetails: []string{"-    image: gcr.io/proj/hello:v1\n+    image: gcr.io/proj/hello:v2\n", "[ok] Cloud Run accepts the update of service hello (validate_only)"},
			notDetails:  []string{"[error]"},
		},
		{
			name: "success: configuration change with the same image",
			arrange: func(t *testing.T, f *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, strings.Replace(fakeenv.ManifestV1, "value: hi", "value: hello", 1)), nil
			},
			wantSummary: "New revision " + revEnv + " with image gcr.io/proj/hello:v1 (same image; changes template.containers[app].env[GREETING].value)",
			wantDetails: []string{"-      value: hi\n+      value: hello\n", "[ok] Cloud Run accepts the update"},
		},
		{
			name: "success: image and service settings change",
			arrange: func(t *testing.T, f *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, strings.Replace(fakeenv.ManifestV2, "team: web", "team: ops", 1)), nil
			},
			wantSummary: "New revision " + revV2 + " with image gcr.io/proj/hello:v2 (was gcr.io/proj/hello:v1); service settings change: labels[team]",
			wantDetails: []string{"-  team: web\n+  team: ops\n", "-    image: gcr.io/proj/hello:v1\n+    image: gcr.io/proj/hello:v2\n"},
		},
		{
			name: "success: service settings only",
			arrange: func(t *testing.T, f *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, strings.Replace(fakeenv.ManifestV1, "team: web", "team: ops", 1)), nil
			},
			wantSummary: "No new revision; service settings change: labels[team]",
			wantDetails: []string{"-  team: web\n+  team: ops\n", "is the live template's revision: the deployment creates no revision", "[ok] revisions: 1 of 1000 after the deployment, 999 left"},
		},
		{
			name: "success: no change",
			arrange: func(t *testing.T, f *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV1), nil
			},
			wantSummary:  "No new revision: no change, service hello already runs revision hello-1111111-",
			wantNoChange: true,
			wantDetails:  []string{"The manifest of the target commit 2222222 is the same as the live service hello."},
		},
		{
			name: "success: traffic change after a stopped canary",
			arrange: func(t *testing.T, f *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				v1 := f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				f.Deploy(fakeenv.ManifestV2, fakeenv.CommitV2, nil, func(_ *runpb.Service, rev string) []*runpb.TrafficTarget {
					return []*runpb.TrafficTarget{traffic.Revision(v1, 90, ""), traffic.Revision(rev, 10, "")}
				})
				return fakeenv.ManifestSource(t, fakeenv.CommitV3, fakeenv.ManifestV2), nil
			},
			wantSummary: "No new revision; traffic change: revision " + revV2 + " from 10% to 100%",
			wantDetails: []string{"\nTraffic now: hello-1111111-", " 90%, " + revV2 + " 10%\n", "[ok] Cloud Run accepts the update of service hello (validate_only)"},
		},
		{
			name: "success: first deployment creates the service",
			arrange: func(t *testing.T, _ *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2), nil
			},
			wantSummary: "New service hello with revision " + revV2 + ", image gcr.io/proj/hello:v2",
			wantDetails: []string{
				"--- (no service)\n+++ target commit 2222222\n@@ -0,0 +1,",
				"+    image: gcr.io/proj/hello:v2\n",
				"[ok] Cloud Run accepts the creation of service hello (validate_only)",
				"[ok] revisions: the service does not exist yet",
			},
		},
		{
			name: "success: diff against the running commit when piped sends it",
			arrange: func(t *testing.T, f *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, func(s *runpb.Service) { s.Labels["extra"] = "live-only" }, nil)
				running := fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1)
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2), &running
			},
			wantSummary: "New revision " + revV2 + " with image gcr.io/proj/hello:v2 (was gcr.io/proj/hello:v1)",
			wantDetails: []string{"--- running commit 1111111\n+++ target commit 2222222\n"},
			notDetails:  []string{"live-only"},
		},
		{
			name: "success: a renamed service is a new service, and the old one stays",
			arrange: func(t *testing.T, f *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
				running := fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1)
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, strings.Replace(fakeenv.ManifestV2, "name: hello", "name: hello-renamed", 1)), &running
			},
			wantSummary: "New service hello-renamed with revision hello-renamed-2222222-",
			wantDetails: []string{
				"[warning] The service is renamed: the running commit 1111111 deploys service hello, this commit deploys service hello-renamed. " +
					"This deployment creates or updates hello-renamed and leaves hello as it is, still serving its traffic; PipeCD no longer manages hello. " +
					"Delete it when nothing uses it any more: gcloud run services delete hello --region asia-northeast1",
			},
		},
		{
			name: "success: service created outside PipeCD with the same manifest",
			arrange: func(t *testing.T, f *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				createUnmanaged(t, f, fakeenv.ManifestV2)
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2), nil
			},
			wantSummary: "New revision " + revV2 + " with image gcr.io/proj/hello:v2 (same template, replaces the live revision hello-00001-",
			wantDetails: []string{"The manifest of the target commit 2222222 is the same as the live service hello."},
		},
		{
			name: "success: a revision name taken by another template gives way to the next one",
			arrange: func(t *testing.T, f *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				// A revision already carries the name the plugin gives fakeenv.ManifestV2 at fakeenv.CommitV2, with another template.
				svc, _ := fakeenv.Desired(t, fakeenv.ManifestV1, fakeenv.CommitV1, nil)
				svc.Template.Revision = revV2
				svc.Traffic = []*runpb.TrafficTarget{traffic.Revision(revV2, 100, "")}
				_, err := f.Client.CreateService(t.Context(), svc)
				require.NoError(t, err)
				f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV3, func(s *runpb.Service) { s.Template.Containers[0].Image = "gcr.io/proj/hello:v3" }, nil)
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2), nil
			},
			wantSummary: "(pre-flight: 1 warning(s) or error(s))",
			wantDetails: []string{
				"[warning] Cloud Run refuses the revision name " + revV2 + " (validate_only: failed to validate the update of service projects/proj/locations/asia-northeast1/services/hello: already exists:",
				"CLOUDRUN_SYNC then tries the name " + revV2 + "-2\n",
				"[ok] Cloud Run accepts the update of service hello (validate_only)",
				"[ok] revision name " + revV2 + "-2 is not taken yet",
			},
			notDetails: []string{"[error]"},
		},
		{
			name: "success: a revision name of exactly 63 characters is accepted",
			arrange: func(t *testing.T, _ *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, longName), nil
			},
			wantSummary: "(pre-flight: 1 warning(s) or error(s))", // the preview tag's, as below
			wantDetails: []string{"[ok] revision name " + revLong + ": 63 characters, at most 63 allowed"},
			notDetails:  []string{"[error]"},
		},
		{
			name: "fail: service name too long for a preview tag",
			arrange: func(t *testing.T, _ *fixture) (sdk.DeploymentSource[config.RawApplicationSpec], *sdk.DeploymentSource[config.RawApplicationSpec]) {
				return fakeenv.ManifestSource(t, fakeenv.CommitV2, strings.Replace(fakeenv.ManifestV2, "name: hello", "name: "+strings.Repeat("s", 44), 1)), nil
			},
			wantSummary: "(pre-flight: 1 warning(s) or error(s))",
			wantDetails: []string{"[warning] preview tag (CLOUDRUN_SYNC option tag: true) cannot be used: service name"},
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			target, running := tc.arrange(t, f)
			resp := f.preview(target, running)
			require.Len(t, resp.Results, 1)
			got := resp.Results[0]
			details := string(got.Details)
			assert.Equal(t, "dt1", got.DeployTarget)
			require.NotEmpty(t, tc.wantSummary, "every case states its summary")
			assert.Contains(t, got.Summary, tc.wantSummary, details)
			if !strings.Contains(tc.wantSummary, "service settings change") {
				assert.NotContains(t, got.Summary, "service settings change", "a summary names only the settings that change")
			}
			assert.Equal(t, tc.wantNoChange, got.NoChange)
			assert.Equal(t, "diff", got.DiffLanguage)
			for _, want := range tc.wantDetails {
				assert.Contains(t, details, want)
			}
			for _, not := range tc.notDetails {
				assert.NotContains(t, details, not)
			}
		})
	}
}

func TestGetPlanPreviewChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
	name := naming.ServiceName(fakeenv.Project, fakeenv.Region, "hello")
	before, err := f.Server.Service(name)
	require.NoError(t, err)

	f.preview(fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2), nil)
	after, err := f.Server.Service(name)
	require.NoError(t, err)
	assert.Equal(t, before.GetGeneration(), after.GetGeneration())
	assert.Equal(t, before.GetEtag(), after.GetEtag())
	assert.Len(t, f.Server.Revisions(name), 1)
}

func TestGetPlanPreviewProblems(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)

	bad := fakeenv.DeployTarget(t, "dt-bad", `{"project": "proj", "region": "Tokyo"}`)
	resp := f.preview(fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2), nil, f.Target, bad)
	require.Len(t, resp.Results, 2)
	assert.Contains(t, resp.Results[0].Summary, "New revision")
	assert.Equal(t, "dt-bad", resp.Results[1].DeployTarget)
	assert.Contains(t, resp.Results[1].Summary, `Cannot preview: deploy target dt-bad in piped.yaml: deploy target config: field "region": "Tokyo" is not a Cloud Run region`)

	_, err := f.previewErr(fakeenv.ManifestSource(t, fakeenv.CommitV2, "name: hello\n"), nil)
	require.ErrorContains(t, err, `target commit 2222222: manifest service.yaml: field "template.containers" needs at least one container`)

	_, err = f.previewErr(fakeenv.ManifestSource(t, fakeenv.CommitV2, fakeenv.ManifestV2), nil, []*sdk.DeployTarget[config.RawDeployTargetConfig]{}...)
	require.ErrorContains(t, err, "no deploy target")
}

func TestCheckHeadroom(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		count       int
		newRevision bool
		want        string
	}{
		{count: 10, newRevision: true, want: "[ok] revisions: 11 of 1000 after the deployment, 989 left"},
		{count: 10, want: "[ok] revisions: 10 of 1000 after the deployment, 990 left"},
		{count: 950, newRevision: true, want: "[warning] revisions: 951 of 1000 after the deployment, only 49 left"},
		{count: 1000, newRevision: true, want: "[warning] revisions: 1001 after the deployment, over Cloud Run's limit of 1000"},
		{count: 1000, want: "[warning] revisions: 1000 of 1000 after the deployment, only 0 left"},
		{count: 900, want: "[ok] revisions: 900 of 1000 after the deployment, 100 left"},
		{count: 900, newRevision: true, want: "[warning] revisions: 901 of 1000 after the deployment, only 99 left"},
	}
	for _, tc := range testcases {
		t.Run(fmt.Sprintf("success: %d revisions", tc.count), func(t *testing.T) {
			t.Parallel()
			pv := &preview{}
			pv.checkHeadroom(tc.count, tc.newRevision)
			require.Len(t, pv.findings, 1)
			assert.Contains(t, pv.findings[0].String(), tc.want)
		})
	}
}

// Cloud Run does not store such traffic, so the live service is built here rather than read from fakerun.
func TestCheckValidateOnlyReportsTrafficItCannotCompute(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	svc, rev := fakeenv.Desired(t, fakeenv.ManifestV2, fakeenv.CommitV2, nil)
	live := &runpb.Service{
		Name: svc.GetName(), Template: &runpb.RevisionTemplate{Revision: "hello-v1"}, LatestReadyRevision: naming.FullRevisionName(svc.GetName(), "hello-v1"),
		Traffic: []*runpb.TrafficTarget{traffic.Revision("hello-v1", 90, "")},
	}
	plan, err := syncplan.Decide(syncplan.Input{Live: live, Want: &app.Desired{Service: svc, ID: "hello", Revision: rev, Commit: fakeenv.CommitV2}})
	require.NoError(t, err)

	pv := &preview{}
	assert.Equal(t, rev, pv.checkValidateOnly(t.Context(), f.Client, plan, "hello", live))
	require.Len(t, pv.findings, 1)
	assert.Equal(t, "[error] CLOUDRUN_SYNC would fail: cannot compute the traffic for the template update: the current traffic is invalid: percents sum to 90, want 100",
		pv.findings[0].String())
}

// revisionFor is the name the deployment gives the revision of serviceYAML at commit.
func revisionFor(t *testing.T, serviceYAML, commit string) string {
	_, rev := fakeenv.Desired(t, serviceYAML, commit, nil)
	return rev
}

// createUnmanaged creates the service of serviceYAML as gcloud would: no labels, no revision name.
func createUnmanaged(t *testing.T, f *fixture, serviceYAML string) {
	t.Helper()
	m, err := manifest.Decode("service.yaml", []byte(serviceYAML))
	require.NoError(t, err)
	svc, err := m.Service(fakeenv.Project, fakeenv.Region)
	require.NoError(t, err)
	_, err = f.Client.CreateService(t.Context(), svc)
	require.NoError(t, err)
}

const knativeManifest = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
spec:
  template:
    spec:
      containers:
      - name: app
        image: gcr.io/proj/hello:v1
        env:
        - name: DEBUG
          value: "false"
`

func TestGetPlanPreviewOfARevertToADeletedRevision(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // fakerun refuses a deleted revision's name by default, as Cloud Run most likely does.
	revV1 := f.Deploy(fakeenv.ManifestV1, fakeenv.CommitV1, nil, nil)
	f.Deploy(fakeenv.ManifestV2, fakeenv.CommitV2, nil, nil)
	name := naming.ServiceName(fakeenv.Project, fakeenv.Region, "hello")
	require.NoError(t, f.Client.DeleteRevision(t.Context(), naming.FullRevisionName(name, revV1), ""))

	resp := f.preview(fakeenv.ManifestSource(t, fakeenv.CommitV1, fakeenv.ManifestV1), nil)
	require.Len(t, resp.Results, 1)
	details := string(resp.Results[0].Details)
	for _, want := range []string{
		"[warning] Cloud Run refuses the revision name " + revV1 + " (validate_only: ",
		"CLOUDRUN_SYNC then tries the name " + revV1 + "-2",
		"[ok] Cloud Run accepts the update of service hello (validate_only)",
		"[ok] revision name " + revV1 + "-2 is not taken yet",
	} {
		assert.Contains(t, details, want)
	}
	assert.NotContains(t, details, "[error]")
	assert.Len(t, f.Server.Revisions(name), 1, "plan preview creates nothing")
}
