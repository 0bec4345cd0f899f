package manifest

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/api"
)

// The conversion of a Knative serving.knative.dev/v1 Service, the manifest PipeCD v0 and
// `gcloud run services replace` use (Cloud Run Admin API v1), into a Cloud Run Admin API v2 Service.
//
// Converted:
//   - metadata: name, namespace and the cloud.googleapis.com/location label (where the service lives,
//     checked against the deploy target), labels, annotations.
//   - spec.template.metadata: name (→ template.revision), labels, annotations.
//   - spec.template.spec: containerConcurrency, timeoutSeconds, serviceAccountName, nodeSelector
//     (run.googleapis.com/accelerator), volumes (secret, emptyDir, nfs, csi gcsfuse.run.googleapis.com),
//     containers (name, image, command, args, workingDir, env with value or valueFrom.secretKeyRef,
//     ports, resources.limits, volumeMounts, liveness/readiness/startup probes with httpGet,
//     tcpSocket or grpc).
//   - spec.traffic: latestRevision, revisionName, percent, tag.
//   - the annotations listed in serviceAnnotations and templateAnnotations.
//
// Anything else is an error that lists every such field with its path, except what Cloud Run fills
// in by itself and `gcloud run services describe --format export` may still print. Those describe
// the deployed object rather than the desired one and are ignored deliberately:
//   - status;
//   - metadata (service and revision template): uid, resourceVersion, generation, creationTimestamp,
//     selfLink;
//   - annotations in knativeIgnoredAnnotations and, on the revision template,
//     knativeIgnoredTemplateAnnotations and the labels in knativeIgnoredTemplateLabels;
//   - spec.traffic[].url.

// knativeServerMetadata are the metadata fields Cloud Run sets.
var knativeServerMetadata = []string{"uid", "resourceVersion", "generation", "creationTimestamp", "selfLink"}

// knativeIgnoredAnnotations are set by Cloud Run or by gcloud for its own bookkeeping.
var knativeIgnoredAnnotations = []string{
	"serving.knative.dev/creator",
	"serving.knative.dev/lastModifier",
	"run.googleapis.com/operation-id",
	"run.googleapis.com/ingress-status",
	"run.googleapis.com/urls",
	"client.knative.dev/user-image",
	"run.googleapis.com/build-name",
	"run.googleapis.com/build-id",
}

// knativeIgnoredTemplateLabels are revision template labels that Cloud Run or gcloud set:
// run.googleapis.com/startupProbeType says whether the startup probe is Cloud Run's default one, and
// client.knative.dev/nonce is gcloud's way of forcing a new v1 revision. The Admin API v2 refuses both
// (label keys take no dots or slashes), so they cannot be carried over.
var knativeIgnoredTemplateLabels = []string{"run.googleapis.com/startupProbeType", "client.knative.dev/nonce"}

// knativeIgnoredTemplateAnnotations name the client that wrote the revision template; a v2 revision
// template has no field for them (the service's own client-name and client-version are converted).
var knativeIgnoredTemplateAnnotations = append([]string{
	"run.googleapis.com/client-name",
	"run.googleapis.com/client-version",
}, knativeIgnoredAnnotations...)

// Knative spellings of v2 enum values.
var (
	knativeIngress = map[string]runpb.IngressTraffic{
		"all":                               runpb.IngressTraffic_INGRESS_TRAFFIC_ALL,
		"internal":                          runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_ONLY,
		"internal-and-cloud-load-balancing": runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER,
	}
	knativeExecutionEnvironment = map[string]runpb.ExecutionEnvironment{
		"gen1": runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN1,
		"gen2": runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN2,
	}
	knativeVPCEgress = map[string]runpb.VpcAccess_VpcEgress{
		"all-traffic":         runpb.VpcAccess_ALL_TRAFFIC,
		"private-ranges-only": runpb.VpcAccess_PRIVATE_RANGES_ONLY,
	}
	knativeScalingMode = map[string]runpb.ServiceScaling_ScalingMode{
		"automatic": runpb.ServiceScaling_AUTOMATIC,
		"manual":    runpb.ServiceScaling_MANUAL,
	}
	knativeKeyRevocationAction = map[string]runpb.EncryptionKeyRevocationAction{
		"PREVENT_NEW": runpb.EncryptionKeyRevocationAction_PREVENT_NEW,
		"SHUTDOWN":    runpb.EncryptionKeyRevocationAction_SHUTDOWN,
	}
	knativeLaunchStage = launchStages()
)

func launchStages() map[string]api.LaunchStage {
	out := map[string]api.LaunchStage{}
	for name, v := range api.LaunchStage_value {
		if v != 0 {
			out[name] = api.LaunchStage(v)
		}
	}
	return out
}

const (
	// locationLabel is the label gcloud writes with the service's region.
	locationLabel = "cloud.googleapis.com/location"
	// cloudSQLVolume is the volume that the run.googleapis.com/cloudsql-instances annotation becomes,
	// mounted at cloudSQLMountPath in every container, as Cloud Run does for it.
	cloudSQLVolume    = "cloudsql"
	cloudSQLMountPath = "/cloudsql"
	// gcsFuseDriver is the only CSI driver Cloud Run has: a Cloud Storage bucket.
	gcsFuseDriver = "gcsfuse.run.googleapis.com"
)

// secretAlias is one "alias:projects/NUMBER/secrets/NAME" entry of run.googleapis.com/secrets.
var secretAlias = regexp.MustCompile(`^([^:\s]+):(projects/[^/\s]+/secrets/[^/\s]+)$`)

// knativeConverter converts one manifest, collecting every problem.
type knativeConverter struct {
	p *problems
	// secrets maps the aliases of run.googleapis.com/secrets to full secret names.
	secrets map[string]string
	// volumes are the template's volumes by name.
	volumes map[string]*runpb.Volume
}

// decodeKnative converts a Knative Service and returns where its metadata says the service lives.
func decodeKnative(obj map[string]any) (*runpb.Service, placement, error) {
	c := &knativeConverter{p: &problems{}}
	root := newObject(c.p, "", obj)
	root.ignore("apiVersion", "kind")
	root.skip("status")
	svc := &runpb.Service{}
	where := c.serviceMetadata(root.object("metadata"), svc)
	spec := root.object("spec")
	svc.Template = c.template(spec.object("template"))
	svc.Traffic = c.traffic(spec)
	spec.done()
	root.done()
	if n := len(c.p.list); n > 0 {
		return nil, placement{}, fmt.Errorf("the Knative %s Service cannot be converted to a Cloud Run Admin API v2 Service (%d %s):\n  - %s",
			FormatKnative, n, plural(n, "problem"), strings.Join(c.p.list, "\n  - "))
	}
	return svc, where, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func (c *knativeConverter) serviceMetadata(meta *kobject, svc *runpb.Service) placement {
	var where placement
	var ann *kannotations
	svc.Name, svc.Labels, where, ann = c.objectMetadata(meta, services)
	serviceAnnotations(ann, svc)
	svc.Annotations = ann.done(knativeIgnoredAnnotations)
	meta.done()
	return where
}

// objectMetadata converts the metadata of a Service or Job (a resource r): its name, where it lives
// (metadata.namespace and the cloud.googleapis.com/location label) and its labels. It returns the
// annotations for the caller to convert.
func (c *knativeConverter) objectMetadata(meta *kobject, r resource) (string, map[string]string, placement, *kannotations) {
	name := meta.str("name")
	switch {
	case name == "":
		c.p.add("metadata.name", "is required, allowed a %s ID such as %q", r.kind, r.example)
	case !r.id.MatchString(name):
		c.p.add("metadata.name", "%q is not a valid %s name, allowed %s", name, r.kind, r.idRule)
	}
	where := placement{project: meta.str("namespace"), projectField: "metadata.namespace"}
	labels := meta.stringMap("labels")
	if region, ok := labels[locationLabel]; ok {
		where.region, where.regionField = region, fmt.Sprintf("metadata.labels[%q]", locationLabel)
		delete(labels, locationLabel)
	}
	labels = c.userLabels("metadata.labels", labels)
	meta.skip(knativeServerMetadata...)
	return name, labels, where, newAnnotations(c.p, "metadata.annotations", meta.stringMap("annotations"))
}

// userLabels returns labels, reporting those in a namespace that Cloud Run Admin API v2 rejects.
func (c *knativeConverter) userLabels(path string, labels map[string]string) map[string]string {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if reservedKey(k) {
			c.p.add(fmt.Sprintf("%s[%q]", path, k), "cannot be converted: Cloud Run Admin API v2 rejects labels in the namespaces %s",
				strings.Join(reservedAnnotationNamespaces, ", "))
			delete(labels, k)
		}
	}
	if len(labels) == 0 {
		return nil
	}
	return labels
}

// serviceAnnotations converts the service annotations that have a v2 field:
//
//	run.googleapis.com/ingress                        → ingress (all, internal, internal-and-cloud-load-balancing)
//	run.googleapis.com/description                    → description
//	run.googleapis.com/launch-stage                   → launchStage (ALPHA, BETA, GA, ...)
//	run.googleapis.com/client-name, client-version    → client, clientVersion
//	run.googleapis.com/binary-authorization           → binaryAuthorization.useDefault ("default") or .policy
//	run.googleapis.com/binary-authorization-breakglass → binaryAuthorization.breakglassJustification
//	run.googleapis.com/minScale, maxScale             → scaling.minInstanceCount, maxInstanceCount
//	run.googleapis.com/scalingMode                    → scaling.scalingMode (automatic, manual)
//	run.googleapis.com/manualInstanceCount            → scaling.manualInstanceCount
//	run.googleapis.com/invoker-iam-disabled           → invokerIamDisabled
//	run.googleapis.com/default-url-disabled           → defaultUriDisabled
//	run.googleapis.com/iap-enabled                    → iapEnabled
//	run.googleapis.com/custom-audiences               → customAudiences (a JSON list of strings)
//	run.googleapis.com/regions                        → multiRegionSettings.regions (comma-separated)
//	run.googleapis.com/build-*                        → buildConfig (see buildAnnotations)
func serviceAnnotations(a *kannotations, svc *runpb.Service) {
	if v, ok := oneOf(a, "run.googleapis.com/ingress", knativeIngress); ok {
		svc.Ingress = v
	}
	svc.Description, _ = a.take("run.googleapis.com/description")
	if v, ok := oneOf(a, "run.googleapis.com/launch-stage", knativeLaunchStage); ok {
		svc.LaunchStage = v
	}
	svc.Client, _ = a.take("run.googleapis.com/client-name")
	svc.ClientVersion, _ = a.take("run.googleapis.com/client-version")

	svc.BinaryAuthorization = binaryAuthorization(a)

	scaling := &runpb.ServiceScaling{
		MinInstanceCount:    a.integer32("run.googleapis.com/minScale"),
		MaxInstanceCount:    a.integer32("run.googleapis.com/maxScale"),
		ManualInstanceCount: manualInstanceCount(a),
	}
	if v, ok := oneOf(a, "run.googleapis.com/scalingMode", knativeScalingMode); ok {
		scaling.ScalingMode = v
	}
	if !isZero(scaling) {
		svc.Scaling = scaling
	}

	svc.InvokerIamDisabled = a.boolean("run.googleapis.com/invoker-iam-disabled")
	svc.DefaultUriDisabled = a.boolean("run.googleapis.com/default-url-disabled")
	svc.IapEnabled = a.boolean("run.googleapis.com/iap-enabled")
	if v, ok := a.take("run.googleapis.com/custom-audiences"); ok {
		if err := json.Unmarshal([]byte(v), &svc.CustomAudiences); err != nil {
			a.p.invalid(a.pathOf("run.googleapis.com/custom-audiences"), v, `a JSON list of strings such as '["https://example.com"]'`)
		}
	}
	svc.MultiRegionSettings = multiRegion(a)
	svc.BuildConfig = buildAnnotations(a)
}

// binaryAuthorization converts run.googleapis.com/binary-authorization and
// run.googleapis.com/binary-authorization-breakglass; nil when neither is set.
func binaryAuthorization(a *kannotations) *runpb.BinaryAuthorization {
	var out *runpb.BinaryAuthorization
	if policy, ok := a.take("run.googleapis.com/binary-authorization"); ok {
		out = &runpb.BinaryAuthorization{}
		if policy == "default" {
			out.BinauthzMethod = &runpb.BinaryAuthorization_UseDefault{UseDefault: true}
		} else {
			out.BinauthzMethod = &runpb.BinaryAuthorization_Policy{Policy: policy}
		}
	}
	if why, ok := a.take("run.googleapis.com/binary-authorization-breakglass"); ok {
		if out == nil {
			out = &runpb.BinaryAuthorization{}
		}
		out.BreakglassJustification = why
	}
	return out
}

func manualInstanceCount(a *kannotations) *int32 {
	if _, ok := a.m["run.googleapis.com/manualInstanceCount"]; !ok {
		return nil
	}
	n := a.integer32("run.googleapis.com/manualInstanceCount")
	return &n
}

func isZero(s *runpb.ServiceScaling) bool {
	return s.GetMinInstanceCount() == 0 && s.GetMaxInstanceCount() == 0 && s.ManualInstanceCount == nil &&
		s.GetScalingMode() == runpb.ServiceScaling_SCALING_MODE_UNSPECIFIED
}

// traffic converts spec.traffic.
func (c *knativeConverter) traffic(spec *kobject) []*runpb.TrafficTarget {
	var out []*runpb.TrafficTarget
	for _, o := range spec.objects("traffic") {
		t := &runpb.TrafficTarget{
			Percent:  int32(o.integer("percent", 0, 100)),
			Tag:      o.str("tag"),
			Revision: o.str("revisionName"),
		}
		latest := o.boolean("latestRevision")
		switch {
		case latest && t.Revision != "":
			c.p.add(o.path, "has latestRevision: true and revisionName %q, allowed one of them", t.Revision)
		case latest:
			t.Type = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
		case t.Revision != "":
			t.Type = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
		default:
			c.p.add(o.path, "needs revisionName or latestRevision: true")
		}
		o.skip("url")
		o.done()
		out = append(out, t)
	}
	return out
}
