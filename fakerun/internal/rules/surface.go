package rules

import (
	"fmt"
	"regexp"
	"strconv"

	"cloud.google.com/go/run/apiv2/runpb"
)

// The rules of the 2024-26 service fields (scaling modes, sidecars, GPUs), each citing its source in the
// README (Documented rules and their sources).

// gpuLimit is the resource limit that attaches a GPU to a container.
const gpuLimit = "nvidia.com/gpu"

// The minimum CPU and memory of an instance with a GPU ("a minimum of 4 CPU and 16 GiB of memory").
const (
	gpuMinCPU    = 4
	gpuMinMemory = 16 << 30
)

// ValidateServiceFields checks a service's scaling, its containers' ports and its GPU.
func ValidateServiceFields(svc *runpb.Service) error {
	if s := svc.GetScaling(); s.GetScalingMode() == runpb.ServiceScaling_MANUAL && (s.GetMinInstanceCount() != 0 || s.GetMaxInstanceCount() != 0) {
		return InvalidArgument("service.scaling", "minimum and maximum instances cannot be set with manual scaling; set manual_instance_count")
	}
	containers := svc.GetTemplate().GetContainers()
	ingress := 0
	for i, c := range containers {
		if len(c.GetPorts()) > 1 {
			return InvalidArgument(fmt.Sprintf("service.template.containers[%d].ports", i), "only a single port can be specified")
		}
		ingress += len(c.GetPorts())
	}
	if len(containers) > 1 && ingress != 1 {
		return InvalidArgument("service.template.containers", fmt.Sprintf("exactly one container must specify a port (the ingress container), got %d of %d", ingress, len(containers)))
	}
	return validateGPU(svc.GetTemplate())
}

// validateGPU checks a GPU: one per instance, on one container, with an accelerator, CPU always allocated,
// at least 4 CPU and 16 GiB.
func validateGPU(t *runpb.RevisionTemplate) error {
	gpu := -1
	for i, c := range t.GetContainers() {
		v, ok := c.GetResources().GetLimits()[gpuLimit]
		if !ok {
			continue
		}
		at := fmt.Sprintf("service.template.containers[%d].resources.limits", i)
		if v != "1" {
			return InvalidArgument(at, fmt.Sprintf("the only supported %s value is '1', got %q", gpuLimit, v))
		}
		if gpu >= 0 {
			return InvalidArgument(at, "the GPU can only be attached to one container")
		}
		gpu = i
	}
	accelerator := t.GetNodeSelector().GetAccelerator()
	switch {
	case gpu < 0 && accelerator != "":
		return InvalidArgument("service.template.node_selector.accelerator", "an accelerator needs a container with the "+gpuLimit+" limit")
	case gpu < 0:
		return nil
	case accelerator == "":
		return InvalidArgument("service.template.node_selector.accelerator", "a GPU needs an accelerator type, such as nvidia-l4")
	}
	res := t.GetContainers()[gpu].GetResources()
	at := fmt.Sprintf("service.template.containers[%d].resources", gpu)
	if res.GetCpuIdle() {
		return InvalidArgument(at+".cpu_idle", "a GPU needs CPU always allocated (instance-based billing)")
	}
	if cpu, ok := Quantity(res.GetLimits()["cpu"]); !ok || cpu < gpuMinCPU {
		return InvalidArgument(at+".limits", "a GPU needs at least 4 CPU")
	}
	if mem, ok := Quantity(res.GetLimits()["memory"]); !ok || mem < gpuMinMemory {
		return InvalidArgument(at+".limits", "a GPU needs at least 16Gi of memory")
	}
	return nil
}

var quantityPattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$`)

var quantitySuffixes = map[string]float64{
	"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
}

// Quantity is the amount of a resource quantity such as "4", "4000m" or "16Gi".
func Quantity(s string) (float64, bool) {
	m := quantityPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseFloat(m[1], 64)
	return n * quantitySuffixes[m[2]], err == nil
}
