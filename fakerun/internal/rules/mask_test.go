package rules

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func TestApplyMask(t *testing.T) {
	t.Parallel()
	stored := func() *runpb.Service {
		return &runpb.Service{
			Description: "old",
			Labels:      map[string]string{"a": "1"},
			Scaling:     &runpb.ServiceScaling{MinInstanceCount: 1, MaxInstanceCount: 5},
			Template:    &runpb.RevisionTemplate{ServiceAccount: "sa", Containers: []*runpb.Container{{Image: "old"}}},
		}
	}
	in := &runpb.Service{
		Description: "new",
		Scaling:     &runpb.ServiceScaling{MinInstanceCount: 3},
		Template:    &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: "new"}}},
	}
	testcases := []struct {
		name    string
		paths   []string
		want    func(*runpb.Service)
		wantErr bool
	}{
		{name: "success: camelCase nested path", paths: []string{"scaling.minInstanceCount"}, want: func(s *runpb.Service) { s.Scaling.MinInstanceCount = 3 }},
		{name: "success: snake_case nested path", paths: []string{"scaling.min_instance_count"}, want: func(s *runpb.Service) { s.Scaling.MinInstanceCount = 3 }},
		{name: "success: nested path keeps siblings", paths: []string{"template.containers"}, want: func(s *runpb.Service) { s.Template.Containers = in.Template.Containers }},
		{name: "success: unset field in the request clears it", paths: []string{"labels"}, want: func(s *runpb.Service) { s.Labels = nil }},
		{name: "success: star replaces every writable field", paths: []string{"*"}, want: func(s *runpb.Service) { proto.Reset(s); proto.Merge(s, in) }},
		{name: "fail: unknown field", paths: []string{"template.nope"}, wantErr: true},
		{name: "fail: output-only field", paths: []string{"latest_ready_revision"}, wantErr: true},
		{name: "fail: path through a list", paths: []string{"template.containers.image"}, wantErr: true},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := stored()
			err := ApplyMask(got, in, tc.paths)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			want := stored()
			tc.want(want)
			assert.True(t, proto.Equal(want, got), "got %v\nwant %v", got, want)
		})
	}
}

// TestWritable is not parallel: testing.AllocsPerRun refuses parallel tests.
func TestWritable(t *testing.T) {
	serviceFields := (&runpb.Service{}).ProtoReflect().Descriptor().Fields()
	var names []string
	for i := range serviceFields.Len() {
		if fd := serviceFields.Get(i); Writable(fd) {
			names = append(names, string(fd.Name()))
		}
	}
	assert.Contains(t, names, "template")
	assert.Contains(t, names, "traffic")
	assert.Contains(t, names, "labels")
	for _, notWritable := range []string{"name", "etag", "uri", "generation", "latest_ready_revision", "traffic_statuses", "conditions"} {
		assert.NotContains(t, names, notWritable)
	}
	// The set is computed once: asking costs no allocation (reading the annotation allocates).
	allocs := testing.AllocsPerRun(10, func() {
		for i := range serviceFields.Len() {
			Writable(serviceFields.Get(i))
		}
	})
	assert.Zero(t, allocs)
}
