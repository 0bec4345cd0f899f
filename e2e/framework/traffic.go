package framework

import (
	"fmt"
	"slices"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// Traffic renders a traffic block as sorted Route strings ("revision percent% tag", LATEST for an entry that
// follows the latest ready revision), so that blocks compare exactly and regardless of order.
func Traffic(targets []*runpb.TrafficTarget) []string {
	out := make([]string, 0, len(targets))
	for _, t := range targets {
		rev := t.GetRevision()
		if t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST {
			rev = "LATEST"
		}
		out = append(out, Route(rev, int(t.GetPercent()), t.GetTag()))
	}
	slices.Sort(out)
	return out
}

// LiveTraffic renders the service's traffic statuses (what Cloud Run serves) like Traffic.
func LiveTraffic(svc *runpb.Service) []string {
	out := make([]string, 0, len(svc.GetTrafficStatuses()))
	for _, t := range svc.GetTrafficStatuses() {
		out = append(out, Route(t.GetRevision(), int(t.GetPercent()), t.GetTag()))
	}
	slices.Sort(out)
	return out
}

// Route is one element of Traffic: percent of the traffic to revision, with tag ("" for none).
func Route(revision string, percent int, tag string) string {
	return fmt.Sprintf("%s %d%% %s", revision, percent, tag)
}

// Routes is the expected Traffic of a block made of routes.
func Routes(routes ...string) []string {
	out := slices.Clone(routes)
	slices.Sort(out)
	return out
}

// RevisionTarget is a REVISION traffic target, for SetTraffic.
func RevisionTarget(revision string, percent int32, tag string) *runpb.TrafficTarget {
	return traffic.Revision(revision, percent, tag)
}

// ShortName returns the last segment of a resource name: a service ID or a revision name.
func ShortName(name string) string { return naming.ShortName(name) }

// RevisionNames are the short names of revisions, in order.
func RevisionNames(revs []*runpb.Revision) []string {
	out := make([]string, 0, len(revs))
	for _, r := range revs {
		out = append(out, ShortName(r.GetName()))
	}
	return out
}

// CanaryTraffic is the traffic block of examples/canary after each stage of its pipeline (by stage index),
// deploying revision v2 over v1 with the preview tag tag, plus the routes in kept (tagged entries set out of
// band, which every stage keeps).
func CanaryTraffic(v1, v2, tag string, kept ...string) [][]string {
	stages := [][]string{
		{Route(v1, 100, ""), Route(v2, 0, tag)},                   // CLOUDRUN_SYNC (skipTrafficShift, tag)
		{Route(v1, 90, ""), Route(v2, 10, ""), Route(v2, 0, tag)}, // CLOUDRUN_PROMOTE 10
		{Route(v1, 90, ""), Route(v2, 10, ""), Route(v2, 0, tag)}, // WAIT
		{Route(v1, 50, ""), Route(v2, 50, ""), Route(v2, 0, tag)}, // CLOUDRUN_PROMOTE 50
		{Route(v2, 100, ""), Route(v2, 0, tag)},                   // CLOUDRUN_PROMOTE 100
		{Route(v2, 100, ""), Route(v2, 0, tag)},                   // CLOUDRUN_CANARY_CLEANUP
	}
	out := make([][]string, len(stages))
	for i, routes := range stages {
		out[i] = Routes(append(routes, kept...)...)
	}
	return out
}

// PreviewTag is the tag CLOUDRUN_SYNC gives the new revision of a deployment of commit (tag: true).
func PreviewTag(commit string) string { return "preview-" + commit[:7] }
