package fakerun

import (
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestDocumentedLimits checks both sides of every documented limit of the
// fields a deployment sets: the value at the limit is accepted, the value
// past it is INVALID_ARGUMENT naming the field.
func TestDocumentedLimits(t *testing.T) {
	t.Parallel()
	_, c := newFake(t)
	many := func(n int, key func(int) string) map[string]string {
		m := make(map[string]string, n)
		for i := range n {
			m[key(i)] = "v"
		}
		return m
	}
	env := func(vars ...*runpb.EnvVar) func(*runpb.Service) {
		return func(s *runpb.Service) { s.Template.Containers[0].Env = vars }
	}
	envVar := func(name, value string) *runpb.EnvVar {
		return &runpb.EnvVar{Name: name, Values: &runpb.EnvVar_Value{Value: value}}
	}
	manyEnv := func(n int) []*runpb.EnvVar {
		vars := make([]*runpb.EnvVar, n)
		for i := range vars {
			vars[i] = envVar(fmt.Sprintf("V%d", i), "x")
		}
		return vars
	}
	bigAnnotations := func(total int) map[string]string {
		return map[string]string{"example.com/a": strings.Repeat("x", total-len("example.com/a"))}
	}
	testcases := []struct {
		name      string
		edit      func(*runpb.Service)
		wantField string // empty: accepted
	}{
		{name: "success: description of 512 characters", edit: func(s *runpb.Service) { s.Description = strings.Repeat("é", 512) }},
		{name: "fail: description of 513 characters", edit: func(s *runpb.Service) { s.Description = strings.Repeat("é", 513) }, wantField: "service.description"},

		{name: "success: 64 labels", edit: func(s *runpb.Service) { s.Labels = many(64, func(i int) string { return fmt.Sprintf("k%d", i) }) }},
		{name: "fail: 65 labels", edit: func(s *runpb.Service) { s.Labels = many(65, func(i int) string { return fmt.Sprintf("k%d", i) }) }, wantField: "service.labels"},
		{name: "success: label key and value of 63 characters", edit: func(s *runpb.Service) { s.Labels = map[string]string{strings.Repeat("k", 63): strings.Repeat("v", 63)} }},
		{name: "fail: label key of 64 characters", edit: func(s *runpb.Service) { s.Labels = map[string]string{strings.Repeat("k", 64): "v"} }, wantField: "service.labels"},
		{name: "fail: label value of 64 characters", edit: func(s *runpb.Service) { s.Labels = map[string]string{"k": strings.Repeat("v", 64)} }, wantField: "service.labels"},
		{name: "success: international label", edit: func(s *runpb.Service) { s.Labels = map[string]string{"équipe_1": "café-2"} }},
		{name: "fail: label key with upper case", edit: func(s *runpb.Service) { s.Labels = map[string]string{"Team": "a"} }, wantField: "service.labels"},
		{name: "fail: label key starting with a digit", edit: func(s *runpb.Service) { s.Labels = map[string]string{"1team": "a"} }, wantField: "service.labels"},
		{name: "fail: label value with a dot", edit: func(s *runpb.Service) { s.Labels = map[string]string{"team": "a.b"} }, wantField: "service.labels"},
		{name: "fail: reserved label namespace", edit: func(s *runpb.Service) { s.Labels = map[string]string{"run.googleapis.com/x": "a"} }, wantField: "service.labels"},
		{name: "fail: reserved template label namespace", edit: func(s *runpb.Service) { s.Template.Labels = map[string]string{"serving.knative.dev/x": "a"} }, wantField: "service.template.labels"},

		{name: "success: annotation outside the reserved namespaces", edit: func(s *runpb.Service) { s.Annotations = map[string]string{"example.com/owner": "web", "note": "x"} }},
		{name: "fail: reserved annotation namespace", edit: func(s *runpb.Service) { s.Annotations = map[string]string{"run.googleapis.com/ingress": "all"} }, wantField: "service.annotations"},
		{name: "fail: reserved annotation subdomain", edit: func(s *runpb.Service) { s.Annotations = map[string]string{"features.run.googleapis.com/x": "y"} }, wantField: "service.annotations"},
		{name: "fail: reserved template annotation namespace", edit: func(s *runpb.Service) {
			s.Template.Annotations = map[string]string{"autoscaling.knative.dev/maxScale": "2"}
		}, wantField: "service.template.annotations"},
		{name: "fail: cloud.googleapis.com annotation", edit: func(s *runpb.Service) { s.Annotations = map[string]string{"cloud.googleapis.com/location": "x"} }, wantField: "service.annotations"},
		{name: "success: annotation name of 63 characters", edit: func(s *runpb.Service) {
			s.Annotations = map[string]string{"example.com/" + strings.Repeat("a", 63): ""}
		}},
		{name: "fail: annotation name of 64 characters", edit: func(s *runpb.Service) {
			s.Annotations = map[string]string{"example.com/" + strings.Repeat("a", 64): ""}
		}, wantField: "service.annotations"},
		{name: "fail: annotation prefix not a DNS subdomain", edit: func(s *runpb.Service) { s.Annotations = map[string]string{"Example_com/a": ""} }, wantField: "service.annotations"},
		{name: "success: annotations of 256 KiB", edit: func(s *runpb.Service) { s.Annotations = bigAnnotations(256 << 10) }},
		{name: "fail: annotations over 256 KiB", edit: func(s *runpb.Service) { s.Annotations = bigAnnotations(256<<10 + 1) }, wantField: "service.annotations"},

		{name: "success: container name of 63 characters", edit: func(s *runpb.Service) { s.Template.Containers[0].Name = "1" + strings.Repeat("c", 62) }},
		{name: "fail: container name of 64 characters", edit: func(s *runpb.Service) { s.Template.Containers[0].Name = strings.Repeat("c", 64) }, wantField: "service.template.containers[0].name"},
		{name: "fail: malformed image", edit: func(s *runpb.Service) { s.Template.Containers[0].Image = "Bad Image!" }, wantField: "service.template.containers[0].image"},
		{name: "fail: container name with upper case", edit: func(s *runpb.Service) { s.Template.Containers[0].Name = "App" }, wantField: "service.template.containers[0].name"},

		{name: "success: 1000 env vars", edit: env(manyEnv(1000)...)},
		{name: "fail: 1001 env vars", edit: env(manyEnv(1001)...), wantField: "service.template.containers[0].env"},
		{name: "success: env name of 32768 characters and value of 32768 bytes", edit: env(envVar(strings.Repeat("N", 32768), strings.Repeat("v", 32768)))},
		{name: "fail: env name of 32769 characters", edit: env(envVar(strings.Repeat("N", 32769), "v")), wantField: "service.template.containers[0].env[0].name"},
		{name: "fail: env value of 32769 bytes", edit: env(envVar("N", strings.Repeat("v", 32769))), wantField: "service.template.containers[0].env[0].value"},
		{name: "fail: env without name", edit: env(envVar("", "v")), wantField: "service.template.containers[0].env[0].name"},
		{name: "fail: env name with '='", edit: env(envVar("A=B", "v")), wantField: "service.template.containers[0].env[0].name"},
		{name: "fail: reserved env PORT", edit: env(envVar("OK", "v"), envVar("PORT", "8080")), wantField: "service.template.containers[0].env[1].name"},
		{name: "fail: reserved env K_REVISION", edit: env(envVar("K_REVISION", "x")), wantField: "service.template.containers[0].env[0].name"},
	}
	for i, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := &runpb.Service{Template: template("img:1")}
			tc.edit(svc)
			_, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{
				Parent: testParent, ServiceId: fmt.Sprintf("svc-%d", i), Service: svc, ValidateOnly: true,
			})
			if tc.wantField == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			st := status.Convert(err)
			assert.Equal(t, codes.InvalidArgument, st.Code(), "%v", err)
			require.Len(t, st.Details(), 1, "%v", err)
			br, ok := st.Details()[0].(*errdetails.BadRequest)
			require.True(t, ok, "%T", st.Details()[0])
			assert.Equal(t, tc.wantField, br.GetFieldViolations()[0].GetField())
		})
	}
}

// TestLimitsApplyOnUpdate checks that an update is held to the same limits as
// a create and leaves the service as it was.
func TestLimitsApplyOnUpdate(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	before := mustCreateService(t, c, "svc", "img:1")
	_, err := update(t, c, &runpb.Service{Name: testSvc, Labels: map[string]string{"cloud.googleapis.com/location": "x"}}, "labels")
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	after, err := srv.Service(testSvc)
	require.NoError(t, err)
	assert.Equal(t, before.GetEtag(), after.GetEtag())
}

// Cloud Run's documentation (container health checks, readiness probes) puts no container restriction on
// readiness probes and the protos say only "Readiness probe to be used for health checks": a readiness
// probe on a sidecar is accepted and stored with its defaults, not refused.
func TestReadinessProbeOnSidecarAccepted(t *testing.T) {
	t.Parallel()
	_, c := newFake(t)
	probe := &runpb.Probe{ProbeType: &runpb.Probe_HttpGet{HttpGet: &runpb.HTTPGetAction{Path: "/ready", Port: 9090}}}
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "svc", Service: &runpb.Service{
		Template: &runpb.RevisionTemplate{Containers: []*runpb.Container{
			{Name: "app", Image: "img:1", Ports: []*runpb.ContainerPort{{ContainerPort: 8080}}},
			{Name: "proxy", Image: "img:2", ReadinessProbe: probe},
		}},
	}})
	require.NoError(t, err)
	svc, err := op.Wait(t.Context())
	require.NoError(t, err)
	got := svc.GetTemplate().GetContainers()[1].GetReadinessProbe()
	assert.Equal(t, "/ready", got.GetHttpGet().GetPath())
	assert.Equal(t, int32(9090), got.GetHttpGet().GetPort())
	assert.Equal(t, int32(10), got.GetPeriodSeconds())
}
