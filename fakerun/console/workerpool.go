package console

import (
	"net/http"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
)

// poolPage is a worker pool's page; Live is the part that updates itself.
type poolPage struct {
	ID, Location, LocationPath, EventsPath string
	Live                                   poolLive
}

// poolLive is what changes while a deployment of the pool runs.
type poolLive struct {
	// Missing is true while the pool does not exist (yet, or any more).
	Missing bool
	// Instances is the pool's manual instance count; Reconciling and Condition its rollout.
	Instances          int32
	Reconciling        bool
	Condition, Message string
	// Split is the instance split applied (instance_split_statuses), Revisions every revision, newest first.
	Split     []splitRow
	Revisions []poolRevisionRow
}

// splitRow is one entry of the applied split.
type splitRow struct {
	Revision string
	Percent  int32
}

// poolRevisionRow is one revision of a pool: its image, readiness, share and running instances.
type poolRevisionRow struct {
	Name, Image, Ready string
	Percent, Instances int32
}

func (c *console) workerPool(w http.ResponseWriter, r *http.Request) {
	page := c.poolPage(r)
	status := http.StatusOK
	if page.Live.Missing {
		status = http.StatusNotFound // the page still waits for the pool to appear
	}
	render(w, status, "workerpool.html", page)
}

func (c *console) workerPoolLive(r *http.Request) (string, any) {
	return "workerpool-live", c.poolPage(r).Live
}

// poolPage reads the worker pool the request names.
func (c *console) poolPage(r *http.Request) poolPage {
	loc := locationName(r)
	name := loc + "/workerPools/" + r.PathValue("pool")
	page := poolPage{ID: r.PathValue("pool"), Location: loc, LocationPath: Prefix + loc + "/", EventsPath: Prefix + name + "/events"}
	snap := c.src.Snapshot()
	var pool *runpb.WorkerPool
	for _, wp := range snap.WorkerPools {
		if wp.GetName() == name {
			pool = wp
		}
	}
	if pool == nil {
		page.Live.Missing = true
		return page
	}
	instances := snap.Instances[name]
	live := &page.Live
	live.Instances = pool.GetScaling().GetManualInstanceCount()
	live.Reconciling = pool.GetReconciling()
	live.Condition = pool.GetTerminalCondition().GetState().String()
	live.Message = pool.GetTerminalCondition().GetMessage()
	shares := map[string]int32{}
	for _, st := range pool.GetInstanceSplitStatuses() {
		rev := st.GetRevision()
		if st.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST {
			rev = rules.ShortName(pool.GetLatestReadyRevision())
		}
		live.Split = append(live.Split, splitRow{Revision: rev, Percent: st.GetPercent()})
		shares[rev] += st.GetPercent()
	}
	for _, rev := range snap.PoolRevisions[name] {
		short := rules.ShortName(rev.GetName())
		row := poolRevisionRow{Name: short, Percent: shares[short], Instances: instances[short], Ready: "pending"}
		if cs := rev.GetContainers(); len(cs) > 0 {
			row.Image = cs[0].GetImage()
		}
		for _, cond := range rev.GetConditions() {
			if cond.GetType() == "Ready" {
				row.Ready = map[runpb.Condition_State]string{
					runpb.Condition_CONDITION_SUCCEEDED: "ready", runpb.Condition_CONDITION_FAILED: "failed: " + cond.GetMessage(),
				}[cond.GetState()]
				if row.Ready == "" {
					row.Ready = "pending"
				}
			}
		}
		live.Revisions = append(live.Revisions, row)
	}
	return page
}
