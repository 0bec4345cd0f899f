package deployment

import (
	"strings"
	"testing"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

const canarySync = `{"skipTrafficShift": true, "tag": true}`

func TestCanary_SyncPromoteCleanup(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)

	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	e.deploy("2222222bbbb", canaryApp, serviceYAML("gcr.io/p/web:v2"))
	revB := e.revisionFor()
	tag, err := naming.PreviewTag("web", "2222222bbbb")
	require.NoError(t, err)

	f.ResetCalls()
	status, log = e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revA + ":100", revB + ":0:" + tag}, trafficOf(t, f))
	assert.Contains(t, log.String(), "Preview URL of revision "+revB+": https://"+tag+"---web-")
	assert.Contains(t, e.store.stage[sdk.MetadataKeyStageDisplay], "https://"+tag+"---web-")
	assert.Contains(t, e.store.stage[previewURLMetadataKey+"dt1"], "https://"+tag+"---web-")
	assert.Empty(t, log.firstError(), "no error line")
	calls := callCounts(f)
	assert.LessOrEqual(t, calls["GetService"]+calls["UpdateService"]+calls["CreateService"], 4, calls)

	for _, step := range []struct {
		percent string
		want    []string
	}{
		{"10", []string{revB + ":10", revA + ":90", revB + ":0:" + tag}},
		{`"50%"`, []string{revB + ":50", revA + ":50", revB + ":0:" + tag}},
		{"100", []string{revB + ":100", revB + ":0:" + tag}},
	} {
		f.ResetCalls()
		status, log = e.run(StageCloudRunPromote, `{"percent": `+step.percent+`}`, nil)
		require.Equal(t, sdk.StageStatusSuccess, status, log.String())
		assert.ElementsMatch(t, step.want, trafficOf(t, f), "after PROMOTE %s", step.percent)
		calls := callCounts(f)
		assert.Equal(t, map[string]int{"GetService": 1, "UpdateService": 1}, calls, "PROMOTE %s", step.percent)
	}

	// Three more deployments leave older revisions behind.
	for _, c := range []struct{ commit, image string }{{"3333333cccc", "v3"}, {"4444444dddd", "v4"}, {"5555555eeee", "v5"}} {
		e.deploy(c.commit, quickSyncApp, serviceYAML("gcr.io/p/web:"+c.image))
		status, log = e.run(StageCloudRunSync, "", quick)
		require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	}
	revE := e.revisionFor()
	require.Len(t, f.Revisions(serviceName()), 5)

	f.ResetCalls()
	status, log = e.run(StageCloudRunCanaryCleanup, `{"keepCount": 1}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	var left []string
	for _, r := range f.Revisions(serviceName()) {
		left = append(left, r.GetName()[len(serviceName())+len("/revisions/"):])
	}
	// revE serves, revD is the rollback target, revC is the one newest kept by keepCount; revB lost its
	// preview tag when the next deployment started, so it goes with revA, oldest first.
	assert.Contains(t, left, revE)
	assert.NotContains(t, left, revA)
	assert.NotContains(t, left, revB)
	assert.Len(t, left, 3)
	assert.Contains(t, log.String(), "Deleting revision "+revA)
	assert.Contains(t, log.String(), "Deleting revision "+revB)
	assert.Less(t, strings.Index(log.String(), "Deleting revision "+revA), strings.Index(log.String(), "Deleting revision "+revB))
	assert.Contains(t, log.String(), ": the rollback of this deployment routes traffic to it")
	calls = callCounts(f)
	assert.Equal(t, 1, calls["GetService"], calls)
	assert.Equal(t, 1, calls["ListRevisions"], calls)
	assert.Equal(t, 2, calls["DeleteRevision"], calls)
}

func TestCanary_PreviewTagOfThePreviousDeploymentIsDropped(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	_, revB := canaryStart(t, e)
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunSync, canarySync, nil)))
	require.Equal(t, sdk.StageStatusSuccess, first(e.run(StageCloudRunPromote, `{"percent": 100}`, nil)))
	assert.Equal(t, []string{revB + ":100", revB + ":0:preview-2222222"}, trafficOf(t, f))

	e.deploy("3333333cccc", canaryApp, serviceYAML("gcr.io/p/web:v3"))
	revC := e.revisionFor()
	status, log := e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revB + ":100", revC + ":0:preview-3333333"}, trafficOf(t, f))

	// The rollback restores the block exactly, old preview tag included.
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revB + ":100", revB + ":0:preview-2222222"}, trafficOf(t, f))
}

// v0CanaryApp is a PipeCD v0 canary pipeline: no CLOUDRUN_SYNC, the first CLOUDRUN_PROMOTE deploys.
const v0CanaryApp = `apiVersion: pipecd.dev/v1beta1
kind: CloudRunApp
spec:
  name: web
  pipeline:
    stages:
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 10
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 100
  plugins:
    cloudrun:
      input:
        serviceManifestFile: service.yaml
`

func TestCanary_V0PipelineFirstPromoteDeploysThenRollbackRestoresExactly(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)

	revA, revB := canaryStart(t, e)
	e.app = v0CanaryApp
	// The service follows LATEST, as v0 left it, with a tag of its own.
	setTraffic(t, f, latest(100, ""), latest(0, "head"))

	f.ResetCalls()
	status, log := e.run(StageCloudRunPromote, `{"percent": 10}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.ElementsMatch(t, []string{revB + ":10", revA + ":90", revA + ":0:head"}, trafficOf(t, f))
	assert.Contains(t, log.String(), "No CLOUDRUN_SYNC ran in this deployment")
	calls := callCounts(f)
	assert.Equal(t, 2, calls["UpdateService"], "one template update, one traffic update: %v", calls)
	assert.LessOrEqual(t, calls["GetService"], 3, calls)

	// The next PROMOTE only moves traffic.
	f.ResetCalls()
	status, log = e.run(StageCloudRunPromote, `{"percent": 100}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.ElementsMatch(t, []string{revB + ":100", revA + ":0:head"}, trafficOf(t, f))
	assert.Equal(t, map[string]int{"GetService": 1, "UpdateService": 1}, callCounts(f))

	// ROLLBACK restores the traffic from before the first PROMOTE, LATEST pinned to revA.
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revA + ":100", revA + ":0:head"}, trafficOf(t, f))
}

func TestCanary_V0PipelineFirstDeploymentCreatesTheService(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", v0CanaryApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	status, log := e.run(StageCloudRunPromote, `{"percent": 10}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
	assert.Contains(t, log.String(), "nothing to promote")
}
