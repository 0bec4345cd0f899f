package manifest

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestDecodeRoundTrip checks that the strict field checks accept everything protojson writes
// for a Service using many kinds of fields (enums, maps, oneofs, durations, int64, nested lists).
func TestDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	want := &runpb.Service{
		Name:        "hello",
		Description: "demo",
		Labels:      map[string]string{"team": "web"},
		Annotations: map[string]string{"run.googleapis.com/ingress-status": "all"},
		Ingress:     runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_ONLY,
		Template: &runpb.RevisionTemplate{
			Labels:                        map[string]string{"tier": "front"},
			Scaling:                       &runpb.RevisionScaling{MinInstanceCount: 1, MaxInstanceCount: 5},
			Timeout:                       durationpb.New(90_500_000_000),
			ServiceAccount:                "sa@p.iam.gserviceaccount.com",
			ExecutionEnvironment:          runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN2,
			MaxInstanceRequestConcurrency: 40,
			SessionAffinity:               true,
			VpcAccess:                     &runpb.VpcAccess{Egress: runpb.VpcAccess_ALL_TRAFFIC, NetworkInterfaces: []*runpb.VpcAccess_NetworkInterface{{Network: "n", Subnetwork: "s", Tags: []string{"a"}}}},
			Volumes: []*runpb.Volume{
				{Name: "cfg", VolumeType: &runpb.Volume_Secret{Secret: &runpb.SecretVolumeSource{Secret: "s", Items: []*runpb.VersionToPath{{Path: "p", Version: "1", Mode: 0o400}}}}},
				{Name: "tmp", VolumeType: &runpb.Volume_EmptyDir{EmptyDir: &runpb.EmptyDirVolumeSource{Medium: runpb.EmptyDirVolumeSource_MEMORY, SizeLimit: "64Mi"}}},
			},
			Containers: []*runpb.Container{
				{
					Name:    "app",
					Image:   "localhost:5000/hello:v1",
					Command: []string{"/app"},
					Args:    []string{"--port", "8080"},
					Env: []*runpb.EnvVar{
						{Name: "A", Values: &runpb.EnvVar_Value{Value: "1"}},
						{Name: "B", Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{SecretKeyRef: &runpb.SecretKeySelector{Secret: "s", Version: "latest"}}}},
					},
					Resources:    &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "1", "memory": "512Mi"}, CpuIdle: true, StartupCpuBoost: true},
					Ports:        []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}},
					VolumeMounts: []*runpb.VolumeMount{{Name: "cfg", MountPath: "/cfg"}},
					StartupProbe: &runpb.Probe{
						InitialDelaySeconds: 1, TimeoutSeconds: 2, PeriodSeconds: 3, FailureThreshold: 4,
						ProbeType: &runpb.Probe_HttpGet{HttpGet: &runpb.HTTPGetAction{Path: "/healthz", Port: 8080, HttpHeaders: []*runpb.HTTPHeader{{Name: "X", Value: "y"}}}},
					},
					LivenessProbe: &runpb.Probe{ProbeType: &runpb.Probe_Grpc{Grpc: &runpb.GRPCAction{Port: 8081, Service: "health"}}},
					DependsOn:     []string{"side"},
				},
				{Name: "side", Image: "gcr.io/p/side@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			},
		},
		Traffic: []*runpb.TrafficTarget{
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100},
			{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "hello-1", Tag: "blue"},
		},
		Scaling:            &runpb.ServiceScaling{MinInstanceCount: 1},
		InvokerIamDisabled: true,
	}
	for _, opts := range []protojson.MarshalOptions{{}, {UseProtoNames: true}, {UseEnumNumbers: false, EmitUnpopulated: false}} {
		data, err := opts.Marshal(want)
		require.NoError(t, err)
		m, err := Decode("svc.json", data)
		require.NoError(t, err, "%s", data)
		assert.True(t, proto.Equal(want, m.Proto()), "%s", data)
	}
}
