package manifest

import (
	"fmt"
	"regexp"
	"strconv"

	"cloud.google.com/go/run/apiv2/runpb"
)

// Combinations of fields that Cloud Run documents as invalid, or that it would silently change (so that
// live state would report drift forever), refused before anything is written. Each rule names its source.

// gpuLimit is the resource limit that attaches a GPU to a container.
const gpuLimit = "nvidia.com/gpu"

// Minimum CPU and memory of an instance with a GPU
// (https://cloud.google.com/run/docs/configuring/services/gpu: "a minimum of 4 CPU and 16 GiB of memory").
const (
	gpuMinCPU    = 4
	gpuMinMemory = 16 << 30
)

// validateCombinations checks the service's scaling, containers and GPU settings.
func validateCombinations(file string, svc *runpb.Service) error {
	if err := validateScaling(file, svc.GetScaling()); err != nil {
		return err
	}
	containers := svc.GetTemplate().GetContainers()
	if err := validatePorts(file, containers); err != nil {
		return err
	}
	return validateGPU(file, svc.GetTemplate())
}

// validateScaling refuses minimum or maximum instances with manual scaling: Cloud Run unsets them when a
// service switches to manual scaling (https://cloud.google.com/run/docs/configuring/services/manual-scaling),
// so they would never be what the manifest says.
func validateScaling(file string, s *runpb.ServiceScaling) error {
	if s.GetScalingMode() != runpb.ServiceScaling_MANUAL {
		return nil
	}
	for field, v := range map[string]int32{"scaling.minInstanceCount": s.GetMinInstanceCount(), "scaling.maxInstanceCount": s.GetMaxInstanceCount()} {
		if v != 0 {
			return fileErrorf(file, "field %q is %d with scaling.scalingMode MANUAL, allowed only with AUTOMATIC scaling: "+
				"in manual mode Cloud Run runs scaling.manualInstanceCount instances and unsets the minimum and maximum", field, v)
		}
	}
	return nil
}

// validatePorts refuses a container with more than one port ("Only a single port can be specified", Cloud
// Run Admin API v2 Container.ports) and, with several containers, anything but exactly one container with
// a port: the ingress container, the only one that receives requests
// (https://cloud.google.com/run/docs/deploying#sidecars).
func validatePorts(file string, containers []*runpb.Container) error {
	var ingress []int
	for i, c := range containers {
		if n := len(c.GetPorts()); n > 1 {
			return fileErrorf(file, "field %q has %d ports, allowed one: Cloud Run sends requests to a single port", fmt.Sprintf("template.containers[%d].ports", i), n)
		}
		if len(c.GetPorts()) == 1 {
			ingress = append(ingress, i)
		}
	}
	if len(containers) > 1 && len(ingress) != 1 {
		return fileErrorf(file, "field %q has %d containers and %d of them declare a port, allowed exactly one with a port: "+
			"the ingress container, which receives the requests (the others are sidecars)", "template.containers", len(containers), len(ingress))
	}
	return nil
}

// validateGPU checks a GPU (https://cloud.google.com/run/docs/configuring/services/gpu): one per instance,
// attached to one container with the limit nvidia.com/gpu "1", with an accelerator type in
// template.nodeSelector, CPU always allocated, and at least 4 CPU and 16 GiB of memory.
func validateGPU(file string, t *runpb.RevisionTemplate) error {
	var gpu []int
	for i, c := range t.GetContainers() {
		if v, ok := c.GetResources().GetLimits()[gpuLimit]; ok {
			path := fmt.Sprintf("template.containers[%d].resources.limits[%q]", i, gpuLimit)
			if v != "1" {
				return fileErrorf(file, "field %q is %q, allowed \"1\": an instance has one GPU", path, v)
			}
			gpu = append(gpu, i)
		}
	}
	accelerator := t.GetNodeSelector().GetAccelerator()
	switch {
	case len(gpu) == 0 && accelerator != "":
		return fileErrorf(file, "field %q is %q but no container has the limit %q: \"1\", allowed an accelerator only with a GPU attached to one container",
			"template.nodeSelector.accelerator", accelerator, gpuLimit)
	case len(gpu) == 0:
		return nil
	case len(gpu) > 1:
		return fileErrorf(file, "containers %d and %d both have the limit %q, allowed one: the GPU is attached to one container", gpu[0], gpu[1], gpuLimit)
	case accelerator == "":
		return fileErrorf(file, "field %q is required with a GPU, allowed a GPU type such as \"nvidia-l4\"", "template.nodeSelector.accelerator")
	}
	i := gpu[0]
	res := t.GetContainers()[i].GetResources()
	if res.GetCpuIdle() {
		return fileErrorf(file, "field %q is true with a GPU, allowed false: a GPU needs CPU always allocated (instance-based billing)", fmt.Sprintf("template.containers[%d].resources.cpuIdle", i))
	}
	if cpu, ok := quantity(res.GetLimits()["cpu"]); !ok || cpu < gpuMinCPU {
		return fileErrorf(file, "field %q is %s with a GPU, allowed at least \"4\"", fmt.Sprintf("template.containers[%d].resources.limits[\"cpu\"]", i), orUnset(res.GetLimits()["cpu"]))
	}
	if mem, ok := quantity(res.GetLimits()["memory"]); !ok || mem < gpuMinMemory {
		return fileErrorf(file, "field %q is %s with a GPU, allowed at least \"16Gi\"", fmt.Sprintf("template.containers[%d].resources.limits[\"memory\"]", i), orUnset(res.GetLimits()["memory"]))
	}
	return nil
}

func orUnset(v string) string {
	if v == "" {
		return "not set (Cloud Run's default is 1 CPU and 512Mi)"
	}
	return strconv.Quote(v)
}

var quantityPattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$`)

var quantitySuffixes = map[string]float64{
	"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
}

// quantity is the amount of a resource quantity such as "4", "4000m" or "16Gi".
func quantity(s string) (float64, bool) {
	m := quantityPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseFloat(m[1], 64)
	return n * quantitySuffixes[m[2]], err == nil
}
