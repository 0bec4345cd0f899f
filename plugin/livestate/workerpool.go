package livestate

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// ResourceTypeWorkerPool is the resource type of a worker pool; its revisions are ResourceTypeRevision.
const ResourceTypeWorkerPool = "WorkerPool"

// poolState returns the resources and the sync state of a worker pool application on one deploy target.
func (p *Plugin) poolState(ctx context.Context, dtName string, cfg config.DeployTargetConfig, src *app.Source) ([]sdk.ResourceState, targetSync) {
	client, git, live, failed := readLive(ctx, p, dtName, cfg, "worker pool", src.Pool.File, src.Pool.WorkerPool, (*provider.Client).GetWorkerPool)
	if failed != nil {
		return nil, *failed
	}
	revs, err := client.ListRevisions(ctx, live.GetName())
	if err != nil {
		return nil, unknownSync(dtName, err)
	}
	shares := poolShares(live)
	resources := []sdk.ResourceState{poolResource(dtName, live, shares)}
	for _, rev := range revs {
		resources = append(resources, poolRevisionResource(dtName, live.GetName(), rev, shares))
	}
	return resources, poolSync(dtName, src.Commit, git, live, shares)
}

// poolShares is the applied instance split of pool as traffic shares, LATEST resolved to the latest ready
// revision.
func poolShares(pool *runpb.WorkerPool) []traffic.Share {
	var shares []traffic.Share
	for _, st := range pool.GetInstanceSplitStatuses() {
		rev := st.GetRevision()
		if st.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST {
			rev = naming.ShortName(pool.GetLatestReadyRevision())
		}
		shares = append(shares, traffic.Share{Revision: rev, Percent: st.GetPercent()})
	}
	return shares
}

func poolResource(target string, pool *runpb.WorkerPool, shares []traffic.Share) sdk.ResourceState {
	health, desc := conditionsHealth(pool.GetTerminalCondition(), pool.GetConditions())
	desc += "; instance split: " + traffic.DescribeShares(shares)
	meta := map[string]string{
		"generation":          strconv.FormatInt(pool.GetGeneration(), 10),
		"observedGeneration":  strconv.FormatInt(pool.GetObservedGeneration(), 10),
		"commit":              pool.GetLabels()[provider.LabelCommitHash],
		"latestReadyRevision": naming.ShortName(pool.GetLatestReadyRevision()),
	}
	if sc := pool.GetScaling(); sc != nil && sc.ManualInstanceCount != nil {
		meta["manualInstanceCount"] = strconv.Itoa(int(sc.GetManualInstanceCount()))
	}
	return sdk.ResourceState{
		ID: pool.GetName(), Name: naming.ShortName(pool.GetName()), ResourceType: ResourceTypeWorkerPool,
		ResourceMetadata: withoutEmpty(meta), HealthStatus: health, HealthDescription: desc,
		DeployTarget: target, CreatedAt: pool.GetCreateTime().AsTime(),
	}
}

func poolRevisionResource(target, pool string, rev *runpb.Revision, shares []traffic.Share) sdk.ResourceState {
	s := traffic.Share{Revision: naming.ShortName(rev.GetName()), Percent: traffic.ShareOf(shares, naming.ShortName(rev.GetName()))}
	state := revisionState(target, pool, rev, s)
	state.HealthDescription = strings.Replace(state.HealthDescription, "of the traffic", "of the instances", 1)
	return state
}

// poolSync compares the worker pool in git (commit) with the live one, as serviceSync does a service: the
// template and settings must match git; the instance split is in sync when git's revision has all the
// instances, or any share while the live pool carries the commit compared (a canary in progress or
// stopped). Any other split was made outside PipeCD.
func poolSync(target, commit string, git, live *runpb.WorkerPool, shares []traffic.Share) targetSync {
	id := naming.ShortName(live.GetName())
	c := diff.ComparePool(git, live)
	if !c.InSync() {
		return outOfSync("worker pool", target, id, commit, c)
	}
	rev := live.GetTemplate().GetRevision()
	if rev == "" {
		rev = naming.ShortName(live.GetLatestCreatedRevision())
	}
	percent := traffic.ShareOf(shares, rev)
	split := fmt.Sprintf("Deploy target %s: instance split of worker pool %s: %s\n", target, id, traffic.DescribeShares(shares))
	switch {
	case percent == 100:
		return targetSync{status: sdk.ApplicationSyncStateSynced, short: fmt.Sprintf("Worker pool %s runs git's revision %s with all the instances", id, rev), reason: split}
	case commit != "" && live.GetLabels()[provider.LabelCommitHash] == app.LabelValue(commit):
		return targetSync{
			status: sdk.ApplicationSyncStateSynced,
			short:  fmt.Sprintf("Deployment of commit %s in progress or stopped: its revision %s of worker pool %s has %d%% of the instances", naming.ShortCommit(commit), rev, id, percent),
			reason: split,
		}
	}
	return targetSync{
		status: sdk.ApplicationSyncStateOutOfSync,
		short:  fmt.Sprintf("Instance split of worker pool %s was changed outside PipeCD: git's revision %s has %d%% of the instances", id, rev, percent),
		reason: split + fmt.Sprintf("The worker pool runs the template in git as revision %s, but that revision has %d%% of the instances "+
			"and no deployment of commit %s applied this split (for example, the split was changed in the console). "+
			"Deploy the application to give all the instances to %s.\n", rev, percent, naming.ShortCommit(commit), rev),
	}
}
