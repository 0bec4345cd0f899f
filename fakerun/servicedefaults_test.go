package fakerun

import (
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/google/go-cmp/cmp"
)

func TestServiceServerDefaults(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, _ *Server, c clients) {
		svc := mustCreateService(t, c, "svc", "img:1")

		assert.Equal(t, runpb.ServiceScaling_AUTOMATIC, svc.GetScaling().GetScalingMode())
		tmpl := svc.GetTemplate()
		assert.Equal(t, 300*time.Second, tmpl.GetTimeout().AsDuration())
		assert.Equal(t, int32(100), tmpl.GetScaling().GetMaxInstanceCount())
		assert.Equal(t, int32(80), tmpl.GetMaxInstanceRequestConcurrency())
		want := &runpb.Container{
			Image:     "img:1",
			Ports:     []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}},
			Resources: &runpb.ResourceRequirements{CpuIdle: true, Limits: map[string]string{"cpu": "1000m", "memory": "512Mi"}},
			StartupProbe: &runpb.Probe{TimeoutSeconds: 240, PeriodSeconds: 240, FailureThreshold: 1,
				ProbeType: &runpb.Probe_TcpSocket{TcpSocket: &runpb.TCPSocketAction{Port: 8080}}},
		}
		require.Len(t, tmpl.GetContainers(), 1)
		assert.Empty(t, cmp.Diff(want, tmpl.GetContainers()[0], protocmp.Transform()))

		t.Run("success: writing the same template without the defaults again is a no-op", func(t *testing.T) {
			got, err := update(t, c, &runpb.Service{Name: testSvc, Template: template("img:1"), Traffic: svc.GetTraffic()})
			require.NoError(t, err)
			assert.Equal(t, svc.GetGeneration(), got.GetGeneration())
			assert.Equal(t, svc.GetLatestCreatedRevision(), got.GetLatestCreatedRevision())
		})
	})
}

func TestServiceServerDefaultsKeepWhatIsSet(t *testing.T) {
	t.Parallel()
	_, c := newFake(t)
	in := &runpb.Service{
		Scaling: &runpb.ServiceScaling{ScalingMode: runpb.ServiceScaling_MANUAL, ManualInstanceCount: proto.Int32(2)},
		Template: &runpb.RevisionTemplate{
			Timeout:              durationpb.New(30 * time.Second),
			HealthCheckDisabled:  true,
			ExecutionEnvironment: runpb.ExecutionEnvironment_EXECUTION_ENVIRONMENT_GEN2,
			Containers: []*runpb.Container{
				{Name: "app", Image: "img:1", Ports: []*runpb.ContainerPort{{ContainerPort: 9000}},
					Resources:      &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "500m"}},
					ReadinessProbe: &runpb.Probe{PeriodSeconds: 5, ProbeType: &runpb.Probe_HttpGet{HttpGet: &runpb.HTTPGetAction{Path: "/ready"}}}},
				{Name: "sidecar", Image: "img:2"},
			},
		},
	}
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "svc", Service: in})
	require.NoError(t, err)
	svc, err := op.Wait(t.Context())
	require.NoError(t, err)

	tmpl := svc.GetTemplate()
	assert.Equal(t, runpb.ServiceScaling_MANUAL, svc.GetScaling().GetScalingMode())
	assert.Nil(t, tmpl.GetScaling(), "no maximum instances with manual scaling")
	assert.Equal(t, 30*time.Second, tmpl.GetTimeout().AsDuration())
	assert.Equal(t, int32(1), tmpl.GetMaxInstanceRequestConcurrency(), "below 1 CPU, concurrency 1")
	app, sidecar := tmpl.GetContainers()[0], tmpl.GetContainers()[1]
	assert.False(t, app.GetResources().GetCpuIdle(), "resources set: cpu_idle as written")
	assert.Equal(t, map[string]string{"cpu": "500m", "memory": "512Mi"}, app.GetResources().GetLimits())
	assert.Nil(t, app.GetStartupProbe(), "no default startup probe with health checks disabled")
	want := &runpb.Probe{TimeoutSeconds: 1, PeriodSeconds: 5, FailureThreshold: 3,
		ProbeType: &runpb.Probe_HttpGet{HttpGet: &runpb.HTTPGetAction{Path: "/ready", Port: 9000}}}
	assert.Empty(t, cmp.Diff(want, app.GetReadinessProbe(), protocmp.Transform()))
	assert.Empty(t, sidecar.GetPorts(), "a sidecar gets no port")
	assert.True(t, sidecar.GetResources().GetCpuIdle())
}
