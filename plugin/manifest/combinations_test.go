package manifest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateCombinations(t *testing.T) {
	t.Parallel()
	const gpuTemplate = "template: {nodeSelector: {accelerator: nvidia-l4}, containers: [{image: a, resources: {cpuIdle: false, limits: {cpu: '4', memory: 16Gi, nvidia.com/gpu: '1'}}}]}\n"
	testcases := []struct {
		name    string
		data    string
		wantErr string
	}{
		{name: "success: manual scaling", data: "scaling: {scalingMode: MANUAL, manualInstanceCount: 3}\ntemplate: {containers: [{image: a}]}\n"},
		{name: "success: automatic scaling with min and max", data: "scaling: {scalingMode: AUTOMATIC, minInstanceCount: 1, maxInstanceCount: 4}\ntemplate: {containers: [{image: a}]}\n"},
		{name: "fail: manual scaling with a minimum", data: "scaling: {scalingMode: MANUAL, manualInstanceCount: 3, minInstanceCount: 1}\ntemplate: {containers: [{image: a}]}\n",
			wantErr: `manifest svc.yaml: field "scaling.minInstanceCount" is 1 with scaling.scalingMode MANUAL, allowed only with AUTOMATIC scaling`},
		{name: "fail: manual scaling with a maximum", data: "scaling: {scalingMode: MANUAL, maxInstanceCount: 5}\ntemplate: {containers: [{image: a}]}\n",
			wantErr: `field "scaling.maxInstanceCount" is 5 with scaling.scalingMode MANUAL`},
		{name: "success: sidecars with one ingress container", data: "template: {containers: [{name: app, image: a, ports: [{containerPort: 8080}]}, {name: proxy, image: b}]}\n"},
		{name: "success: one container without a port", data: "template: {containers: [{image: a}]}\n"},
		{name: "fail: sidecars without an ingress container", data: "template: {containers: [{image: a}, {image: b}]}\n",
			wantErr: `field "template.containers" has 2 containers and 0 of them declare a port, allowed exactly one with a port`},
		{name: "fail: two ingress containers", data: "template: {containers: [{image: a, ports: [{containerPort: 1}]}, {image: b, ports: [{containerPort: 2}]}]}\n",
			wantErr: `has 2 containers and 2 of them declare a port`},
		{name: "fail: two ports", data: "template: {containers: [{image: a, ports: [{containerPort: 1}, {containerPort: 2}]}]}\n",
			wantErr: `field "template.containers[0].ports" has 2 ports, allowed one`},
		{name: "success: GPU", data: gpuTemplate},
		{name: "success: GPU with quantities written otherwise", data: "template: {nodeSelector: {accelerator: nvidia-l4}, containers: [{image: a, resources: {limits: {cpu: 8000m, memory: 32768Mi, nvidia.com/gpu: '1'}}}]}\n"},
		{name: "fail: GPU with CPU only allocated during requests", data: "template: {nodeSelector: {accelerator: nvidia-l4}, containers: [{image: a, resources: {cpuIdle: true, limits: {cpu: '4', memory: 16Gi, nvidia.com/gpu: '1'}}}]}\n",
			wantErr: `field "template.containers[0].resources.cpuIdle" is true with a GPU, allowed false: a GPU needs CPU always allocated`},
		{name: "fail: GPU with 2 CPU", data: "template: {nodeSelector: {accelerator: nvidia-l4}, containers: [{image: a, resources: {limits: {cpu: '2', memory: 16Gi, nvidia.com/gpu: '1'}}}]}\n",
			wantErr: `field "template.containers[0].resources.limits[\"cpu\"]" is "2" with a GPU, allowed at least "4"`},
		{name: "fail: GPU with the default memory", data: "template: {nodeSelector: {accelerator: nvidia-l4}, containers: [{image: a, resources: {limits: {cpu: '4', nvidia.com/gpu: '1'}}}]}\n",
			wantErr: `field "template.containers[0].resources.limits[\"memory\"]" is not set (Cloud Run's default is 1 CPU and 512Mi) with a GPU, allowed at least "16Gi"`},
		{name: "fail: two GPUs", data: "template: {nodeSelector: {accelerator: nvidia-l4}, containers: [{image: a, resources: {limits: {cpu: '4', memory: 16Gi, nvidia.com/gpu: '2'}}}]}\n",
			wantErr: `field "template.containers[0].resources.limits[\"nvidia.com/gpu\"]" is "2", allowed "1"`},
		{name: "fail: GPU on two containers", data: "template: {nodeSelector: {accelerator: nvidia-l4}, containers: [{image: a, ports: [{containerPort: 8080}], resources: {limits: {cpu: '4', memory: 16Gi, nvidia.com/gpu: '1'}}}, {image: b, resources: {limits: {nvidia.com/gpu: '1'}}}]}\n",
			wantErr: `containers 0 and 1 both have the limit "nvidia.com/gpu", allowed one`},
		{name: "fail: GPU without an accelerator", data: "template: {containers: [{image: a, resources: {limits: {cpu: '4', memory: 16Gi, nvidia.com/gpu: '1'}}}]}\n",
			wantErr: `field "template.nodeSelector.accelerator" is required with a GPU, allowed a GPU type such as "nvidia-l4"`},
		{name: "fail: accelerator without a GPU", data: "template: {nodeSelector: {accelerator: nvidia-l4}, containers: [{image: a}]}\n",
			wantErr: `field "template.nodeSelector.accelerator" is "nvidia-l4" but no container has the limit "nvidia.com/gpu": "1"`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode("svc.yaml", []byte("name: s\n"+tc.data))
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}
