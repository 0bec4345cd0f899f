package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// poolApp is the worker pool example; its pool has the same name.
const poolApp = "worker-pool"

// poolFiles returns examples/worker-pool's worker-pool.yaml with its image replaced.
func poolFiles(image string) map[string]string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(AppDir(poolApp), "worker-pool.yaml"))
	Expect(err).NotTo(HaveOccurred())
	Expect(string(raw)).To(ContainSubstring(ImageV1))
	return map[string]string{"worker-pool.yaml": strings.Replace(string(raw), ImageV1, image, 1)}
}

// poolState reads the example's worker pool from fakerun, and its instances per revision from the admin
// API, over HTTP as a user would.
type poolState struct {
	e    *Environment
	name string
	base string
}

func newPoolState(e *Environment) *poolState {
	GinkgoHelper()
	e.Fakerun.Handle(fakerun.AdminPrefix, e.Fakerun.AdminHandler())
	return &poolState{e: e, name: "projects/" + e.Target.Project() + "/locations/" + region + "/workerPools/" + poolApp, base: "http://" + e.Fakerun.Addr()}
}

func (p *poolState) pool() *runpb.WorkerPool {
	GinkgoHelper()
	wp, err := p.e.Fakerun.WorkerPool(p.name)
	Expect(err).NotTo(HaveOccurred())
	return wp
}

// split is the whole instance split as "revision:percent" entries, LATEST written as such.
func (p *poolState) split() []string {
	GinkgoHelper()
	return splitEntries(p.pool().GetInstanceSplits())
}

func splitEntries(splits []*runpb.InstanceSplit) []string {
	out := []string{}
	for _, sp := range splits {
		rev := sp.GetRevision()
		if sp.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST {
			rev = "LATEST"
		}
		out = append(out, fmt.Sprintf("%s:%d", rev, sp.GetPercent()))
	}
	return out
}

// instances is GET /_fakerun/instances?workerPool=… : the instances of each revision.
func (p *poolState) instances(ctx context.Context) map[string]int32 {
	GinkgoHelper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/_fakerun/instances?workerPool="+url.QueryEscape(p.name), nil)
	Expect(err).NotTo(HaveOccurred())
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	var out map[string]int32
	Expect(json.NewDecoder(resp.Body).Decode(&out)).To(Succeed())
	return out
}

// poolSnapshot is the pool after one stage.
type poolSnapshot struct {
	stage     piped.StageRecord
	split     []string
	instances map[string]int32
}

// snapshots returns hooks that record the split and the instances after every stage, and the records.
func (p *poolState) snapshots(extra piped.Hooks) (piped.Hooks, func() []poolSnapshot) {
	var mu sync.Mutex
	var snaps []poolSnapshot
	hooks := extra
	hooks.OnStageEnd = func(r *piped.Run, s piped.StageRecord) {
		if extra.OnStageEnd != nil {
			extra.OnStageEnd(r, s)
		}
		wp, err := p.e.Fakerun.WorkerPool(p.name)
		if err != nil {
			return
		}
		n, _ := p.e.Fakerun.Instances(p.name)
		mu.Lock()
		snaps = append(snaps, poolSnapshot{stage: s, split: splitEntries(wp.GetInstanceSplits()), instances: n})
		mu.Unlock()
	}
	return hooks, func() []poolSnapshot {
		mu.Lock()
		defer mu.Unlock()
		return append([]poolSnapshot(nil), snaps...)
	}
}

// updatePoolSplit writes the instance split of wp through the real Cloud Run client, as someone would in
// the console, and waits until it is applied.
func updatePoolSplit(ctx context.Context, e *Environment, wp *runpb.WorkerPool) {
	GinkgoHelper()
	c, err := run.NewWorkerPoolsClient(ctx, e.Target.ClientOptions()...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	op, err := c.UpdateWorkerPool(ctx, &runpb.UpdateWorkerPoolRequest{WorkerPool: wp, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"instance_splits"}}})
	Expect(err).NotTo(HaveOccurred())
	_, err = op.Wait(ctx)
	Expect(err).NotTo(HaveOccurred())
}

// deployPoolV1 runs examples/worker-pool at ImageV1 by quick sync and returns its revision.
func deployPoolV1(ctx context.Context, e *Environment, p *poolState) string {
	GinkgoHelper()
	res := e.Deploy(ctx, DeployInput{App: poolApp, Files: poolFiles(ImageV1)})
	ExpectSuccess(res)
	Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
	return ShortName(p.pool().GetLatestReadyRevision())
}

// Stage indexes of examples/worker-pool's pipeline.
const (
	poolStageSync = iota
	poolStagePromote10
	poolStagePromote50
	poolStagePromote100
)

var _ = Describe("Worker pools [workerpools]", Label("workerpools", "fakerun-only"), func() {
	It("creates the worker pool on the first deployment with every instance on its revision", func(ctx SpecContext) {
		e := newEnv()
		p := newPoolState(e)
		v1 := deployPoolV1(ctx, e, p)
		Expect(p.split()).To(Equal([]string{v1 + ":100"}))
		Expect(p.instances(ctx)).To(Equal(map[string]int32{v1: 10}))
		wp := p.pool()
		Expect(wp.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV1))
		Expect(wp.GetLabels()).To(HaveKeyWithValue("team", "orders"))
	})

	It("runs a canary 10% → 50% → 100% by instance split, the admin API showing the instances per revision", func(ctx SpecContext) {
		e := newEnv()
		p := newPoolState(e)
		v1 := deployPoolV1(ctx, e, p)

		By("running the pipeline of examples/worker-pool for v2")
		hooks, snapshots := p.snapshots(piped.Hooks{})
		res := e.Deploy(ctx, DeployInput{App: poolApp, Commit: Commit(), Files: poolFiles(ImageV2), Hooks: hooks})
		ExpectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_PIPELINE))
		Expect(StageNames(res.Executed())).To(Equal([]string{
			"CLOUDRUN_SYNC", "CLOUDRUN_PROMOTE", "CLOUDRUN_PROMOTE", "CLOUDRUN_PROMOTE", "CLOUDRUN_CANARY_CLEANUP",
		}))
		v2 := ShortName(p.pool().GetLatestCreatedRevision())
		Expect(v2).NotTo(Equal(v1))

		By("checking the split and the instances after every stage")
		expected := []struct {
			split     []string
			instances map[string]int32
		}{
			{[]string{v1 + ":100"}, map[string]int32{v1: 10}},                  // CLOUDRUN_SYNC (skipTrafficShift)
			{[]string{v2 + ":10", v1 + ":90"}, map[string]int32{v1: 9, v2: 1}}, // CLOUDRUN_PROMOTE 10
			{[]string{v2 + ":50", v1 + ":50"}, map[string]int32{v1: 5, v2: 5}}, // CLOUDRUN_PROMOTE 50
			{[]string{v2 + ":100"}, map[string]int32{v2: 10}},                  // CLOUDRUN_PROMOTE 100
			{[]string{v2 + ":100"}, map[string]int32{v2: 10}},                  // CLOUDRUN_CANARY_CLEANUP
		}
		snaps := snapshots()
		Expect(snaps).To(HaveLen(len(expected)))
		for i, s := range snaps {
			Expect(s.stage.Status).To(Equal(model.StageStatus_STAGE_SUCCESS), "stage %d %s", i, s.stage.Name)
			Expect(s.split).To(Equal(expected[i].split), "split after stage %d %s", i, s.stage.Name)
			Expect(s.instances).To(Equal(expected[i].instances), "instances after stage %d %s", i, s.stage.Name)
		}
		Expect(p.instances(ctx)).To(Equal(map[string]int32{v2: 10}), "the admin API says the same at the end")
		promote := res.Executed()[poolStagePromote10].LogText()
		Expect(promote).To(ContainSubstring("Revision " + v2 + " of worker pool worker-pool now has 10% of the deployment's instances"))
	})

	DescribeTable("restores the exact instance split and template when a stage fails",
		func(ctx SpecContext, index int, name string) {
			e := newEnv()
			p := newPoolState(e)
			deployPoolV1(ctx, e, p)
			before := p.pool()

			By("running the pipeline of v2, every Cloud Run call failing once during stage " + name)
			res := e.Deploy(ctx, DeployInput{App: poolApp, Commit: Commit(), Files: poolFiles(ImageV2), Hooks: failAt(e, index)})
			Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), "%s", res.Report())
			executed := res.Executed()
			failed := executed[len(executed)-2]
			Expect(failed.Index).To(Equal(index), "%s", res.Report())
			Expect(failed.Status).To(Equal(model.StageStatus_STAGE_FAILURE))
			last := executed[len(executed)-1]
			Expect(last.Name).To(Equal("CLOUDRUN_ROLLBACK"))
			Expect(last.Status).To(Equal(model.StageStatus_STAGE_SUCCESS), "%s", res.Report())

			By("checking the pool is back exactly as before the deployment")
			after := p.pool()
			Expect(splitEntries(after.GetInstanceSplits())).To(Equal(splitEntries(before.GetInstanceSplits())), "the whole split")
			Expect(after.GetTemplate().GetRevision()).To(Equal(before.GetTemplate().GetRevision()))
			Expect(after.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV1))
			Expect(p.instances(ctx)).To(Equal(map[string]int32{ShortName(before.GetLatestReadyRevision()): 10}))
		},
		Entry("at CLOUDRUN_SYNC", poolStageSync, "CLOUDRUN_SYNC"),
		Entry("at CLOUDRUN_PROMOTE 10%", poolStagePromote10, "CLOUDRUN_PROMOTE"),
		Entry("at CLOUDRUN_PROMOTE 50%", poolStagePromote50, "CLOUDRUN_PROMOTE"),
		Entry("at CLOUDRUN_PROMOTE 100%", poolStagePromote100, "CLOUDRUN_PROMOTE"),
	)

	It("restores the exact split when the deployment is cancelled during a promotion", func(ctx SpecContext) {
		e := newEnv()
		p := newPoolState(e)
		deployPoolV1(ctx, e, p)
		before := p.pool()

		By("running the pipeline of v2 and cancelling it as CLOUDRUN_PROMOTE 50% starts")
		res := e.Deploy(ctx, DeployInput{App: poolApp, Commit: Commit(), Files: poolFiles(ImageV2), Hooks: piped.Hooks{
			OnStageStart: func(r *piped.Run, s piped.StageRecord) {
				if s.Index == poolStagePromote50 && !s.Rollback {
					r.Cancel()
				}
			},
		}})
		Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_CANCELLED), "%s", res.Report())
		executed := res.Executed()
		Expect(executed[len(executed)-1].Name).To(Equal("CLOUDRUN_ROLLBACK"))
		Expect(executed[len(executed)-1].Status).To(Equal(model.StageStatus_STAGE_SUCCESS), "%s", res.Report())
		after := p.pool()
		Expect(splitEntries(after.GetInstanceSplits())).To(Equal(splitEntries(before.GetInstanceSplits())))
		Expect(after.GetTemplate().GetRevision()).To(Equal(before.GetTemplate().GetRevision()))
	})

	It("reports drift after an out-of-band change of the instance split", func(ctx SpecContext) {
		e := newEnv()
		p := newPoolState(e)
		v1 := deployPoolV1(ctx, e, p)
		v2in := DeployInput{App: poolApp, Commit: Commit(), Files: poolFiles(ImageV2)}
		ExpectSuccess(e.Deploy(ctx, v2in))
		v2 := ShortName(p.pool().GetLatestReadyRevision())

		By("reading the live state at the deployed commit: SYNCED, git's revision has all the instances")
		ls := e.Livestate(ctx, v2in.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), ls.GetSyncState().GetReason())
		Expect(resourcesByName(ls)).To(HaveKey(poolApp))
		Expect(resourcesByName(ls)[poolApp].GetResourceType()).To(Equal("WorkerPool"))

		By("giving 30% of the instances back to v1 outside PipeCD, then reading the live state of a later commit")
		wp := p.pool()
		next := &runpb.WorkerPool{Name: wp.GetName(), Etag: wp.GetEtag(), InstanceSplits: []*runpb.InstanceSplit{
			{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: v1, Percent: 30},
			{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: v2, Percent: 70},
		}}
		updatePoolSplit(ctx, e, next)
		Expect(p.instances(ctx)).To(Equal(map[string]int32{v1: 3, v2: 7}))
		later := DeployInput{App: poolApp, Commit: Commit(), Files: poolFiles(ImageV2)}
		ls = e.Livestate(ctx, later.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_OUT_OF_SYNC), ls.GetSyncState().GetReason())
		Expect(ls.GetSyncState().GetShortReason()).To(Equal("Instance split of worker pool worker-pool was changed outside PipeCD: git's revision " + v2 + " has 70% of the instances"))
	})
})

// poolConfig returns examples/worker-pool's app.pipecd.yaml with old replaced by new (old must occur).
func poolConfig(old, new string) string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(AppDir(poolApp), "app.pipecd.yaml"))
	Expect(err).NotTo(HaveOccurred())
	Expect(string(raw)).To(ContainSubstring(old))
	return strings.Replace(string(raw), old, new, 1)
}

var _ = Describe("Worker pool bad inputs [workerpools]", Label("workerpools", "badinput", "fakerun-only"), func() {
	DescribeTable("fail the deployment with a clear message and write nothing to the worker pool",
		func(ctx SpecContext, files func() map[string]string, wantInLog []string) {
			e := newEnv()
			p := newPoolState(e)
			deployPoolV1(ctx, e, p)
			before := p.pool()
			e.Fakerun.ResetCalls()

			By("deploying the bad input")
			res, err := e.Piped.Deploy(ctx, DeployInput{App: poolApp, Commit: Commit(), Files: files()}.Deployment())
			expectDeploymentRefused(e, res, err, wantInLog)

			By("checking nothing was written to the worker pool")
			for _, c := range e.Fakerun.Calls() {
				Expect(c.Method).NotTo(BeElementOf("CreateWorkerPool", "UpdateWorkerPool", "DeleteWorkerPool", "DeleteRevision"), "nothing is written")
			}
			after := p.pool()
			Expect(after.GetEtag()).To(Equal(before.GetEtag()), "the pool is unchanged")
			Expect(splitEntries(after.GetInstanceSplits())).To(Equal(splitEntries(before.GetInstanceSplits())))
		},
		Entry("an instance split not adding up to 100", func() map[string]string {
			f := poolFiles(ImageV2)
			f["worker-pool.yaml"] += "instanceSplits:\n  - {revision: worker-pool-a, percent: 60}\n  - {revision: worker-pool-b, percent: 30}\n"
			return f
		}, []string{"worker-pool.yaml", `field "instanceSplits": the percentages add up to 90, allowed exactly 100`}),
		Entry("a negative instance count", func() map[string]string {
			f := poolFiles(ImageV2)
			f["worker-pool.yaml"] = strings.Replace(f["worker-pool.yaml"], "manualInstanceCount: 10", "manualInstanceCount: -3", 1)
			return f
		}, []string{"worker-pool.yaml", `field "scaling.manualInstanceCount": -3 is invalid`}),
		Entry("a service field in the worker pool manifest", func() map[string]string {
			f := poolFiles(ImageV2)
			f["worker-pool.yaml"] += "traffic:\n  - {percent: 100}\n"
			return f
		}, []string{"worker-pool.yaml", `unknown field "traffic"`}),
		Entry("a service manifest where a worker pool is expected", func() map[string]string {
			return map[string]string{"worker-pool.yaml": "kind: Service\n" + Manifest("canary", ImageV2)}
		}, []string{"worker-pool.yaml", "this is a Cloud Run service: name its manifest in input.serviceManifestFile instead of input.workerPoolManifestFile"}),
		Entry("an errorRate threshold in the analysis of a worker pool", func() map[string]string {
			f := poolFiles(ImageV2)
			f["app.pipecd.yaml"] = poolConfig("      - name: CLOUDRUN_PROMOTE\n        with:\n          percent: 50\n",
				"      - name: CLOUDRUN_ANALYSIS\n        with:\n          duration: 2m\n          interval: 1m\n          metrics:\n            - errorRate: {max: 1%}\n      - name: CLOUDRUN_PROMOTE\n        with:\n          percent: 50\n")
			return f
		}, []string{`field "metrics[0].errorRate": a worker pool serves no requests`}),
	)
})
