package manifest

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The revision template part of the Knative conversion (see knative.go).

// template converts spec.template.
func (c *knativeConverter) template(o *kobject) *runpb.RevisionTemplate {
	t := &runpb.RevisionTemplate{}
	meta := o.object("metadata")
	t.Revision = meta.str("name")
	var ann *kannotations
	t.Labels, ann = c.templateMetadata(meta)

	spec := o.object("spec")
	t.MaxInstanceRequestConcurrency = int32(spec.integer("containerConcurrency", 0, 1000))
	if spec.has("timeoutSeconds") {
		t.Timeout = durationpb.New(time.Duration(spec.integer("timeoutSeconds", 1, 3600)) * time.Second)
	}
	t.ServiceAccount = spec.str("serviceAccountName")
	t.NodeSelector = nodeSelector(spec)
	t.Volumes = c.templateVolumes(spec.objects("volumes"))
	t.Containers = c.containers(spec)
	if rc := spec.str("runtimeClassName"); rc != "" && rc != baseImageRuntimeClass {
		c.p.add(spec.pathOf("runtimeClassName"), "%q cannot be converted, allowed %q (set with run.googleapis.com/base-images)", rc, baseImageRuntimeClass)
	}
	spec.done()
	o.done()

	c.templateAnnotations(ann, t)
	t.Annotations = ann.done(knativeIgnoredTemplateAnnotations)
	return t
}

// templateMetadata converts the labels of a template's metadata and reads its secret aliases; it returns
// the annotations for the caller to convert.
func (c *knativeConverter) templateMetadata(meta *kobject) (map[string]string, *kannotations) {
	labels := meta.stringMap("labels")
	for _, k := range knativeIgnoredTemplateLabels {
		delete(labels, k)
	}
	labels = c.userLabels(meta.pathOf("labels"), labels)
	meta.skip(knativeServerMetadata...)
	ann := newAnnotations(c.p, meta.pathOf("annotations"), meta.stringMap("annotations"))
	meta.done()
	c.secrets = c.secretAliases(ann)
	return labels, ann
}

// secretAliases reads run.googleapis.com/secrets: comma-separated "alias:projects/NUMBER/secrets/NAME"
// entries naming secrets of other projects, which secretKeyRef.name and secret.secretName may use.
func (c *knativeConverter) secretAliases(a *kannotations) map[string]string {
	const key = "run.googleapis.com/secrets"
	v, ok := a.take(key)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for entry := range strings.SplitSeq(v, ",") {
		m := secretAlias.FindStringSubmatch(strings.TrimSpace(entry))
		if m == nil {
			a.p.invalid(a.pathOf(key), entry, `comma-separated "ALIAS:projects/PROJECT/secrets/SECRET" entries`)
			continue
		}
		out[m[1]] = m[2]
	}
	return out
}

// secret returns the v2 name of the secret that a Knative manifest calls name.
func (c *knativeConverter) secret(name string) string {
	if full, ok := c.secrets[name]; ok {
		return full
	}
	return name
}

// templateAnnotations converts the revision template annotations that have a v2 field:
//
//	autoscaling.knative.dev/minScale, maxScale          → template.scaling.minInstanceCount, maxInstanceCount
//	run.googleapis.com/execution-environment            → template.executionEnvironment (gen1, gen2)
//	run.googleapis.com/cpu-throttling                   → containers[].resources.cpuIdle (true when absent, as in v1)
//	run.googleapis.com/startup-cpu-boost                → containers[].resources.startupCpuBoost
//	run.googleapis.com/sessionAffinity                  → template.sessionAffinity
//	run.googleapis.com/vpc-access-connector             → template.vpcAccess.connector
//	run.googleapis.com/vpc-access-egress                → template.vpcAccess.egress (all-traffic, private-ranges-only)
//	run.googleapis.com/network-interfaces               → template.vpcAccess.networkInterfaces (JSON)
//	run.googleapis.com/cloudsql-instances               → a "cloudsql" Cloud SQL volume mounted at /cloudsql in every container
//	run.googleapis.com/encryption-key                   → template.encryptionKey
//	run.googleapis.com/encryption-key-shutdown-hours    → template.encryptionKeyShutdownDuration
//	run.googleapis.com/post-key-revocation-action-type  → template.encryptionKeyRevocationAction (PREVENT_NEW, SHUTDOWN)
//	run.googleapis.com/container-dependencies           → containers[].dependsOn (JSON object of lists)
//	run.googleapis.com/gpu-zonal-redundancy-disabled    → template.gpuZonalRedundancyDisabled
//	run.googleapis.com/health-check-disabled            → template.healthCheckDisabled
//	run.googleapis.com/secrets                          → secret names (see secretAliases)
//	run.googleapis.com/mesh                             → template.serviceMesh.mesh
//	run.googleapis.com/base-images                      → containers[].baseImageUri (JSON object by container name)
func (c *knativeConverter) templateAnnotations(a *kannotations, t *runpb.RevisionTemplate) {
	scaling := &runpb.RevisionScaling{
		MinInstanceCount: a.integer32("autoscaling.knative.dev/minScale"),
		MaxInstanceCount: a.integer32("autoscaling.knative.dev/maxScale"),
	}
	if scaling.MinInstanceCount != 0 || scaling.MaxInstanceCount != 0 {
		t.Scaling = scaling
	}
	if v, ok := oneOf(a, "run.googleapis.com/execution-environment", knativeExecutionEnvironment); ok {
		t.ExecutionEnvironment = v
	}
	throttled := true
	if _, ok := a.m["run.googleapis.com/cpu-throttling"]; ok {
		throttled = a.boolean("run.googleapis.com/cpu-throttling")
	}
	boost := a.boolean("run.googleapis.com/startup-cpu-boost")
	for _, ct := range t.Containers {
		if ct.Resources == nil {
			ct.Resources = &runpb.ResourceRequirements{}
		}
		// v2 allocates CPU all the time when resources are set without cpuIdle, unlike v1 without the annotation.
		ct.Resources.CpuIdle = throttled
		ct.Resources.StartupCpuBoost = boost
	}
	t.SessionAffinity = a.boolean("run.googleapis.com/sessionAffinity")

	t.VpcAccess = vpcAccess(a)
	t.Volumes = c.cloudSQL(a, t.Volumes, t.Containers)

	t.EncryptionKey, _ = a.take("run.googleapis.com/encryption-key")
	if _, ok := a.m["run.googleapis.com/encryption-key-shutdown-hours"]; ok {
		t.EncryptionKeyShutdownDuration = durationpb.New(time.Duration(a.integer32("run.googleapis.com/encryption-key-shutdown-hours")) * time.Hour)
	}
	if v, ok := oneOf(a, "run.googleapis.com/post-key-revocation-action-type", knativeKeyRevocationAction); ok {
		t.EncryptionKeyRevocationAction = v
	}
	c.containerDependencies(a, t.Containers)
	t.GpuZonalRedundancyDisabled = optionalBoolean(a, "run.googleapis.com/gpu-zonal-redundancy-disabled")
	t.HealthCheckDisabled = a.boolean("run.googleapis.com/health-check-disabled")
	t.ServiceMesh = serviceMesh(a)
	c.baseImages(a, t.Containers)
}

// optionalBoolean takes a "true"/"false" annotation; nil when it is absent.
func optionalBoolean(a *kannotations, key string) *bool {
	if _, ok := a.m[key]; !ok {
		return nil
	}
	v := a.boolean(key)
	return &v
}

// vpcAccess converts run.googleapis.com/vpc-access-connector, vpc-access-egress and network-interfaces;
// nil when none is set.
func vpcAccess(a *kannotations) *runpb.VpcAccess {
	vpc := &runpb.VpcAccess{}
	vpc.Connector, _ = a.take("run.googleapis.com/vpc-access-connector")
	if v, ok := oneOf(a, "run.googleapis.com/vpc-access-egress", knativeVPCEgress); ok {
		vpc.Egress = v
	}
	if v, ok := a.take("run.googleapis.com/network-interfaces"); ok {
		interfaces, err := networkInterfaces(v)
		if err != nil {
			a.p.invalid(a.pathOf("run.googleapis.com/network-interfaces"), v, `a JSON list such as '[{"network":"default","subnetwork":"default","tags":["web"]}]'`)
		}
		vpc.NetworkInterfaces = interfaces
	}
	if vpc.Connector == "" && vpc.Egress == runpb.VpcAccess_VPC_EGRESS_UNSPECIFIED && len(vpc.NetworkInterfaces) == 0 {
		return nil
	}
	return vpc
}

func networkInterfaces(v string) ([]*runpb.VpcAccess_NetworkInterface, error) {
	var list []struct {
		Network    string   `json:"network"`
		Subnetwork string   `json:"subnetwork"`
		Tags       []string `json:"tags"`
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&list); err != nil {
		return nil, err
	}
	out := make([]*runpb.VpcAccess_NetworkInterface, len(list))
	for i, n := range list {
		out[i] = &runpb.VpcAccess_NetworkInterface{Network: n.Network, Subnetwork: n.Subnetwork, Tags: n.Tags}
	}
	return out, nil
}

// cloudSQL turns run.googleapis.com/cloudsql-instances into a Cloud SQL volume, added to volumes, mounted
// in every container. It returns the volumes.
func (c *knativeConverter) cloudSQL(a *kannotations, volumes []*runpb.Volume, containers []*runpb.Container) []*runpb.Volume {
	const key = "run.googleapis.com/cloudsql-instances"
	v, ok := a.take(key)
	if !ok {
		return volumes
	}
	var instances []string
	for instance := range strings.SplitSeq(v, ",") {
		if instance = strings.TrimSpace(instance); instance != "" {
			instances = append(instances, instance)
		}
	}
	if len(instances) == 0 {
		a.p.invalid(a.pathOf(key), v, `comma-separated connection names such as "PROJECT:REGION:INSTANCE"`)
		return volumes
	}
	if _, taken := c.volumes[cloudSQLVolume]; taken {
		a.p.add(a.pathOf(key), "cannot be converted: it becomes a volume named %q, and spec.template.spec.volumes already has one; rename that volume", cloudSQLVolume)
		return volumes
	}
	volumes = append(volumes, &runpb.Volume{
		Name:       cloudSQLVolume,
		VolumeType: &runpb.Volume_CloudSqlInstance{CloudSqlInstance: &runpb.CloudSqlInstance{Instances: instances}},
	})
	for _, ct := range containers {
		ct.VolumeMounts = append(ct.VolumeMounts, &runpb.VolumeMount{Name: cloudSQLVolume, MountPath: cloudSQLMountPath})
	}
	return volumes
}

// containerDependencies applies run.googleapis.com/container-dependencies, a JSON object from a
// container name to the names of the containers it starts after.
func (c *knativeConverter) containerDependencies(a *kannotations, containers []*runpb.Container) {
	const key = "run.googleapis.com/container-dependencies"
	v, ok := a.take(key)
	if !ok {
		return
	}
	var deps map[string][]string
	if err := json.Unmarshal([]byte(v), &deps); err != nil {
		a.p.invalid(a.pathOf(key), v, `a JSON object such as '{"app":["proxy"]}'`)
		return
	}
	byName := map[string]*runpb.Container{}
	for _, ct := range containers {
		byName[ct.GetName()] = ct
	}
	for _, name := range slices.Sorted(maps.Keys(deps)) {
		ct, found := byName[name]
		if !found || name == "" {
			a.p.add(a.pathOf(key), "names container %q, which spec.template.spec.containers does not have (containers need a name to have dependencies)", name)
			continue
		}
		ct.DependsOn = deps[name]
	}
}

// templateVolumes converts spec.template.spec.volumes.
func (c *knativeConverter) templateVolumes(list []*kobject) []*runpb.Volume {
	c.volumes = map[string]*runpb.Volume{}
	var out []*runpb.Volume
	for _, o := range list {
		v := &runpb.Volume{Name: o.str("name")}
		if v.Name == "" {
			c.p.add(o.pathOf("name"), "is required: volume mounts refer to volumes by name")
		}
		kinds := 0
		if o.has("secret") {
			kinds++
			v.VolumeType = &runpb.Volume_Secret{Secret: c.secretVolume(o.object("secret"))}
		}
		if o.has("emptyDir") {
			kinds++
			v.VolumeType = &runpb.Volume_EmptyDir{EmptyDir: emptyDir(o.object("emptyDir"))}
		}
		if o.has("nfs") {
			kinds++
			n := o.object("nfs")
			v.VolumeType = &runpb.Volume_Nfs{Nfs: &runpb.NFSVolumeSource{Server: n.str("server"), Path: n.str("path"), ReadOnly: n.boolean("readOnly")}}
			n.done()
		}
		if o.has("csi") {
			kinds++
			v.VolumeType = &runpb.Volume_Gcs{Gcs: c.gcsVolume(o.object("csi"))}
		}
		o.ignore("secret", "emptyDir", "nfs", "csi")
		if kinds != 1 {
			c.p.add(o.path, "needs exactly one of secret, emptyDir, nfs or csi, found %d", kinds)
		}
		o.done()
		c.volumes[v.Name] = v
		out = append(out, v)
	}
	return out
}

func (c *knativeConverter) secretVolume(o *kobject) *runpb.SecretVolumeSource {
	s := &runpb.SecretVolumeSource{
		Secret:      c.secret(o.str("secretName")),
		DefaultMode: int32(o.integer("defaultMode", 0, 0o777)),
	}
	if s.Secret == "" {
		c.p.add(o.pathOf("secretName"), "is required: the name of the Secret Manager secret")
	}
	for _, item := range o.objects("items") {
		s.Items = append(s.Items, &runpb.VersionToPath{
			Version: item.str("key"),
			Path:    item.str("path"),
			Mode:    int32(item.integer("mode", 0, 0o777)),
		})
		item.done()
	}
	o.done()
	return s
}

func emptyDir(o *kobject) *runpb.EmptyDirVolumeSource {
	e := &runpb.EmptyDirVolumeSource{SizeLimit: o.str("sizeLimit")}
	switch medium := o.str("medium"); medium {
	case "Memory":
		e.Medium = runpb.EmptyDirVolumeSource_MEMORY
	case "":
	default:
		o.p.invalid(o.pathOf("medium"), medium, `"Memory" (Cloud Run has only in-memory volumes)`)
	}
	o.done()
	return e
}

func (c *knativeConverter) gcsVolume(o *kobject) *runpb.GCSVolumeSource {
	if driver := o.str("driver"); driver != gcsFuseDriver {
		c.p.invalid(o.pathOf("driver"), driver, strconv.Quote(gcsFuseDriver)+" (a Cloud Storage bucket)")
	}
	g := &runpb.GCSVolumeSource{ReadOnly: o.boolean("readOnly")}
	attrs := o.object("volumeAttributes")
	g.Bucket = attrs.str("bucketName")
	if opts := attrs.str("mountOptions"); opts != "" {
		for opt := range strings.SplitSeq(opts, ",") {
			g.MountOptions = append(g.MountOptions, strings.TrimSpace(opt))
		}
	}
	if g.Bucket == "" {
		c.p.add(attrs.pathOf("bucketName"), "is required: the Cloud Storage bucket to mount")
	}
	attrs.done()
	o.done()
	return g
}

// nodeSelector converts the nodeSelector of a template spec; nil when absent.
func nodeSelector(spec *kobject) *runpb.NodeSelector {
	nodes := spec.object("nodeSelector")
	if nodes.m == nil {
		return nil
	}
	defer nodes.done()
	return &runpb.NodeSelector{Accelerator: nodes.str("run.googleapis.com/accelerator")}
}

// containers converts the containers of a template spec, of which there must be at least one.
func (c *knativeConverter) containers(spec *kobject) []*runpb.Container {
	var out []*runpb.Container
	for _, co := range spec.objects("containers") {
		out = append(out, c.container(co))
	}
	if len(out) == 0 {
		c.p.add(spec.pathOf("containers"), "needs at least one container with an image")
	}
	return out
}

// container converts one of spec.template.spec.containers.
func (c *knativeConverter) container(o *kobject) *runpb.Container {
	ct := &runpb.Container{
		Name:       o.str("name"),
		Image:      o.str("image"),
		Command:    o.strings("command"),
		Args:       o.strings("args"),
		WorkingDir: o.str("workingDir"),
	}
	if ct.Image == "" {
		c.p.add(o.pathOf("image"), "is required: every container needs an image")
	} else if _, err := ParseImage(ct.Image); err != nil {
		c.p.add(o.pathOf("image"), "%v", err)
	}
	for _, e := range o.objects("env") {
		ct.Env = append(ct.Env, c.env(e))
	}
	for _, po := range o.objects("ports") {
		ct.Ports = append(ct.Ports, containerPort(po))
	}
	if r := o.object("resources"); r.m != nil {
		ct.Resources = &runpb.ResourceRequirements{Limits: r.quantities("limits")}
		r.done()
	}
	for _, vm := range o.objects("volumeMounts") {
		ct.VolumeMounts = append(ct.VolumeMounts, c.volumeMount(vm))
	}
	ct.LivenessProbe = probe(o, "livenessProbe")
	ct.ReadinessProbe = probe(o, "readinessProbe")
	ct.StartupProbe = probe(o, "startupProbe")
	o.done()
	return ct
}

func (c *knativeConverter) env(o *kobject) *runpb.EnvVar {
	e := &runpb.EnvVar{Name: o.str("name")}
	if e.Name == "" {
		c.p.add(o.pathOf("name"), "is required")
	}
	switch {
	case o.has("value") && o.has("valueFrom"):
		c.p.add(o.path, "has both value and valueFrom, allowed one of them")
		o.ignore("value", "valueFrom")
	case o.has("valueFrom"):
		from := o.object("valueFrom")
		ref := from.object("secretKeyRef")
		e.Values = &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{SecretKeyRef: &runpb.SecretKeySelector{
			Secret:  c.secret(ref.str("name")),
			Version: ref.str("key"),
		}}}
		if ref.m == nil {
			c.p.add(from.pathOf("secretKeyRef"), "is required: Cloud Run takes environment values only from Secret Manager secrets")
		} else if e.GetValueSource().GetSecretKeyRef().GetSecret() == "" {
			c.p.add(ref.pathOf("name"), "is required: the name of the Secret Manager secret (or an alias of run.googleapis.com/secrets)")
		}
		ref.done()
		from.done()
	default:
		e.Values = &runpb.EnvVar_Value{Value: o.str("value")}
	}
	o.done()
	return e
}

func containerPort(o *kobject) *runpb.ContainerPort {
	p := &runpb.ContainerPort{Name: o.str("name"), ContainerPort: int32(o.integer("containerPort", 1, 65535))}
	if protocol := o.str("protocol"); protocol != "" && protocol != "TCP" {
		o.p.invalid(o.pathOf("protocol"), protocol, `"TCP" (the only protocol of Cloud Run)`)
	}
	o.done()
	return p
}

// volumeMount converts a mount. v2 mounts have no readOnly: secret volumes are always read-only, and
// nfs and Cloud Storage volumes say it themselves, so readOnly: true must agree with the volume.
func (c *knativeConverter) volumeMount(o *kobject) *runpb.VolumeMount {
	m := &runpb.VolumeMount{Name: o.str("name"), MountPath: o.str("mountPath"), SubPath: o.str("subPath")}
	v, found := c.volumes[m.Name]
	if !found {
		c.p.add(o.pathOf("name"), "%q is not a volume of spec.template.spec.volumes", m.Name)
	}
	if o.boolean("readOnly") && found && !readOnlyVolume(v) {
		c.p.add(o.pathOf("readOnly"), "cannot be converted: Cloud Run Admin API v2 sets readOnly on the volume, not on the mount; set readOnly: true on volume %q", m.Name)
	}
	o.done()
	return m
}

func readOnlyVolume(v *runpb.Volume) bool {
	return v.GetSecret() != nil || v.GetNfs().GetReadOnly() || v.GetGcs().GetReadOnly()
}

// probe converts a container's probe under key; nil when absent.
func probe(container *kobject, key string) *runpb.Probe {
	if !container.has(key) {
		container.ignore(key)
		return nil
	}
	o := container.object(key)
	p := &runpb.Probe{
		InitialDelaySeconds: o.integer32("initialDelaySeconds", 0),
		TimeoutSeconds:      o.integer32("timeoutSeconds", 1),
		PeriodSeconds:       o.integer32("periodSeconds", 1),
		FailureThreshold:    o.integer32("failureThreshold", 1),
	}
	if n := o.integer("successThreshold", 0, math.MaxInt32); n > 1 {
		o.p.add(o.pathOf("successThreshold"), "cannot be converted: Cloud Run Admin API v2 probes pass after one success; remove it or set 1")
	}
	actions := 0
	if o.has("httpGet") {
		actions++
		h := o.object("httpGet")
		get := &runpb.HTTPGetAction{Path: h.str("path"), Port: int32(h.integer("port", 1, 65535))}
		for _, header := range h.objects("httpHeaders") {
			get.HttpHeaders = append(get.HttpHeaders, &runpb.HTTPHeader{Name: header.str("name"), Value: header.str("value")})
			header.done()
		}
		h.done()
		p.ProbeType = &runpb.Probe_HttpGet{HttpGet: get}
	}
	if o.has("tcpSocket") {
		actions++
		t := o.object("tcpSocket")
		p.ProbeType = &runpb.Probe_TcpSocket{TcpSocket: &runpb.TCPSocketAction{Port: int32(t.integer("port", 1, 65535))}}
		t.done()
	}
	if o.has("grpc") {
		actions++
		g := o.object("grpc")
		p.ProbeType = &runpb.Probe_Grpc{Grpc: &runpb.GRPCAction{Port: int32(g.integer("port", 1, 65535)), Service: g.str("service")}}
		g.done()
	}
	o.ignore("httpGet", "tcpSocket", "grpc")
	if actions != 1 {
		o.p.add(o.path, "needs exactly one of httpGet, tcpSocket or grpc, found %d", actions)
	}
	o.done()
	return p
}
