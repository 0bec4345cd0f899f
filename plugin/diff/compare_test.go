package diff

import (
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	base := func() *runpb.Service {
		return &runpb.Service{
			Name:   "projects/p/locations/l/services/web",
			Labels: map[string]string{"team": "web"},
			Template: &runpb.RevisionTemplate{Containers: []*runpb.Container{{
				Name:  "app",
				Image: "gcr.io/p/web:v1",
				Ports: []*runpb.ContainerPort{{ContainerPort: 8080}},
				Env: []*runpb.EnvVar{
					{Name: "A", Values: &runpb.EnvVar_Value{Value: "1"}},
					{Name: "B", Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{SecretKeyRef: &runpb.SecretKeySelector{Secret: "s", Version: "latest"}}}},
				},
			}}},
		}
	}
	testcases := []struct {
		name      string
		live      func(s *runpb.Service)
		git       func(s *runpb.Service)
		wantPaths []string
	}{
		{name: "success: identical", live: func(*runpb.Service) {}},
		{
			name: "success: server-filled and plugin-owned fields are ignored",
			live: func(s *runpb.Service) {
				s.Uid, s.Generation, s.Etag, s.Uri = "u", 7, "e", "https://web.run.app"
				s.CreateTime = timestamppb.Now()
				s.Conditions = []*runpb.Condition{{Type: "RoutesReady", State: runpb.Condition_CONDITION_SUCCEEDED}}
				s.Traffic = []*runpb.TrafficTarget{{Revision: "web-x", Percent: 100}}
				s.Labels["pipecd-dev-commit-hash"] = "abc"
				s.Template.Revision = "web-abc-12345678"
				s.Template.Labels = map[string]string{"pipecd-dev-managed-by": "piped"}
				s.Template.Annotations = map[string]string{"run.googleapis.com/startup-cpu-boost": "true", "autoscaling.knative.dev/maxScale": "3"}
			},
		},
		{
			name: "success: environment variables in another order",
			live: func(s *runpb.Service) {
				env := s.Template.Containers[0].Env
				env[0], env[1] = env[1], env[0]
			},
		},
		{
			name: "success: container name filled in by Cloud Run",
			git:  func(s *runpb.Service) { s.Template.Containers[0].Name = "" },
			live: func(s *runpb.Service) { s.Template.Containers[0].Name = "web-1" },
		},
		{
			name: "fail: unnamed container changed",
			git:  func(s *runpb.Service) { s.Template.Containers[0].Name = "" },
			live: func(s *runpb.Service) {
				s.Template.Containers[0].Name, s.Template.Containers[0].Image = "web-1", "gcr.io/p/web:v0"
			},
			wantPaths: []string{"template.containers[0].image"},
		},
		{
			name: "success: port name filled in by Cloud Run",
			live: func(s *runpb.Service) { s.Template.Containers[0].Ports[0].Name = "http1" },
		},
		{
			name: "success: resource limits written differently",
			live: func(s *runpb.Service) {
				s.Template.Containers[0].Resources = &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "1000m", "memory": "1024Mi"}}
			},
			git: func(s *runpb.Service) {
				s.Template.Containers[0].Resources = &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "1", "memory": "1Gi"}}
			},
		},
		{
			name: "fail: resource limit changed",
			live: func(s *runpb.Service) {
				s.Template.Containers[0].Resources = &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "2", "memory": "512Mi"}}
			},
			git: func(s *runpb.Service) {
				s.Template.Containers[0].Resources = &runpb.ResourceRequirements{Limits: map[string]string{"cpu": "1"}}
			},
			wantPaths: []string{"template.containers[app].resources.limits[cpu]"},
		},
		{
			name: "fail: secret version changed",
			live: func(s *runpb.Service) {
				s.Template.Containers[0].Env[1].GetValueSource().GetSecretKeyRef().Version = "2"
			},
			wantPaths: []string{"template.containers[app].env[B].valueSource.secretKeyRef.version"},
		},
		{
			name: "fail: plain value replaced by a secret",
			live: func(s *runpb.Service) {
				s.Template.Containers[0].Env[0].Values = s.Template.Containers[0].Env[1].Values
			},
			wantPaths: []string{"template.containers[app].env[A].value", "template.containers[app].env[A].valueSource"},
		},
		{
			name:      "fail: environment variable removed",
			live:      func(s *runpb.Service) { s.Template.Containers[0].Env = s.Template.Containers[0].Env[:1] },
			wantPaths: []string{"template.containers[app].env[B]"},
		},
		{
			name: "fail: second port added",
			live: func(s *runpb.Service) {
				s.Template.Containers[0].Ports = append(s.Template.Containers[0].Ports, &runpb.ContainerPort{ContainerPort: 9090})
			},
			wantPaths: []string{"template.containers[app].ports[1]"},
		},
		{
			name:      "fail: command set out of band",
			live:      func(s *runpb.Service) { s.Template.Containers[0].Command = []string{"/bin/sh"} },
			wantPaths: []string{"template.containers[app].command"},
		},
		{
			// A duration is compared as a whole: the seconds live has and git leaves unset are not a default.
			name:      "fail: timeout changed, git setting only nanoseconds",
			git:       func(s *runpb.Service) { s.Template.Timeout = durationpb.New(500 * time.Millisecond) },
			live:      func(s *runpb.Service) { s.Template.Timeout = durationpb.New(1500 * time.Millisecond) },
			wantPaths: []string{"template.timeout"},
		},
		{
			name:      "fail: label removed",
			live:      func(s *runpb.Service) { delete(s.Labels, "team") },
			wantPaths: []string{"labels[team]"},
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			git, live := base(), base()
			tc.live(live)
			if tc.git != nil {
				tc.git(git)
			}
			before := live.String()
			c := Compare(git, live)
			if len(tc.wantPaths) == 0 {
				assert.Empty(t, c.Paths(), "%v", c.Differences)
			} else {
				assert.Equal(t, tc.wantPaths, c.Paths(), "%v", c.Differences)
			}
			assert.Equal(t, len(tc.wantPaths) == 0, c.InSync())
			assert.Equal(t, before, live.String(), "Compare must not modify its arguments")
		})
	}
}

func TestComparisonTemplateChanged(t *testing.T) {
	t.Parallel()
	assert.True(t, (&Comparison[*runpb.Service]{Differences: []Difference{{Path: "labels[a]"}, {Path: "template.timeout"}}}).TemplateChanged())
	assert.False(t, (&Comparison[*runpb.Service]{Differences: []Difference{{Path: "labels[a]"}, {Path: "templateX"}}}).TemplateChanged())
}

func TestUnifiedDiff(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name string
		a, b string
		want string
	}{
		{name: "success: equal", a: "x\ny\n", b: "x\ny\n", want: ""},
		{
			name: "success: one change with context",
			a:    "1\n2\n3\n4\n5\n6\n7\n8\n",
			b:    "1\n2\n3\n4\nfive\n6\n7\n8\n",
			want: "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		{
			name: "success: distant changes make two hunks",
			a:    "a\n1\n2\n3\n4\n5\n6\n7\n8\nz\n",
			b:    "A\n1\n2\n3\n4\n5\n6\n7\n8\nZ\n",
			want: "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -7,4 +7,4 @@\n 6\n 7\n 8\n-z\n+Z\n",
		},
		{
			name: "success: changes 6 lines apart share one hunk, as diff -u prints them",
			a:    "a\n1\n2\n3\n4\n5\n6\nz\n",
			b:    "A\n1\n2\n3\n4\n5\n6\nZ\n",
			want: "--- a\n+++ b\n@@ -1,8 +1,8 @@\n-a\n+A\n 1\n 2\n 3\n 4\n 5\n 6\n-z\n+Z\n",
		},
		{
			name: "success: changes 7 lines apart make two hunks, as diff -u prints them",
			a:    "a\n1\n2\n3\n4\n5\n6\n7\nz\n",
			b:    "A\n1\n2\n3\n4\n5\n6\n7\nZ\n",
			want: "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -6,4 +6,4 @@\n 5\n 6\n 7\n-z\n+Z\n",
		},
		{
			name: "success: unchanged lines after the last hunk are left out",
			a:    "a\n1\n2\n3\n4\n5\n",
			b:    "A\n1\n2\n3\n4\n5\n",
			want: "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n",
		},
		{
			name: "success: to nothing",
			a:    "x\n",
			b:    "",
			want: "--- a\n+++ b\n@@ -1,1 +0,0 @@\n-x\n",
		},
		{
			name: "success: from nothing",
			a:    "",
			b:    "x\n",
			want: "--- a\n+++ b\n@@ -0,0 +1,1 @@\n+x\n",
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, UnifiedDiff("a", "b", tc.a, tc.b))
		})
	}
}
