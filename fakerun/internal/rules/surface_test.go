package rules

import (
	"fmt"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

func TestValidateServiceFields(t *testing.T) {
	t.Parallel()
	const gpu = `{"nodeSelector": {"accelerator": "nvidia-l4"}, "containers": [{"image": "a", "resources": {"cpuIdle": %s, "limits": {"cpu": "%s", "memory": "%s", "nvidia.com/gpu": "%s"}}}]}`
	testcases := []struct {
		name    string
		svc     string
		wantErr string
	}{
		{name: "success: manual scaling", svc: `{"scaling": {"scalingMode": "MANUAL", "manualInstanceCount": 2}, "template": {"containers": [{"image": "a"}]}}`},
		{name: "fail: manual scaling with a minimum", svc: `{"scaling": {"scalingMode": "MANUAL", "minInstanceCount": 1}, "template": {"containers": [{"image": "a"}]}}`,
			wantErr: "minimum and maximum instances cannot be set with manual scaling"},
		{name: "success: sidecars with one ingress container", svc: `{"template": {"containers": [{"image": "a", "ports": [{"containerPort": 8080}]}, {"image": "b"}]}}`},
		{name: "fail: sidecars without an ingress container", svc: `{"template": {"containers": [{"image": "a"}, {"image": "b"}]}}`,
			wantErr: "exactly one container must specify a port (the ingress container), got 0 of 2"},
		{name: "fail: two ports", svc: `{"template": {"containers": [{"image": "a", "ports": [{"containerPort": 1}, {"containerPort": 2}]}]}}`,
			wantErr: "only a single port can be specified"},
		{name: "success: GPU", svc: `{"template": ` + fmt.Sprintf(gpu, "false", "4", "16Gi", "1") + `}`},
		{name: "success: GPU with quantities written otherwise", svc: `{"template": ` + fmt.Sprintf(gpu, "false", "8000m", "32768Mi", "1") + `}`},
		{name: "fail: GPU with CPU throttled", svc: `{"template": ` + fmt.Sprintf(gpu, "true", "4", "16Gi", "1") + `}`, wantErr: "a GPU needs CPU always allocated"},
		{name: "fail: GPU with 2 CPU", svc: `{"template": ` + fmt.Sprintf(gpu, "false", "2", "16Gi", "1") + `}`, wantErr: "a GPU needs at least 4 CPU"},
		{name: "fail: GPU with 8Gi", svc: `{"template": ` + fmt.Sprintf(gpu, "false", "4", "8Gi", "1") + `}`, wantErr: "a GPU needs at least 16Gi of memory"},
		{name: "fail: two GPUs", svc: `{"template": ` + fmt.Sprintf(gpu, "false", "4", "16Gi", "2") + `}`, wantErr: "the only supported nvidia.com/gpu value is '1'"},
		{name: "fail: GPU on two containers", svc: `{"template": {"nodeSelector": {"accelerator": "nvidia-l4"}, "containers": [` +
			`{"image": "a", "ports": [{"containerPort": 8080}], "resources": {"cpuIdle": false, "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}}},` +
			`{"image": "b", "resources": {"cpuIdle": false, "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}}}]}}`,
			wantErr: "Invalid value for field 'service.template.containers[1].resources.limits': the GPU can only be attached to one container"},
		{name: "fail: accelerator without a GPU", svc: `{"template": {"nodeSelector": {"accelerator": "nvidia-l4"}, "containers": [{"image": "a"}]}}`,
			wantErr: "an accelerator needs a container with the nvidia.com/gpu limit"},
		{name: "fail: GPU without an accelerator", svc: `{"template": {"containers": [{"image": "a", "resources": {"limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}}}]}}`,
			wantErr: "a GPU needs an accelerator type"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := &runpb.Service{}
			require.NoError(t, protojson.Unmarshal([]byte(tc.svc), svc))
			err := ValidateServiceFields(svc)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, codes.InvalidArgument, status.Code(err))
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// TestInvalidArgumentNamesTheField: clients read the field from the google.rpc.BadRequest detail, as Cloud Run
// sends it.
func TestInvalidArgumentNamesTheField(t *testing.T) {
	t.Parallel()
	st := status.Convert(InvalidArgument("service.template.timeout", "must be at most 3600s"))
	assert.Equal(t, codes.InvalidArgument, st.Code())
	assert.Equal(t, "Invalid value for field 'service.template.timeout': must be at most 3600s", st.Message())
	require.Len(t, st.Details(), 1)
	bad, ok := st.Details()[0].(*errdetails.BadRequest)
	require.True(t, ok, "%T", st.Details()[0])
	require.Len(t, bad.GetFieldViolations(), 1)
	assert.Equal(t, "service.template.timeout", bad.GetFieldViolations()[0].GetField())
	assert.Equal(t, "must be at most 3600s", bad.GetFieldViolations()[0].GetDescription())
}
