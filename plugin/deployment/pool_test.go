package deployment

import (
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/google/go-cmp/cmp"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

const poolQuickApp = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: consumer
  plugins:
    cloudrun:
      input:
        workerPoolManifestFile: pool.yaml
`

const poolCanaryApp = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: consumer
  pipeline:
    stages:
      - name: CLOUDRUN_SYNC
        with:
          skipTrafficShift: true
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 10
      - name: CLOUDRUN_CANARY_CLEANUP
  plugins:
    cloudrun:
      input:
        workerPoolManifestFile: pool.yaml
`

func poolYAML(image string) string {
	return fmt.Sprintf(`name: consumer
scaling:
  manualInstanceCount: 10
template:
  containers:
    - image: %s
`, image)
}

func poolName() string {
	return fmt.Sprintf("projects/%s/locations/%s/workerPools/consumer", testProject, testRegion)
}

// newPoolEnv is an env whose manifest file is pool.yaml.
func newPoolEnv(t *testing.T, fakes ...*fakerun.Server) *env {
	e := newEnv(t, fakes...)
	e.manifestFile = "pool.yaml"
	return e
}

// poolRevisionFor is the revision the current deployment's pool template gets.
func (e *env) poolRevisionFor() string {
	e.t.Helper()
	src, err := app.Load(e.source(e.commit, e.app, e.service))
	require.NoError(e.t, err)
	want, err := src.DesiredPool(config.DeployTargetConfig{Project: testProject, Region: testRegion}, sdk.Deployment{ApplicationID: "app-1", PipedID: "piped-1"})
	require.NoError(e.t, err)
	return want.Revision
}

// splitOf returns the whole instance split of the pool in fake f as "revision:percent" strings.
func splitOf(t *testing.T, f *fakerun.Server) []string {
	t.Helper()
	pool, err := f.WorkerPool(poolName())
	require.NoError(t, err)
	var out []string
	for _, sp := range pool.GetInstanceSplits() {
		rev := sp.GetRevision()
		if sp.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST {
			rev = "LATEST"
		}
		out = append(out, fmt.Sprintf("%s:%d", rev, sp.GetPercent()))
	}
	return out
}

func instancesOf(t *testing.T, f *fakerun.Server) map[string]int32 {
	t.Helper()
	n, err := f.Instances(poolName())
	require.NoError(t, err)
	return n
}

// TestPool_CanaryByInstanceSplit: a first deployment gives the new revision every instance; the next one
// deploys at 0% and PROMOTE moves 10%, 50% and 100% of the instances, then CLEANUP prunes.
func TestPool_CanaryByInstanceSplit(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)

	e.deploy("1111111aaaa", poolQuickApp, poolYAML("gcr.io/p/consumer:v1"))
	revA := e.poolRevisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revA + ":100"}, splitOf(t, f))
	assert.Equal(t, map[string]int32{revA: 10}, instancesOf(t, f))
	assert.Contains(t, log.String(), "Worker pool consumer does not exist yet: creating it with revision "+revA)
	assert.Contains(t, log.String(), "SUCCESS Created worker pool consumer with revision "+revA)

	e.deploy("2222222bbbb", poolCanaryApp, poolYAML("gcr.io/p/consumer:v2"))
	revB := e.poolRevisionFor()
	status, log = e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revA + ":100"}, splitOf(t, f), "the new revision has no instances yet")
	assert.Equal(t, map[string]int32{revA: 10}, instancesOf(t, f))

	for _, step := range []struct {
		percent   string
		split     []string
		instances map[string]int32
	}{
		{"10", []string{revB + ":10", revA + ":90"}, map[string]int32{revA: 9, revB: 1}},
		{`"50%"`, []string{revB + ":50", revA + ":50"}, map[string]int32{revA: 5, revB: 5}},
		{"100", []string{revB + ":100"}, map[string]int32{revB: 10}},
	} {
		f.ResetCalls()
		status, log = e.run(StageCloudRunPromote, `{"percent": `+step.percent+`}`, nil)
		require.Equal(t, sdk.StageStatusSuccess, status, log.String())
		assert.Contains(t, log.String(), "Instance split of worker pool consumer:\n", "the stage shows the split it made")
		assert.Regexp(t, `(?m)^\s*`+revB+` .*→ [█░]+ +`+strings.TrimPrefix(step.split[0], revB+":")+`%$`, log.String(), "the new revision's share after PROMOTE %s", step.percent)
		assert.ElementsMatch(t, step.split, splitOf(t, f), "after PROMOTE %s", step.percent)
		assert.Equal(t, step.instances, instancesOf(t, f), "after PROMOTE %s", step.percent)
		assert.Equal(t, map[string]int{"GetWorkerPool": 1, "UpdateWorkerPool": 1}, callCounts(f), "PROMOTE %s", step.percent)
	}

	// Two more deployments leave older revisions behind.
	for _, c := range []struct{ commit, image string }{{"3333333cccc", "v3"}, {"4444444dddd", "v4"}} {
		e.deploy(c.commit, poolQuickApp, poolYAML("gcr.io/p/consumer:"+c.image))
		status, log = e.run(StageCloudRunSync, "", quick)
		require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	}
	revD := e.poolRevisionFor()
	require.Len(t, f.WorkerPoolRevisions(poolName()), 4)
	status, log = e.run(StageCloudRunCanaryCleanup, `{"keepCount": 1}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	var left []string
	for _, r := range f.WorkerPoolRevisions(poolName()) {
		left = append(left, r.GetName()[len(poolName())+len("/revisions/"):])
	}
	// revD has the instances, revC is the rollback target, revB the one newest kept by keepCount; revA goes.
	assert.Len(t, left, 3)
	assert.Contains(t, left, revD)
	assert.Contains(t, left, revB)
	assert.NotContains(t, left, revA)
	assert.Contains(t, log.String(), "Deleting revision "+revA)
	assert.Contains(t, log.String(), "Keeping revision "+revD+": has 100% of the instances")
	assert.Equal(t, map[string]int32{revD: 10}, instancesOf(t, f))
}

// TestPool_RollbackRestoresExactly: after SYNC and each PROMOTE, ROLLBACK puts back the template and the
// whole instance split as they were, creating no revision.
func TestPool_RollbackRestoresExactly(t *testing.T) {
	t.Parallel()
	for _, promotes := range [][]string{nil, {"10"}, {"10", "50"}, {"10", "50", "100"}} {
		t.Run(fmt.Sprintf("after %d promotes", len(promotes)), func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			e := newPoolEnv(t, f)
			e.deploy("1111111aaaa", poolQuickApp, poolYAML("gcr.io/p/consumer:v1"))
			status, log := e.run(StageCloudRunSync, "", quick)
			require.Equal(t, sdk.StageStatusSuccess, status, log.String())
			// A split of two revisions before the deployment, which the rollback must restore exactly.
			e.deploy("3333333cccc", poolQuickApp, poolYAML("gcr.io/p/consumer:v3"))
			status, log = e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, quick)
			require.Equal(t, sdk.StageStatusSuccess, status, log.String())
			before, err := f.WorkerPool(poolName())
			require.NoError(t, err)
			revsBefore := len(f.WorkerPoolRevisions(poolName()))

			e.deploy("2222222bbbb", poolCanaryApp, poolYAML("gcr.io/p/consumer:v2"))
			status, log = e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)
			require.Equal(t, sdk.StageStatusSuccess, status, log.String())
			for _, p := range promotes {
				status, log = e.run(StageCloudRunPromote, `{"percent": `+p+`}`, nil)
				require.Equal(t, sdk.StageStatusSuccess, status, log.String())
			}
			status, log = e.run(StageCloudRunRollback, "", nil)
			require.Equal(t, sdk.StageStatusSuccess, status, log.String())
			after, err := f.WorkerPool(poolName())
			require.NoError(t, err)
			assert.Equal(t, splitStrings(before.GetInstanceSplits()), splitStrings(after.GetInstanceSplits()))
			assert.Equal(t, before.GetTemplate().GetRevision(), after.GetTemplate().GetRevision())
			assert.Equal(t, before.GetTemplate().GetContainers()[0].GetImage(), after.GetTemplate().GetContainers()[0].GetImage())
			assert.Equal(t, revsBefore+1, len(f.WorkerPoolRevisions(poolName())), "only the deployment's revision was created")
		})
	}
}

func splitStrings(splits []*runpb.InstanceSplit) []string {
	var out []string
	for _, sp := range splits {
		out = append(out, fmt.Sprintf("%s:%s:%d", sp.GetType(), sp.GetRevision(), sp.GetPercent()))
	}
	return out
}

// TestPool_FailingRevisionLeavesTheSplit: a revision that cannot start fails SYNC and the instances stay.
func TestPool_FailingRevisionLeavesTheSplit(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.AddFailingImage("gcr.io/p/consumer:broken")
	e := newPoolEnv(t, f)
	e.deploy("1111111aaaa", poolQuickApp, poolYAML("gcr.io/p/consumer:v1"))
	revA := e.poolRevisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	e.deploy("2222222bbbb", poolCanaryApp, poolYAML("gcr.io/p/consumer:broken"))
	status, log = e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "failed to become ready")
	assert.Contains(t, log.String(), "The instance split was not changed. Fix the worker pool manifest")
	assert.Equal(t, map[string]int32{revA: 10}, instancesOf(t, f))

	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Equal(t, []string{revA + ":100"}, splitOf(t, f))
	pool, err := f.WorkerPool(poolName())
	require.NoError(t, err)
	assert.Equal(t, revA, pool.GetTemplate().GetRevision())
}

// TestPool_BadInputWritesNothing: each bad input fails before the worker pool is written.
func TestPool_BadInputWritesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, manifest, with, want string
	}{
		{"split not adding up to 100", poolYAML("gcr.io/p/consumer:v2") + "instanceSplits:\n  - {revision: consumer-a, percent: 60}\n",
			`{"skipTrafficShift": true}`, `field "instanceSplits": the percentages add up to 60, allowed exactly 100`},
		{"negative instance count", `name: consumer
scaling: {manualInstanceCount: -2}
template: {containers: [{image: gcr.io/p/consumer:v2}]}
`, `{"skipTrafficShift": true}`, `field "scaling.manualInstanceCount": -2 is invalid`},
		{"a service field in a pool manifest", poolYAML("gcr.io/p/consumer:v2") + "traffic: [{percent: 100}]\n",
			`{"skipTrafficShift": true}`, `unknown field "traffic"`},
		{"a service manifest", "kind: Service\n" + serviceYAML("gcr.io/p/consumer:v2"),
			`{"skipTrafficShift": true}`, `this is a Cloud Run service: name its manifest in input.serviceManifestFile instead of input.workerPoolManifestFile`},
		{"tag on a pool", poolYAML("gcr.io/p/consumer:v2"), `{"skipTrafficShift": true, "tag": true}`,
			`option "tag" gives the new revision a preview URL, but a worker pool's revisions have no URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			e := newPoolEnv(t, f)
			e.deploy("1111111aaaa", poolQuickApp, poolYAML("gcr.io/p/consumer:v1"))
			status, log := e.run(StageCloudRunSync, "", quick)
			require.Equal(t, sdk.StageStatusSuccess, status, log.String())
			before, err := f.WorkerPool(poolName())
			require.NoError(t, err)
			e.deploy("2222222bbbb", poolCanaryApp, tc.manifest)
			f.ResetCalls()
			status, log = e.run(StageCloudRunSync, tc.with, nil)
			require.Equal(t, sdk.StageStatusFailure, status, log.String())
			assert.Contains(t, log.String(), tc.want)
			for _, c := range f.Calls() {
				assert.NotContains(t, []string{"CreateWorkerPool", "UpdateWorkerPool", "DeleteWorkerPool", "DeleteRevision"}, c.Method, "nothing is written")
			}
			after, err := f.WorkerPool(poolName())
			require.NoError(t, err)
			assert.Equal(t, before.GetEtag(), after.GetEtag(), "the pool is unchanged")
		})
	}
}

const poolRollbackApp = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: consumer
  pipeline:
    stages:
      - name: CLOUDRUN_SYNC
        with:
          skipTrafficShift: true
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 10
      - name: CLOUDRUN_ROLLBACK
        with:
          revision: consumer-nope
  plugins:
    cloudrun:
      input:
        workerPoolManifestFile: pool.yaml
`

// TestPool_RollbackToAnUnknownRevision: an unusable revision option is never sent; the pool is restored as
// it was before the deployment and the stage fails, saying why.
func TestPool_RollbackToAnUnknownRevision(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)
	e.deploy("1111111aaaa", poolQuickApp, poolYAML("gcr.io/p/consumer:v1"))
	revA := e.poolRevisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	e.deploy("2222222bbbb", poolRollbackApp, poolYAML("gcr.io/p/consumer:v2"))
	status, log = e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	status, log = e.run(StageCloudRunPromote, `{"percent": 10}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	status, log = e.run(StageCloudRunRollback, `{"revision": "consumer-nope"}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), `option "revision" of CLOUDRUN_ROLLBACK: revision consumer-nope does not exist, so it cannot take the traffic; the ready revisions of worker pool consumer are: `)
	assert.Equal(t, []string{revA + ":100"}, splitOf(t, f))
	pool, err := f.WorkerPool(poolName())
	require.NoError(t, err)
	assert.Equal(t, revA, pool.GetTemplate().GetRevision())
}

// TestPool_DetermineStrategy: a pool's strategy follows its revision template, and an analysis with
// request thresholds is refused at planning, saying why.
func TestPool_DetermineStrategy(t *testing.T) {
	t.Parallel()
	e := newPoolEnv(t)
	determine := func(runningApp, running, targetApp, target string) (*sdk.DetermineStrategyResponse, error) {
		return NewPlugin(nil).DetermineStrategy(t.Context(), &config.PluginConfig{}, &sdk.DetermineStrategyInput[config.RawApplicationSpec]{
			Request: sdk.DetermineStrategyRequest[config.RawApplicationSpec]{
				RunningDeploymentSource: e.source("1111111", runningApp, running),
				TargetDeploymentSource:  e.source("2222222", targetApp, target),
			},
		})
	}
	got, err := determine(poolCanaryApp, poolYAML("gcr.io/p/consumer:v1"), poolCanaryApp, poolYAML("gcr.io/p/consumer:v2"))
	require.NoError(t, err)
	assert.Equal(t, sdk.SyncStrategyPipelineSync, got.Strategy)
	assert.Contains(t, got.Summary, "image changes from gcr.io/p/consumer:v1 to gcr.io/p/consumer:v2")
	got, err = determine(poolCanaryApp, poolYAML("gcr.io/p/consumer:v1"), poolCanaryApp, "labels: {team: a}\n"+poolYAML("gcr.io/p/consumer:v1"))
	require.NoError(t, err)
	assert.Equal(t, sdk.SyncStrategyQuickSync, got.Strategy)
	assert.Contains(t, got.Summary, "only worker pool settings are updated")

	withAnalysis := func(metric string) string {
		return `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: consumer
  pipeline:
    stages:
      - name: CLOUDRUN_SYNC
        with: {skipTrafficShift: true}
      - name: CLOUDRUN_PROMOTE
        with: {percent: 10}
      - name: CLOUDRUN_ANALYSIS
        with:
          duration: 10m
          interval: 2m
          metrics:
            - ` + metric + `
  plugins:
    cloudrun:
      input:
        workerPoolManifestFile: pool.yaml
`
	}
	_, err = determine(poolCanaryApp, poolYAML("gcr.io/p/consumer:v1"), withAnalysis(`errorRate: {max: 1%}`), poolYAML("gcr.io/p/consumer:v2"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `CLOUDRUN_ANALYSIS stage 1: field "metrics[0].errorRate": a worker pool serves no requests, so Cloud Monitoring has no request errors of its revisions to judge`)
	_, err = determine(poolCanaryApp, poolYAML("gcr.io/p/consumer:v1"), withAnalysis(`latency: {percentile: 99, max: 800ms}`), poolYAML("gcr.io/p/consumer:v2"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `field "metrics[0].latency": a worker pool serves no requests`)
	got, err = determine(poolCanaryApp, poolYAML("gcr.io/p/consumer:v1"), withAnalysis(`custom: {filter: 'metric.type = "custom.googleapis.com/queue_failures"', max: 0}`), poolYAML("gcr.io/p/consumer:v2"))
	require.NoError(t, err)
	assert.Equal(t, sdk.SyncStrategyPipelineSync, got.Strategy)
}

// TestPool_JobStagesRefuseAPool: a job stage on a worker pool application names the stages to use and
// writes nothing.
func TestPool_JobStagesRefuseAPool(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)
	e.deploy("1111111aaaa", poolQuickApp, poolYAML("gcr.io/p/consumer:v1"))
	status, log := e.run(StageCloudRunJobSync, "", nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.String(), "CLOUDRUN_JOB_SYNC deploys a job, but this application is a worker pool (input.workerPoolManifestFile pool.yaml): use CLOUDRUN_SYNC, CLOUDRUN_PROMOTE and CLOUDRUN_ROLLBACK for a worker pool")
	assert.Empty(t, f.Calls())
}

// A worker pool reads as a service for cleanup: its split as the traffic, its applied split as the traffic
// statuses, a LATEST entry staying LATEST and a REVISION entry naming its revision.
func TestPoolAsService(t *testing.T) {
	t.Parallel()
	const (
		latest   = runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST
		revision = runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION
	)
	got := poolAsService(&runpb.WorkerPool{
		Name:                  "pools/consumer",
		InstanceSplits:        []*runpb.InstanceSplit{{Type: revision, Revision: "consumer-a", Percent: 60}, {Type: latest, Percent: 40}},
		InstanceSplitStatuses: []*runpb.InstanceSplitStatus{{Type: revision, Revision: "consumer-a", Percent: 60}, {Type: latest, Revision: "consumer-b", Percent: 40}},
		LatestReadyRevision:   "consumer-b",
		LatestCreatedRevision: "consumer-c",
	})
	want := &runpb.Service{
		Name: "pools/consumer",
		Traffic: []*runpb.TrafficTarget{
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "consumer-a", Percent: 60},
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 40},
		},
		TrafficStatuses: []*runpb.TrafficTargetStatus{
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "consumer-a", Percent: 60},
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Revision: "consumer-b", Percent: 40},
		},
		LatestReadyRevision:   "consumer-b",
		LatestCreatedRevision: "consumer-c",
	}
	assert.Empty(t, cmp.Diff(want, got, protocmp.Transform()))
}

// CLOUDRUN_SYNC run again in the same deployment (piped retrying it after a plugin restart) finds its
// template applied and does not apply it again.
func TestPool_SyncRunAgainAppliesTheTemplateOnce(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)
	quickSyncPoolV1(t, e)
	e.deploy("2222222bbbb", poolCanaryApp, poolYAML("gcr.io/p/consumer:v2"))
	revB := e.poolRevisionFor()
	status, log := e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "SUCCESS Deployed revision "+revB+" of worker pool consumer")

	f.ResetCalls()
	status, log = e.run(StageCloudRunSync, `{"skipTrafficShift": true}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "The worker pool already runs this template (an earlier run of this stage applied it); not applying it again")
	assert.NotContains(t, callCounts(f), "UpdateWorkerPool")
}

// A pipeline whose PROMOTE comes without a CLOUDRUN_SYNC before it (a PipeCD v0 pipeline) deploys the new
// pool revision without instances first, then moves the share.
func TestPool_PromoteWithoutSyncDeploysTheRevisionFirst(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)
	revA := quickSyncPoolV1(t, e)
	e.deploy("2222222bbbb", poolCanaryApp, poolYAML("gcr.io/p/consumer:v2"))
	revB := e.poolRevisionFor()

	status, log := e.run(StageCloudRunPromote, `{"percent": 10}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "No CLOUDRUN_SYNC ran in this deployment: deploying the new revision without instances first, as CLOUDRUN_SYNC with skipTrafficShift does")
	assert.ElementsMatch(t, []string{revB + ":10", revA + ":90"}, splitOf(t, f))
	assert.Equal(t, map[string]int32{revA: 9, revB: 1}, instancesOf(t, f))
}

// A renamed pool: the deployment creates the pool of the new name and says that the old one keeps running.
func TestPool_RenamedPoolLeavesTheOldOneRunning(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newPoolEnv(t, f)
	revA := quickSyncPoolV1(t, e)
	e.deploy("2222222bbbb", poolQuickApp, strings.Replace(poolYAML("gcr.io/p/consumer:v2"), "name: consumer\n", "name: consumer-renamed\n", 1))

	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "The worker pool is renamed: the running commit 1111111 deploys worker pool consumer, this commit deploys worker pool consumer-renamed. "+
		"This deployment creates or updates consumer-renamed and leaves consumer as it is, still running its instances")
	assert.Equal(t, []string{revA + ":100"}, splitOf(t, f), "the old pool keeps its split")
	renamed, err := f.WorkerPool(strings.Replace(poolName(), "/consumer", "/consumer-renamed", 1))
	require.NoError(t, err)
	assert.Equal(t, "gcr.io/p/consumer:v2", renamed.GetTemplate().GetContainers()[0].GetImage())
}
