package deployment

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/google/go-cmp/cmp"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// syncCanary deploys v1 with all the traffic, then image with a tag at 0%, and returns the service as it
// was before the canary and the new revision.
func syncCanary(t *testing.T, f *fakerun.Server, e *env, image string) (before *runpb.Service, revNew string) {
	t.Helper()
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	before, err := f.Service(serviceName())
	require.NoError(t, err)

	e.deploy("2222222bbbb", canaryApp, serviceYAML(image))
	revNew = e.revisionFor()
	status, log = e.run(StageCloudRunSync, canarySync, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	return before, revNew
}

// assertRestored checks that the service serves and looks as before the deployment: the whole traffic
// block and template.
func assertRestored(t *testing.T, f *fakerun.Server, before *runpb.Service) {
	t.Helper()
	after, err := f.Service(serviceName())
	require.NoError(t, err)
	assert.Empty(t, cmp.Diff(before.GetTraffic(), after.GetTraffic(), protocmp.Transform()), "the whole traffic block")
	assert.Empty(t, cmp.Diff(before.GetTemplate(), after.GetTemplate(), protocmp.Transform()), "the template")
}

func TestVerify_HealthyRevisionPasses(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	_, revNew := syncCanary(t, f, e, "gcr.io/p/web:v2")
	trafficBefore := trafficOf(t, f)

	f.ResetCalls()
	status, log := e.run(StageCloudRunVerify, `{"requests": 5, "path": "/healthz", "expect": {"status": 200, "body": {"contains": "image: gcr.io/p/web:v2"}, "latency": {"p99": "5s"}}}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Regexp(t, `Verifying revision `+revNew+` at its tag URL: GET https://preview-2222222---web-[a-z0-9]+-an\.a\.run\.app/healthz, 5 requests one after the other; expecting status 200, a body containing "image: gcr.io/p/web:v2", p99 latency <= 5s`, log.String())
	assert.Contains(t, log.String(), "5 of 5 requests answered as expected")
	assert.Contains(t, log.String(), "Revision "+revNew+" passed the verification; no traffic was moved")
	assert.Equal(t, trafficBefore, trafficOf(t, f))
	assert.Equal(t, map[string]int{"GetService": 1}, callCounts(f), "VERIFY only reads the service")
}

func TestVerify_FailureNamesTheRequestAndLeavesTheServiceAsItWas(t *testing.T) {
	t.Parallel()
	f := newFake(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		"gcr.io/p/web:bad": {ErrorRate: 1, ErrorCode: 500},
	}}))
	e := newEnv(t, f)
	before, revNew := syncCanary(t, f, e, "gcr.io/p/web:bad")
	trafficBefore := trafficOf(t, f)

	status, log := e.run(StageCloudRunVerify, `{"requests": 3}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Regexp(t, `ERROR revision `+revNew+` failed the verification at its tag URL \(3 of 3 requests not as expected\), before any traffic moved to it:
  - request 1/3 GET https://preview-2222222---web-\S+/: status 500, expected 2xx \(body: "<!DOCTYPE html>`, log.String())
	assert.Equal(t, trafficBefore, trafficOf(t, f), "VERIFY moves no traffic")

	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assertRestored(t, f, before)
}

func TestVerify_BodyMismatch(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	_, revNew := syncCanary(t, f, e, "gcr.io/p/web:v2")

	status, log := e.run(StageCloudRunVerify, `{"requests": 2, "expect": {"body": {"contains": "image: gcr.io/p/web:v3"}}}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "revision "+revNew+" failed the verification at its tag URL (2 of 2 requests not as expected)")
	assert.Contains(t, log.String(), `/: the body does not contain "image: gcr.io/p/web:v3" (body: "Hello from fakerun!`)
}

func TestVerify_WithoutATagFails(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunVerify, "", nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "CLOUDRUN_SYNC did not run for deploy target dt1 in this deployment, so there is no new revision to verify")

	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	status, log = e.run(StageCloudRunVerify, "", nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "has no tag URL to verify: set `tag: true` in the options of CLOUDRUN_SYNC")
}

func TestBuildPipelineSyncStages_VerifyNeedsATaggedSync(t *testing.T) {
	t.Parallel()
	build := func(stages ...sdk.StageConfig) error {
		_, err := NewPlugin(provider.NewRegistry()).BuildPipelineSyncStages(t.Context(), &config.PluginConfig{},
			&sdk.BuildPipelineSyncStagesInput{Request: sdk.BuildPipelineSyncStagesRequest{Stages: stages}})
		return err
	}
	verify := sdk.StageConfig{Index: 1, Name: StageCloudRunVerify, Config: []byte(`{"requests": 3}`)}
	require.NoError(t, build(sdk.StageConfig{Index: 0, Name: StageCloudRunSync, Config: []byte(canarySync)}, verify))
	err := build(sdk.StageConfig{Index: 0, Name: StageCloudRunSync, Config: []byte(`{"skipTrafficShift": true}`)}, verify)
	require.Error(t, err)
	assert.Equal(t, "application config spec.pipeline.stages[1], CLOUDRUN_VERIFY: no earlier CLOUDRUN_SYNC has `tag: true`, so the new revision has no tag URL to verify; set `tag: true` on a CLOUDRUN_SYNC before it, or move the stage after it", err.Error())
	err = build(sdk.StageConfig{Index: 0, Name: StageCloudRunJobHook, Config: []byte(`{"job": "smoke", "env": {"URL": "${CLOUDRUN_SERVICE_URL}"}}`)},
		sdk.StageConfig{Index: 1, Name: StageCloudRunSync, Config: []byte(canarySync)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "application config spec.pipeline.stages[0], CLOUDRUN_JOB_HOOK: its args or env name the revision or the service URL of CLOUDRUN_SYNC, but no CLOUDRUN_SYNC comes before it")
	err = build(sdk.StageConfig{Index: 0, Name: StageCloudRunSync, Config: []byte(`{"skipTrafficShift": true}`)},
		sdk.StageConfig{Index: 1, Name: StageCloudRunJobHook, Config: []byte(`{"job": "smoke", "args": ["${CLOUDRUN_TAG_URL}"]}`)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stages[1], CLOUDRUN_JOB_HOOK: its args or env name ${CLOUDRUN_TAG_URL}, but no earlier CLOUDRUN_SYNC has `tag: true`")
	require.NoError(t, build(sdk.StageConfig{Index: 0, Name: StageCloudRunJobHook, Config: []byte(`{"job": "migrate"}`)},
		sdk.StageConfig{Index: 1, Name: StageCloudRunSync, Config: []byte(canarySync)},
		sdk.StageConfig{Index: 2, Name: StageCloudRunJobHook, Config: []byte(`{"job": "smoke", "args": ["${CLOUDRUN_TAG_URL}"]}`)}))
	err = build(sdk.StageConfig{Index: 0, Name: StageCloudRunSync, Config: []byte(canarySync)}, sdk.StageConfig{Index: 1, Name: StageCloudRunVerify, Config: []byte(`{"expect": {"status": "200s"}}`)})
	require.ErrorContains(t, err, `application config spec.pipeline.stages[1], CLOUDRUN_VERIFY: CLOUDRUN_VERIFY: field "expect.status": "200s" is not allowed`)
}
