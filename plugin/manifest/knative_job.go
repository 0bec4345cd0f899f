package manifest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The conversion of a Cloud Run Admin API v1 Job (apiVersion run.googleapis.com/v1, kind Job), the
// manifest of `gcloud run jobs replace` and `gcloud run jobs describe --format export`, into a Cloud Run
// Admin API v2 Job, with the rules of the Knative Service conversion (knative.go): every field it cannot
// convert is listed in one error, and what Cloud Run fills in by itself is ignored.
//
// Converted:
//   - metadata: name, namespace and the cloud.googleapis.com/location label (where the job lives), labels,
//     annotations (run.googleapis.com/launch-stage, client-name, client-version, binary-authorization,
//     binary-authorization-breakglass; others are kept as the user's own).
//   - spec.template.metadata: labels, annotations (run.googleapis.com/execution-environment,
//     vpc-access-connector, vpc-access-egress, network-interfaces, cloudsql-instances, encryption-key,
//     container-dependencies, gpu-zonal-redundancy-disabled, secrets: see templateAnnotations), which v2
//     puts on the task template.
//   - spec.template.spec: parallelism, taskCount.
//   - spec.template.spec.template.spec: containers and volumes (as for a service), maxRetries,
//     timeoutSeconds (a number or a quoted number, as gcloud writes it), serviceAccountName, nodeSelector.
//
// Ignored: status; the server-filled metadata of a service (knativeServerMetadata); the annotations in
// knativeIgnoredJobAnnotations and, on the execution template, knativeIgnoredTemplateAnnotations.

// knativeIgnoredJobAnnotations are set on a job by Cloud Run or gcloud for their own bookkeeping.
var knativeIgnoredJobAnnotations = append([]string{
	"run.googleapis.com/creator",
	"run.googleapis.com/lastModifier",
	"run.googleapis.com/lastUpdater",
}, knativeIgnoredAnnotations...)

// maxTaskTimeoutSeconds is the longest task timeout of Cloud Run: 168 hours.
const maxTaskTimeoutSeconds = 168 * 60 * 60

// decodeKnativeJob converts a v1 Job and returns where its metadata says the job lives.
func decodeKnativeJob(obj map[string]any) (*runpb.Job, placement, error) {
	c := &knativeConverter{p: &problems{}}
	root := newObject(c.p, "", obj)
	root.ignore("apiVersion", "kind")
	root.skip("status")
	job := &runpb.Job{}
	meta := root.object("metadata")
	var where placement
	var ann *kannotations
	job.Name, job.Labels, where, ann = c.objectMetadata(meta, jobs)
	if v, ok := oneOf(ann, "run.googleapis.com/launch-stage", knativeLaunchStage); ok {
		job.LaunchStage = v
	}
	job.Client, _ = ann.take("run.googleapis.com/client-name")
	job.ClientVersion, _ = ann.take("run.googleapis.com/client-version")
	job.BinaryAuthorization = binaryAuthorization(ann)
	job.Annotations = ann.done(knativeIgnoredJobAnnotations)
	meta.done()

	spec := root.object("spec")
	job.Template = c.executionTemplate(spec.object("template"))
	spec.done()
	root.done()
	if n := len(c.p.list); n > 0 {
		return nil, placement{}, fmt.Errorf("the %s Job cannot be converted to a Cloud Run Admin API v2 Job (%d %s):\n  - %s",
			FormatKnativeJob, n, plural(n, "problem"), strings.Join(c.p.list, "\n  - "))
	}
	return job, where, nil
}

// executionTemplate converts spec.template.
func (c *knativeConverter) executionTemplate(o *kobject) *runpb.ExecutionTemplate {
	t := &runpb.ExecutionTemplate{}
	var ann *kannotations
	t.Labels, ann = c.templateMetadata(o.object("metadata"))

	spec := o.object("spec")
	t.Parallelism = spec.integer32("parallelism", 0)
	if spec.has("taskCount") {
		t.TaskCount = int32(spec.integer("taskCount", 1, maxTaskCount))
	}
	t.Template = c.taskTemplate(spec.object("template"))
	spec.done()
	o.done()

	c.taskAnnotations(ann, t.Template)
	t.Annotations = ann.done(knativeIgnoredTemplateAnnotations)
	return t
}

// taskTemplate converts spec.template.spec.template.
func (c *knativeConverter) taskTemplate(o *kobject) *runpb.TaskTemplate {
	t := &runpb.TaskTemplate{}
	spec := o.object("spec")
	if spec.has("maxRetries") {
		t.Retries = &runpb.TaskTemplate_MaxRetries{MaxRetries: int32(spec.integer("maxRetries", 0, 10))}
	}
	if spec.has("timeoutSeconds") {
		unquote(spec, "timeoutSeconds")
		t.Timeout = durationpb.New(time.Duration(spec.integer("timeoutSeconds", 1, maxTaskTimeoutSeconds)) * time.Second)
	}
	t.ServiceAccount = spec.str("serviceAccountName")
	t.NodeSelector = nodeSelector(spec)
	t.Volumes = c.templateVolumes(spec.objects("volumes"))
	t.Containers = c.containers(spec)
	spec.done()
	o.done()
	return t
}

// unquote turns the quoted whole number that gcloud writes for an int64 field (timeoutSeconds: '600')
// into a number; any other value is left for the integer check to report.
func unquote(o *kobject, key string) {
	s, ok := o.m[key].(string)
	if _, err := strconv.ParseInt(s, 10, 64); ok && err == nil {
		o.m[key] = json.Number(s)
	}
}

// taskAnnotations converts the execution template annotations that v2 has as task template fields:
//
//	run.googleapis.com/execution-environment         → template.template.executionEnvironment (gen1, gen2)
//	run.googleapis.com/vpc-access-connector, vpc-access-egress, network-interfaces → template.template.vpcAccess
//	run.googleapis.com/cloudsql-instances            → a "cloudsql" Cloud SQL volume mounted at /cloudsql in every container
//	run.googleapis.com/encryption-key                → template.template.encryptionKey
//	run.googleapis.com/container-dependencies        → containers[].dependsOn
//	run.googleapis.com/gpu-zonal-redundancy-disabled → template.template.gpuZonalRedundancyDisabled
//	run.googleapis.com/secrets                       → secret names (see secretAliases)
func (c *knativeConverter) taskAnnotations(a *kannotations, t *runpb.TaskTemplate) {
	if v, ok := oneOf(a, "run.googleapis.com/execution-environment", knativeExecutionEnvironment); ok {
		t.ExecutionEnvironment = v
	}
	t.VpcAccess = vpcAccess(a)
	t.Volumes = c.cloudSQL(a, t.Volumes, t.Containers)
	t.EncryptionKey, _ = a.take("run.googleapis.com/encryption-key")
	c.containerDependencies(a, t.Containers)
	t.GpuZonalRedundancyDisabled = optionalBoolean(a, "run.googleapis.com/gpu-zonal-redundancy-disabled")
}
