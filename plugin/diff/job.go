package diff

import (
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
)

// CompareJob compares the job in git with the live one, as Compare does services: fields Cloud Run fills
// with defaults where git leaves them unset (task count, retries, task timeout, launch stage, ...) are not
// differences. Neither argument is modified.
func CompareJob(git, live *runpb.Job) *Comparison[*runpb.Job] {
	return compareLive(JobView(git), JobView(live))
}

// CompareJobManifests compares two jobs written by hand, such as the manifests of two commits.
func CompareJobManifests(before, after *runpb.Job) *Comparison[*runpb.Job] {
	return compareViews(JobView(after), JobView(before))
}

// JobView returns a copy of job without what is not part of a manifest: output-only fields, etag, client and
// client version, and the ownership labels.
func JobView(job *runpb.Job) *runpb.Job {
	v := proto.Clone(job).(*runpb.Job)
	v.Etag, v.Client, v.ClientVersion = "", "", ""
	dropIgnoredKeys(v.Labels)
	dropIgnoredKeys(v.Annotations)
	if v.Template != nil {
		dropIgnoredKeys(v.Template.Labels)
		dropIgnoredKeys(v.Template.Annotations)
	}
	clearOutputOnly(v.ProtoReflect())
	return v
}
