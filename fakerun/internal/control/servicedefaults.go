package control

import (
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The server defaults of a service's revision template, as Cloud Run fills them in what it stores and
// reports (sources in fakerun's README, "Server defaults").
const (
	defaultRequestTimeout = 300 * time.Second // RevisionSpec.timeoutSeconds: "defaults to 300 seconds"
	defaultMaxInstances   = 100               // RevisionScaling.max_instance_count: "the server default value of 100"
	defaultPort           = 8080              // the container runtime contract's PORT
	defaultCPU            = "1000m"           // 1 CPU per instance
	defaultMemory         = "512Mi"           // 512 MiB per instance
	// Probe: "Defaults to 1 second", "Default to 10 seconds", "Defaults to 3".
	defaultProbeTimeout, defaultProbePeriod, defaultProbeFailures = 1, 10, 3
	// The default TCP startup probe: timeoutSeconds 240, periodSeconds 240, failureThreshold 1.
	defaultStartupSeconds = 240
)

// applyServiceDefaults fills the server defaults of svc, validated, that its writer left unset: the
// scaling mode, and in the template the request timeout, the maximum instances (automatic scaling), the
// port, CPU and memory of the containers (CPU idle when resources are unset), the fields of each probe and
// the default TCP startup probe of the ingress container (unless health checks are disabled), and the
// request concurrency (80, or 1 below 1 CPU).
func applyServiceDefaults(svc *runpb.Service) {
	if svc.GetScaling().GetScalingMode() == runpb.ServiceScaling_SCALING_MODE_UNSPECIFIED {
		if svc.Scaling == nil {
			svc.Scaling = &runpb.ServiceScaling{}
		}
		svc.Scaling.ScalingMode = runpb.ServiceScaling_AUTOMATIC
	}
	t := svc.GetTemplate()
	if t == nil {
		return
	}
	if t.Timeout == nil {
		t.Timeout = durationpb.New(defaultRequestTimeout)
	}
	if svc.GetScaling().GetScalingMode() == runpb.ServiceScaling_AUTOMATIC && t.GetScaling().GetMaxInstanceCount() == 0 {
		if t.Scaling == nil {
			t.Scaling = &runpb.RevisionScaling{}
		}
		t.Scaling.MaxInstanceCount = defaultMaxInstances
	}
	if len(t.GetContainers()) == 1 && len(t.Containers[0].GetPorts()) == 0 {
		t.Containers[0].Ports = []*runpb.ContainerPort{{Name: "http1", ContainerPort: defaultPort}}
	}
	for _, c := range t.GetContainers() {
		containerDefaults(c, !t.GetHealthCheckDisabled())
	}
	if t.GetMaxInstanceRequestConcurrency() == 0 {
		t.MaxInstanceRequestConcurrency = 80
		if ingress := ingressContainer(t); ingress != nil && belowOneCPU(ingress.GetResources().GetLimits()["cpu"]) {
			t.MaxInstanceRequestConcurrency = 1
		}
	}
}

// containerDefaults fills the defaults of one container: the ingress container (the one with a port)
// gets the default startup probe when startup is true.
func containerDefaults(c *runpb.Container, startup bool) {
	if c.Resources == nil {
		c.Resources = &runpb.ResourceRequirements{CpuIdle: true}
	}
	if c.Resources.Limits == nil {
		c.Resources.Limits = map[string]string{}
	}
	if c.Resources.Limits["cpu"] == "" {
		c.Resources.Limits["cpu"] = defaultCPU
	}
	if c.Resources.Limits["memory"] == "" {
		c.Resources.Limits["memory"] = defaultMemory
	}
	var port int32
	if len(c.GetPorts()) > 0 {
		port = c.Ports[0].GetContainerPort()
		if port == 0 {
			port = defaultPort
			c.Ports[0].ContainerPort = port
		}
		if c.StartupProbe == nil && startup {
			c.StartupProbe = &runpb.Probe{TimeoutSeconds: defaultStartupSeconds, PeriodSeconds: defaultStartupSeconds, FailureThreshold: 1,
				ProbeType: &runpb.Probe_TcpSocket{TcpSocket: &runpb.TCPSocketAction{}}}
		}
	}
	for _, p := range []*runpb.Probe{c.GetStartupProbe(), c.GetLivenessProbe(), c.GetReadinessProbe()} {
		probeDefaults(p, port)
	}
}

// probeDefaults fills the unset timing of p and, when the container has one, its port.
func probeDefaults(p *runpb.Probe, port int32) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = defaultProbeTimeout
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = defaultProbePeriod
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = defaultProbeFailures
	}
	if port == 0 {
		return
	}
	switch a := p.GetProbeType().(type) {
	case *runpb.Probe_HttpGet:
		if a.HttpGet.GetPort() == 0 {
			a.HttpGet.Port = port
		}
	case *runpb.Probe_TcpSocket:
		if a.TcpSocket.GetPort() == 0 {
			a.TcpSocket.Port = port
		}
	case *runpb.Probe_Grpc:
		if a.Grpc.GetPort() == 0 {
			a.Grpc.Port = port
		}
	}
}

// belowOneCPU reports whether a CPU limit is a quantity below 1 CPU.
func belowOneCPU(limit string) bool {
	cpu, ok := rules.Quantity(limit)
	return ok && cpu < 1
}
