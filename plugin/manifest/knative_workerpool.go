package manifest

import (
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
)

// The conversion of a Cloud Run Admin API v1 WorkerPool (apiVersion run.googleapis.com/v1, kind
// WorkerPool), the manifest of `gcloud beta run worker-pools replace` and `… describe --format export`,
// into a Cloud Run Admin API v2 WorkerPool, with the rules of the Knative Service conversion (knative.go):
// every field it cannot convert is listed in one error, and what Cloud Run fills in by itself is ignored.
//
// Converted:
//   - metadata: name, namespace and the cloud.googleapis.com/location label (where the pool lives), labels,
//     annotations: run.googleapis.com/description, launch-stage, client-name, client-version,
//     binary-authorization, binary-authorization-breakglass, manualInstanceCount (→ scaling, the pool's
//     instance count), scalingMode (only "manual", which is what a v2 pool's scaling is); others are kept
//     as the user's own.
//   - spec.template: as a service's revision template (knative_template.go), without what only a
//     service's revisions have, which is a problem when set: containerConcurrency, timeoutSeconds, the
//     annotations autoscaling.knative.dev/minScale and maxScale, run.googleapis.com/execution-environment,
//     sessionAffinity, health-check-disabled and cpu-throttling "true" (a pool's instances always have
//     CPU).
//   - spec.instanceSplits: latestRevision, revisionName, percent.
//
// Ignored: status; the server-filled metadata of a service (knativeServerMetadata); the annotations in
// knativeIgnoredJobAnnotations and, on the revision template, knativeIgnoredTemplateAnnotations.

// knativePoolScalingMode is the only scaling mode of a v2 worker pool.
var knativePoolScalingMode = map[string]bool{"manual": true}

// decodeKnativeWorkerPool converts a v1 WorkerPool and returns where its metadata says the pool lives.
func decodeKnativeWorkerPool(obj map[string]any) (*runpb.WorkerPool, placement, error) {
	c := &knativeConverter{p: &problems{}}
	throttled := templateAnnotation(obj, "run.googleapis.com/cpu-throttling")
	root := newObject(c.p, "", obj)
	root.ignore("apiVersion", "kind")
	root.skip("status")
	pool := &runpb.WorkerPool{}
	meta := root.object("metadata")
	var where placement
	var ann *kannotations
	pool.Name, pool.Labels, where, ann = c.objectMetadata(meta, workerPools)
	pool.Description, _ = ann.take("run.googleapis.com/description")
	if v, ok := oneOf(ann, "run.googleapis.com/launch-stage", knativeLaunchStage); ok {
		pool.LaunchStage = v
	}
	pool.Client, _ = ann.take("run.googleapis.com/client-name")
	pool.ClientVersion, _ = ann.take("run.googleapis.com/client-version")
	pool.BinaryAuthorization = binaryAuthorization(ann)
	if n := manualInstanceCount(ann); n != nil {
		pool.Scaling = &runpb.WorkerPoolScaling{ManualInstanceCount: n}
	}
	oneOf(ann, "run.googleapis.com/scalingMode", knativePoolScalingMode)
	pool.Annotations = ann.done(knativeIgnoredJobAnnotations)
	meta.done()

	spec := root.object("spec")
	tmpl := spec.object("template")
	pool.Template = c.poolTemplate(c.template(tmpl), tmpl.path, throttled)
	pool.InstanceSplits = c.instanceSplits(spec)
	spec.done()
	root.done()
	if n := len(c.p.list); n > 0 {
		return nil, placement{}, fmt.Errorf("the %s WorkerPool cannot be converted to a Cloud Run Admin API v2 WorkerPool (%d %s):\n  - %s",
			FormatKnativeJob, n, plural(n, "problem"), strings.Join(c.p.list, "\n  - "))
	}
	return pool, where, nil
}

// templateAnnotation returns the annotation key of spec.template.metadata in the raw manifest, "" when absent.
func templateAnnotation(obj map[string]any, key string) string {
	v := any(obj)
	for _, k := range []string{"spec", "template", "metadata", "annotations", key} {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// poolTemplate makes a worker pool's revision template of t, a service's revision template converted from
// the manifest's spec.template at path, reporting what only a service's revisions have.
func (c *knativeConverter) poolTemplate(t *runpb.RevisionTemplate, path, throttled string) *runpb.WorkerPoolRevisionTemplate {
	const why = "cannot be converted: a worker pool's revisions take no requests and have no such setting"
	annotation := func(key string) string { return fmt.Sprintf("%s.metadata.annotations[%q]", path, key) }
	if t.GetMaxInstanceRequestConcurrency() != 0 {
		c.p.add(path+".spec.containerConcurrency", why)
	}
	if t.GetTimeout() != nil {
		c.p.add(path+".spec.timeoutSeconds", why)
	}
	if t.GetScaling() != nil {
		c.p.add(annotation("autoscaling.knative.dev/minScale")+" or maxScale", "cannot be converted: a worker pool runs run.googleapis.com/manualInstanceCount instances, set on its metadata")
	}
	if t.GetExecutionEnvironment() != runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_UNSPECIFIED {
		c.p.add(annotation("run.googleapis.com/execution-environment"), why)
	}
	if t.GetSessionAffinity() {
		c.p.add(annotation("run.googleapis.com/sessionAffinity"), why)
	}
	if t.GetHealthCheckDisabled() {
		c.p.add(annotation("run.googleapis.com/health-check-disabled"), why)
	}
	if throttled == "true" {
		c.p.add(annotation("run.googleapis.com/cpu-throttling"), `cannot be converted: a worker pool's instances always have CPU, allowed "false" or no annotation`)
	}
	for _, ct := range t.GetContainers() {
		if r := ct.GetResources(); r != nil {
			r.CpuIdle = false
			if len(r.GetLimits()) == 0 && !r.GetStartupCpuBoost() {
				ct.Resources = nil
			}
		}
	}
	return &runpb.WorkerPoolRevisionTemplate{
		Revision:                      t.GetRevision(),
		Labels:                        t.GetLabels(),
		Annotations:                   t.GetAnnotations(),
		VpcAccess:                     t.GetVpcAccess(),
		ServiceAccount:                t.GetServiceAccount(),
		Containers:                    t.GetContainers(),
		Volumes:                       t.GetVolumes(),
		EncryptionKey:                 t.GetEncryptionKey(),
		ServiceMesh:                   t.GetServiceMesh(),
		EncryptionKeyRevocationAction: t.GetEncryptionKeyRevocationAction(),
		EncryptionKeyShutdownDuration: t.GetEncryptionKeyShutdownDuration(),
		NodeSelector:                  t.GetNodeSelector(),
		GpuZonalRedundancyDisabled:    t.GpuZonalRedundancyDisabled,
	}
}

// instanceSplits converts spec.instanceSplits.
func (c *knativeConverter) instanceSplits(spec *kobject) []*runpb.InstanceSplit {
	var out []*runpb.InstanceSplit
	for _, o := range spec.objects("instanceSplits") {
		sp := &runpb.InstanceSplit{
			Percent:  int32(o.integer("percent", 0, 100)),
			Revision: o.str("revisionName"),
		}
		latest := o.boolean("latestRevision")
		switch {
		case latest && sp.Revision != "":
			c.p.add(o.path, "has latestRevision: true and revisionName %q, allowed one of them", sp.Revision)
		case latest:
			sp.Type = runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST
		case sp.Revision != "":
			sp.Type = runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION
		default:
			c.p.add(o.path, "needs revisionName or latestRevision: true")
		}
		o.done()
		out = append(out, sp)
	}
	return out
}
