package diff

import (
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
)

// ComparePool compares the worker pool in git with the live one, as Compare does services. Neither argument
// is modified.
func ComparePool(git, live *runpb.WorkerPool) *Comparison[*runpb.WorkerPool] {
	return compareLive(PoolView(git), PoolView(live))
}

// ComparePoolManifests compares two worker pools written by hand, such as the manifests of two commits.
func ComparePoolManifests(before, after *runpb.WorkerPool) *Comparison[*runpb.WorkerPool] {
	return compareViews(PoolView(after), PoolView(before))
}

// PoolView returns a copy of pool without what is not part of a manifest (output-only fields, etag, client
// and client version, the ownership labels) nor what the plugin owns: the instance split and the template's
// revision name.
func PoolView(pool *runpb.WorkerPool) *runpb.WorkerPool {
	v := proto.Clone(pool).(*runpb.WorkerPool)
	v.Etag, v.Client, v.ClientVersion, v.InstanceSplits = "", "", "", nil
	if v.Template != nil {
		v.Template.Revision = ""
		dropIgnoredKeys(v.Template.Labels)
		dropIgnoredKeys(v.Template.Annotations)
	}
	dropIgnoredKeys(v.Labels)
	dropIgnoredKeys(v.Annotations)
	clearOutputOnly(v.ProtoReflect())
	return v
}
