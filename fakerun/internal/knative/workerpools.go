package knative

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	runv1 "google.golang.org/api/run/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The worker pools of the v1 API (namespaces.workerpools), which `gcloud beta run worker-pools list` and
// `describe` call: {region}-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/{project}/workerpools,
// and the same list on the global host for every region. Views of v2's; read-only here.

const (
	// annScalingMode and annManualInstanceCount carry v2's scaling.manual_instance_count, as gcloud's
	// worker pool printer reads them (api_lib/run/worker_pool.py).
	annScalingMode         = "run.googleapis.com/scalingMode"
	annManualInstanceCount = "run.googleapis.com/manualInstanceCount"
)

func (h *Handler) serveWorkerPools(ctx context.Context, region, ns, name, method string) (any, error) {
	switch {
	case method != http.MethodGet:
		return nil, status.Error(codes.Unimplemented, "fakerun's v1 API reads worker pools (list, get) only; create, replace and delete them through the v2 API")
	case name != "":
		wp, err := h.b.WorkerPools.GetWorkerPool(ctx, &runpb.GetWorkerPoolRequest{Name: fmt.Sprintf("projects/%s/locations/%s/workerPools/%s", ns, region, name)})
		if err != nil {
			return nil, err
		}
		return toV1WorkerPool(wp), nil
	}
	locs := []string{region}
	if region == "" { // the global endpoint lists every region
		locs = regions
	}
	out := &runv1.ListWorkerPoolsResponse{ApiVersion: jobsAPIVersion, Kind: "WorkerPoolList", Metadata: &runv1.ListMeta{}, Items: []*runv1.WorkerPool{}}
	for _, l := range locs {
		token := ""
		for {
			resp, err := h.b.WorkerPools.ListWorkerPools(ctx, &runpb.ListWorkerPoolsRequest{Parent: fmt.Sprintf("projects/%s/locations/%s", ns, l), PageToken: token})
			if err != nil {
				return nil, err
			}
			for _, wp := range resp.GetWorkerPools() {
				out.Items = append(out.Items, toV1WorkerPool(wp))
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
	}
	return out, nil
}

// toV1WorkerPool is the v1 view of a v2 worker pool.
func toV1WorkerPool(wp *runpb.WorkerPool) *runv1.WorkerPool {
	meta := jobMeta("workerpools", wp.GetName(), wp.GetUid(), wp.GetGeneration(), wp.GetCreateTime(), wp.GetLabels(), wp.GetAnnotations())
	meta.ResourceVersion = strings.Trim(wp.GetEtag(), `"`)
	setIf(meta.Annotations, annCreator, wp.GetCreator())
	setIf(meta.Annotations, annLastModifier, wp.GetLastModifier())
	setIf(meta.Annotations, annClientName, wp.GetClient())
	setIf(meta.Annotations, annClientVersion, wp.GetClientVersion())
	setIf(meta.Annotations, annDescription, wp.GetDescription())
	if sc := wp.GetScaling(); sc != nil && sc.ManualInstanceCount != nil {
		meta.Annotations[annScalingMode] = "manual"
		meta.Annotations[annManualInstanceCount] = strconv.Itoa(int(sc.GetManualInstanceCount()))
	}
	t := wp.GetTemplate()
	labels, ann := splitClientLabels(t.GetLabels(), t.GetAnnotations())
	latestReady := short(wp.GetLatestReadyRevision())
	observed := wp.GetObservedGeneration()
	if wp.GetTerminalCondition().GetState() == runpb.Condition_CONDITION_FAILED {
		observed = wp.GetGeneration() // as for a service: v1 says the failed generation was observed
	}
	out := &runv1.WorkerPool{
		ApiVersion: jobsAPIVersion, Kind: "WorkerPool", Metadata: meta,
		Spec: &runv1.WorkerPoolSpec{
			Template: &runv1.RevisionTemplate{
				Metadata: &runv1.ObjectMeta{Name: t.GetRevision(), Labels: labels, Annotations: ann},
				Spec:     revisionSpec(t.GetContainers(), nil, t.GetServiceAccount(), 0),
			},
		},
		Status: &runv1.WorkerPoolStatus{
			ObservedGeneration:        observed,
			Conditions:                conditions(wp.GetTerminalCondition(), wp.GetConditions()),
			LatestReadyRevisionName:   latestReady,
			LatestCreatedRevisionName: short(wp.GetLatestCreatedRevision()),
		},
	}
	for _, sp := range wp.GetInstanceSplits() {
		latest := sp.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST
		out.Spec.InstanceSplits = append(out.Spec.InstanceSplits, &runv1.InstanceSplit{LatestRevision: latest, RevisionName: sp.GetRevision(), Percent: int64(sp.GetPercent())})
	}
	for _, st := range wp.GetInstanceSplitStatuses() {
		latest := st.GetType() == runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST
		rev := st.GetRevision()
		if latest {
			rev = latestReady
		}
		out.Status.InstanceSplits = append(out.Status.InstanceSplits, &runv1.InstanceSplit{LatestRevision: latest, RevisionName: rev, Percent: int64(st.GetPercent())})
	}
	return out
}
