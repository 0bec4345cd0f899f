package knative

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/googleapi"
	runv1 "google.golang.org/api/run/v1"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Annotation and label keys of the v1 API that stand for v2 fields
// (https://cloud.google.com/run/docs/reference/yaml/v1).
const (
	annIngress         = "run.googleapis.com/ingress"
	annIngressStatus   = "run.googleapis.com/ingress-status"
	annLaunchStage     = "run.googleapis.com/launch-stage"
	annClientName      = "run.googleapis.com/client-name"
	annClientVersion   = "run.googleapis.com/client-version"
	annDescription     = "run.googleapis.com/description"
	annCreator         = "serving.knative.dev/creator"
	annLastModifier    = "serving.knative.dev/lastModifier"
	annOperationID     = "run.googleapis.com/operation-id"
	annURLs            = "run.googleapis.com/urls"
	annMaxScale        = "autoscaling.knative.dev/maxScale"
	annMinScale        = "autoscaling.knative.dev/minScale"
	annExecEnv         = "run.googleapis.com/execution-environment"
	annCPUThrottling   = "run.googleapis.com/cpu-throttling"
	annStartupBoost    = "run.googleapis.com/startup-cpu-boost"
	annSessionAffinity = "run.googleapis.com/sessionAffinity"
	labelLocation      = "cloud.googleapis.com/location"
	labelService       = "serving.knative.dev/service"
	labelConfiguration = "serving.knative.dev/configuration"
	labelConfigGen     = "serving.knative.dev/configurationGeneration"
	labelRoute         = "serving.knative.dev/route"
	// clientLabelPrefix names Knative client labels such as gcloud's client.knative.dev/nonce. v2 labels
	// cannot hold a key with a prefix, so a v1 label of this prefix is kept as a v2 annotation of the same
	// key, and shown again as a label.
	clientLabelPrefix = "client.knative.dev/"
)

// outputAnnotations are set by Cloud Run; a v1 write that carries them (an exported service) has them
// ignored, as Cloud Run ignores them.
var outputAnnotations = map[string]bool{
	annIngressStatus: true, annCreator: true, annLastModifier: true, annOperationID: true, annURLs: true,
	"run.googleapis.com/satisfiesPzs": true,
}

const (
	servingAPIVersion = "serving.knative.dev/v1"
	knativeTime       = time.RFC3339Nano
)

var ingressNames = map[runpb.IngressTraffic]string{
	runpb.IngressTraffic_INGRESS_TRAFFIC_ALL:                    "all",
	runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_ONLY:          "internal",
	runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER: "internal-and-cloud-load-balancing",
	runpb.IngressTraffic_INGRESS_TRAFFIC_NONE:                   "none",
	runpb.IngressTraffic_INGRESS_TRAFFIC_UNSPECIFIED:            "",
}

var executionEnvironments = map[runpb.ExecutionEnvironment]string{
	runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN1: "gen1",
	runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN2: "gen2",
}

// names of a v2 resource: projects/{p}/locations/{l}/{kind}/{id}.
type names struct{ project, region, id string }

func parseName(full string) names {
	parts := strings.Split(full, "/")
	if len(parts) < 6 {
		return names{}
	}
	return names{project: parts[1], region: parts[3], id: parts[5]}
}

func short(full string) string { return full[strings.LastIndexByte(full, '/')+1:] }

func timestamp(t interface{ AsTime() time.Time }, set bool) string {
	if !set {
		return ""
	}
	return t.AsTime().UTC().Format(knativeTime)
}

// toV1Service is the v1 view of a v2 service.
func toV1Service(svc *runpb.Service) *runv1.Service {
	n := parseName(svc.GetName())
	labels := maps.Clone(svc.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[labelLocation] = n.region
	ann := maps.Clone(svc.GetAnnotations())
	if ann == nil {
		ann = map[string]string{}
	}
	setIf(ann, annCreator, svc.GetCreator())
	setIf(ann, annLastModifier, svc.GetLastModifier())
	setIf(ann, annClientName, svc.GetClient())
	setIf(ann, annClientVersion, svc.GetClientVersion())
	setIf(ann, annDescription, svc.GetDescription())
	setIf(ann, annIngress, ingressNames[svc.GetIngress()])
	setIf(ann, annIngressStatus, ingressNames[svc.GetIngress()])
	if ls := svc.GetLaunchStage(); ls != api.LaunchStage_LAUNCH_STAGE_UNSPECIFIED && ls != api.LaunchStage_GA {
		ann[annLaunchStage] = ls.String()
	}
	out := &runv1.Service{
		ApiVersion: servingAPIVersion,
		Kind:       "Service",
		Metadata: &runv1.ObjectMeta{
			Name:              n.id,
			Namespace:         n.project,
			SelfLink:          fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%s/services/%s", n.project, n.id),
			Uid:               svc.GetUid(),
			ResourceVersion:   strings.Trim(svc.GetEtag(), `"`),
			Generation:        svc.GetGeneration(),
			CreationTimestamp: timestamp(svc.GetCreateTime(), svc.GetCreateTime() != nil),
			Labels:            labels,
			Annotations:       ann,
		},
		Spec: &runv1.ServiceSpec{
			Template: toV1Template(svc.GetTemplate()),
			Traffic:  toV1Traffic(svc.GetTraffic()),
		},
		Status: serviceStatus(svc),
	}
	return out
}

// serviceStatus is the v1 status of a v2 service: its conditions, latest revisions, URL and the traffic
// it serves, LATEST resolved to the revision it reaches.
func serviceStatus(svc *runpb.Service) *runv1.ServiceStatus {
	latestReady := short(svc.GetLatestReadyRevision())
	observed := svc.GetObservedGeneration()
	if svc.GetTerminalCondition().GetState() == runpb.Condition_CONDITION_FAILED {
		// v2 keeps observed_generation at the last state that served; v1, as Knative, says the failed
		// generation was observed, which is how gcloud knows the rollout has ended.
		observed = svc.GetGeneration()
	}
	st := &runv1.ServiceStatus{
		ObservedGeneration:        observed,
		Conditions:                conditions(svc.GetTerminalCondition(), svc.GetConditions()),
		LatestReadyRevisionName:   latestReady,
		LatestCreatedRevisionName: short(svc.GetLatestCreatedRevision()),
		Url:                       svc.GetUri(),
	}
	if svc.GetUri() != "" {
		st.Address = &runv1.Addressable{Url: svc.GetUri()}
	}
	for _, t := range svc.GetTrafficStatuses() {
		latest := t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
		rev := t.GetRevision()
		if latest {
			rev = latestReady
		}
		st.Traffic = append(st.Traffic, &runv1.TrafficTarget{RevisionName: rev, LatestRevision: latest, Percent: int64(t.GetPercent()), Tag: t.GetTag(), Url: t.GetUri()})
	}
	return st
}

// conditions are the v1 conditions: Ready from the terminal condition, then the others
// (ConfigurationsReady, RoutesReady) as v2 has them.
func conditions(terminal *runpb.Condition, others []*runpb.Condition) []*runv1.GoogleCloudRunV1Condition {
	var out []*runv1.GoogleCloudRunV1Condition
	for _, c := range append([]*runpb.Condition{terminal}, others...) {
		if c == nil || c.GetType() == "" {
			continue
		}
		out = append(out, &runv1.GoogleCloudRunV1Condition{
			Type:               c.GetType(),
			Status:             conditionStatus(c.GetState()),
			Reason:             conditionReason(c),
			Message:            c.GetMessage(),
			LastTransitionTime: timestamp(c.GetLastTransitionTime(), c.GetLastTransitionTime() != nil),
			Severity:           severity(c.GetSeverity()),
		})
	}
	return out
}

func conditionStatus(s runpb.Condition_State) string {
	switch s {
	case runpb.Condition_CONDITION_SUCCEEDED:
		return "True"
	case runpb.Condition_CONDITION_FAILED:
		return "False"
	default:
		return "Unknown"
	}
}

func severity(s runpb.Condition_Severity) string {
	switch s {
	case runpb.Condition_ERROR:
		return "Error"
	case runpb.Condition_WARNING:
		return "Warning"
	case runpb.Condition_INFO:
		return "Info"
	}
	return ""
}

// conditionReason is v2's reason enum in Knative's CamelCase (CONTAINER_MISSING: ContainerMissing).
func conditionReason(c *runpb.Condition) string {
	var name string
	switch {
	case c.GetRevisionReason() != runpb.Condition_REVISION_REASON_UNDEFINED:
		name = c.GetRevisionReason().String()
	case c.GetExecutionReason() != runpb.Condition_EXECUTION_REASON_UNDEFINED:
		name = c.GetExecutionReason().String()
	case c.GetReason() != runpb.Condition_COMMON_REASON_UNDEFINED:
		name = c.GetReason().String()
	default:
		return ""
	}
	var b strings.Builder
	for _, w := range strings.Split(strings.ToLower(name), "_") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

func toV1Traffic(traffic []*runpb.TrafficTarget) []*runv1.TrafficTarget {
	var out []*runv1.TrafficTarget
	for _, t := range traffic {
		v1 := &runv1.TrafficTarget{Percent: int64(t.GetPercent()), Tag: t.GetTag()}
		if t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST {
			v1.LatestRevision = true
		} else {
			v1.RevisionName = t.GetRevision()
		}
		out = append(out, v1)
	}
	return out
}

// toV1Template is the v1 revision template of a v2 one.
func toV1Template(t *runpb.RevisionTemplate) *runv1.RevisionTemplate {
	labels, ann := splitClientLabels(t.GetLabels(), t.GetAnnotations())
	revisionAnnotations(ann, t.GetScaling(), t.GetExecutionEnvironment(), t.GetContainers(), t.GetSessionAffinity())
	return &runv1.RevisionTemplate{
		Metadata: &runv1.ObjectMeta{Name: t.GetRevision(), Labels: labels, Annotations: ann},
		Spec:     revisionSpec(t.GetContainers(), t.GetTimeout(), t.GetServiceAccount(), t.GetMaxInstanceRequestConcurrency()),
	}
}

// splitClientLabels returns v1 labels and annotations of v2 ones: client.knative.dev/ annotations become
// labels again.
func splitClientLabels(labels, annotations map[string]string) (map[string]string, map[string]string) {
	l, a := maps.Clone(labels), map[string]string{}
	if l == nil {
		l = map[string]string{}
	}
	for k, v := range annotations {
		if strings.HasPrefix(k, clientLabelPrefix) {
			l[k] = v
		} else {
			a[k] = v
		}
	}
	return l, a
}

// revisionAnnotations adds the annotations that stand for a revision's v2 fields.
func revisionAnnotations(ann map[string]string, scaling *runpb.RevisionScaling, env runpb.ExecutionEnvironment, containers []*runpb.Container, affinity bool) {
	if n := scaling.GetMaxInstanceCount(); n > 0 {
		ann[annMaxScale] = strconv.Itoa(int(n))
	}
	if n := scaling.GetMinInstanceCount(); n > 0 {
		ann[annMinScale] = strconv.Itoa(int(n))
	}
	setIf(ann, annExecEnv, executionEnvironments[env])
	for _, c := range containers {
		if r := c.GetResources(); r != nil {
			if !r.GetCpuIdle() {
				ann[annCPUThrottling] = "false"
			}
			if r.GetStartupCpuBoost() {
				ann[annStartupBoost] = "true"
			}
			break
		}
	}
	if affinity {
		ann[annSessionAffinity] = "true"
	}
}

func revisionSpec(containers []*runpb.Container, timeout *durationpb.Duration, sa string, concurrency int32) *runv1.RevisionSpec {
	spec := &runv1.RevisionSpec{ContainerConcurrency: int64(concurrency), ServiceAccountName: sa}
	if timeout != nil {
		spec.TimeoutSeconds = timeout.GetSeconds()
	}
	for _, c := range containers {
		spec.Containers = append(spec.Containers, toV1Container(c))
	}
	return spec
}

func toV1Container(c *runpb.Container) *runv1.Container {
	out := &runv1.Container{Name: c.GetName(), Image: c.GetImage(), Command: c.GetCommand(), Args: c.GetArgs(), WorkingDir: c.GetWorkingDir()}
	for _, e := range c.GetEnv() {
		v := &runv1.EnvVar{Name: e.GetName(), Value: e.GetValue()}
		if s := e.GetValueSource().GetSecretKeyRef(); s != nil {
			v.ValueFrom = &runv1.EnvVarSource{SecretKeyRef: &runv1.SecretKeySelector{Name: s.GetSecret(), Key: s.GetVersion()}}
		}
		out.Env = append(out.Env, v)
	}
	if lim := c.GetResources().GetLimits(); len(lim) > 0 {
		out.Resources = &runv1.ResourceRequirements{Limits: maps.Clone(lim)}
	}
	for _, p := range c.GetPorts() {
		out.Ports = append(out.Ports, &runv1.ContainerPort{Name: p.GetName(), ContainerPort: int64(p.GetContainerPort())})
	}
	for _, m := range c.GetVolumeMounts() {
		out.VolumeMounts = append(out.VolumeMounts, &runv1.VolumeMount{Name: m.GetName(), MountPath: m.GetMountPath()})
	}
	return out
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// badRequest is a v1 request the API refuses before calling v2, naming the field.
func badRequest(field, format string, args ...any) error {
	return &googleapi.Error{Code: 400, Message: fmt.Sprintf("Invalid value for field '%s': %s", field, fmt.Sprintf(format, args...))}
}

// fromV1Service applies a v1 service onto base, a v2 service (the stored one for a replace, empty for a
// create): the v1-expressible fields are replaced, the others kept.
func fromV1Service(in *runv1.Service, base *runpb.Service) (*runpb.Service, error) {
	if in.ApiVersion != "" && in.ApiVersion != servingAPIVersion {
		return nil, badRequest("apiVersion", "%q is not serving.knative.dev/v1", in.ApiVersion)
	}
	if in.Kind != "" && in.Kind != "Service" {
		return nil, badRequest("kind", "%q is not Service", in.Kind)
	}
	if in.Metadata == nil || in.Metadata.Name == "" {
		return nil, badRequest("metadata.name", "a service needs a name")
	}
	out := proto.Clone(base).(*runpb.Service)
	labels := maps.Clone(in.Metadata.Labels)
	delete(labels, labelLocation)
	out.Labels = labels
	ann := map[string]string{}
	out.Ingress, out.LaunchStage, out.Client, out.ClientVersion, out.Description = runpb.IngressTraffic_INGRESS_TRAFFIC_UNSPECIFIED, api.LaunchStage_LAUNCH_STAGE_UNSPECIFIED, "", "", ""
	for k, v := range in.Metadata.Annotations {
		switch {
		case outputAnnotations[k]:
		case k == annIngress:
			ing, ok := ingressByName(v)
			if !ok {
				return nil, badRequest("metadata.annotations["+annIngress+"]", "%q is not one of all, internal, internal-and-cloud-load-balancing, none", v)
			}
			out.Ingress = ing
		case k == annLaunchStage:
			ls, ok := api.LaunchStage_value[strings.ToUpper(v)]
			if !ok {
				return nil, badRequest("metadata.annotations["+annLaunchStage+"]", "%q is not a launch stage (ALPHA, BETA, GA, ...)", v)
			}
			out.LaunchStage = api.LaunchStage(ls)
		case k == annClientName:
			out.Client = v
		case k == annClientVersion:
			out.ClientVersion = v
		case k == annDescription:
			out.Description = v
		default:
			ann[k] = v
		}
	}
	out.Annotations = ann
	if in.Spec == nil || in.Spec.Template == nil {
		return nil, badRequest("spec.template", "a service needs a revision template")
	}
	tmpl, err := fromV1Template(in.Spec.Template, out.GetTemplate())
	if err != nil {
		return nil, err
	}
	out.Template = tmpl
	out.Traffic = nil
	for i, t := range in.Spec.Traffic {
		v2 := &runpb.TrafficTarget{Percent: int32(t.Percent), Tag: t.Tag}
		switch {
		case t.LatestRevision && t.RevisionName != "":
			return nil, badRequest(fmt.Sprintf("spec.traffic[%d]", i), "latestRevision and revisionName are exclusive")
		case t.LatestRevision:
			v2.Type = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
		case t.RevisionName != "":
			v2.Type, v2.Revision = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, t.RevisionName
		default:
			return nil, badRequest(fmt.Sprintf("spec.traffic[%d]", i), "a traffic target needs revisionName or latestRevision: true")
		}
		out.Traffic = append(out.Traffic, v2)
	}
	return out, nil
}

func ingressByName(v string) (runpb.IngressTraffic, bool) {
	for ing, name := range ingressNames {
		if name == v && v != "" {
			return ing, true
		}
	}
	return 0, false
}

// fromV1Template is the v2 revision template of a v1 one, keeping base's fields v1 cannot express.
func fromV1Template(in *runv1.RevisionTemplate, base *runpb.RevisionTemplate) (*runpb.RevisionTemplate, error) {
	out := &runpb.RevisionTemplate{}
	if base != nil {
		out = proto.Clone(base).(*runpb.RevisionTemplate)
	}
	meta := in.Metadata
	if meta == nil {
		meta = &runv1.ObjectMeta{}
	}
	out.Revision = meta.Name
	out.Labels, out.Annotations = map[string]string{}, map[string]string{}
	for k, v := range meta.Labels {
		if strings.HasPrefix(k, clientLabelPrefix) {
			out.Annotations[k] = v
		} else {
			out.Labels[k] = v
		}
	}
	out.Scaling, out.ExecutionEnvironment, out.SessionAffinity = nil, runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_UNSPECIFIED, false
	var cpuIdle, boost *bool
	for k, v := range meta.Annotations {
		field := "spec.template.metadata.annotations[" + k + "]"
		switch k {
		case annMaxScale, annMinScale:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, badRequest(field, "%q is not a whole number of instances", v)
			}
			if out.Scaling == nil {
				out.Scaling = &runpb.RevisionScaling{}
			}
			if k == annMaxScale {
				out.Scaling.MaxInstanceCount = int32(n)
			} else {
				out.Scaling.MinInstanceCount = int32(n)
			}
		case annExecEnv:
			found := false
			for env, name := range executionEnvironments {
				if name == v {
					out.ExecutionEnvironment, found = env, true
				}
			}
			if !found {
				return nil, badRequest(field, "%q is not gen1 or gen2", v)
			}
		case annCPUThrottling, annStartupBoost:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, badRequest(field, "%q is not true or false", v)
			}
			if k == annCPUThrottling {
				cpuIdle = &b
			} else {
				boost = &b
			}
		case annSessionAffinity:
			out.SessionAffinity = v == "true"
		case annClientName, annClientVersion:
			// gcloud marks templates too; v2 revisions have no such field.
		default:
			out.Annotations[k] = v
		}
	}
	spec := in.Spec
	if spec == nil {
		spec = &runv1.RevisionSpec{}
	}
	out.MaxInstanceRequestConcurrency = int32(spec.ContainerConcurrency)
	out.ServiceAccount = spec.ServiceAccountName
	out.Timeout = nil
	if spec.TimeoutSeconds > 0 {
		out.Timeout = durationpb.New(time.Duration(spec.TimeoutSeconds) * time.Second)
	}
	out.Containers = nil
	for i, c := range spec.Containers {
		v2, err := fromV1Container(fmt.Sprintf("spec.template.spec.containers[%d]", i), c)
		if err != nil {
			return nil, err
		}
		if v2.Resources != nil || cpuIdle != nil || boost != nil {
			if v2.Resources == nil {
				v2.Resources = &runpb.ResourceRequirements{}
			}
			v2.Resources.CpuIdle = cpuIdle == nil || *cpuIdle // CPU is throttled unless the annotation says otherwise
			v2.Resources.StartupCpuBoost = boost != nil && *boost
		}
		out.Containers = append(out.Containers, v2)
	}
	return out, nil
}

func fromV1Container(field string, c *runv1.Container) (*runpb.Container, error) {
	out := &runpb.Container{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir}
	for j, e := range c.Env {
		v := &runpb.EnvVar{Name: e.Name}
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v.Values = &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{SecretKeyRef: &runpb.SecretKeySelector{Secret: ref.Name, Version: ref.Key}}}
		case e.ValueFrom != nil:
			return nil, badRequest(fmt.Sprintf("%s.env[%d].valueFrom", field, j), "only secretKeyRef is supported")
		default:
			v.Values = &runpb.EnvVar_Value{Value: e.Value}
		}
		out.Env = append(out.Env, v)
	}
	if c.Resources != nil && len(c.Resources.Limits) > 0 {
		out.Resources = &runpb.ResourceRequirements{Limits: maps.Clone(c.Resources.Limits)}
	}
	for _, p := range c.Ports {
		out.Ports = append(out.Ports, &runpb.ContainerPort{Name: p.Name, ContainerPort: int32(p.ContainerPort)})
	}
	for _, m := range c.VolumeMounts {
		out.VolumeMounts = append(out.VolumeMounts, &runpb.VolumeMount{Name: m.Name, MountPath: m.MountPath})
	}
	return out, nil
}
