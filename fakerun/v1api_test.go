package fakerun

import (
	"errors"
	"net/http"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/googleapi"
	runv1 "google.golang.org/api/run/v1"
)

// v1Clients are the official discovery-based v1 clients for the test region and the global endpoint.
func v1Clients(t *testing.T, srv *Server) (regional, global *runv1.APIService) {
	t.Helper()
	regional, err := runv1.NewService(t.Context(), srv.V1ClientOptions("us-central1")...)
	require.NoError(t, err)
	global, err = runv1.NewService(t.Context(), srv.V1ClientOptions("")...)
	require.NoError(t, err)
	return regional, global
}

// knativeService is a v1 service as gcloud writes it.
func knativeService(name, image string) *runv1.Service {
	return &runv1.Service{
		ApiVersion: "serving.knative.dev/v1", Kind: "Service",
		Metadata: &runv1.ObjectMeta{Name: name, Namespace: "p", Labels: map[string]string{"team": "web"},
			Annotations: map[string]string{"run.googleapis.com/ingress": "internal", "run.googleapis.com/client-name": "gcloud"}},
		Spec: &runv1.ServiceSpec{Template: &runv1.RevisionTemplate{
			Metadata: &runv1.ObjectMeta{
				Labels:      map[string]string{"client.knative.dev/nonce": "abcdefghij"},
				Annotations: map[string]string{"autoscaling.knative.dev/maxScale": "7", "autoscaling.knative.dev/minScale": "1"},
			},
			Spec: &runv1.RevisionSpec{ContainerConcurrency: 40, TimeoutSeconds: 120, Containers: []*runv1.Container{{
				Image: image, Env: []*runv1.EnvVar{{Name: "A", Value: "1"}},
				Resources: &runv1.ResourceRequirements{Limits: map[string]string{"cpu": "1", "memory": "512Mi"}},
			}}},
		}},
	}
}

func TestV1ServiceIsAViewOfV2(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	v1, _ := v1Clients(t, srv)
	ctx := t.Context()

	created, err := v1.Namespaces.Services.Create("namespaces/p", knativeService("svc", imageV1)).Do()
	require.NoError(t, err)
	assert.Equal(t, int64(1), created.Metadata.Generation)

	got, err := c.services.GetService(ctx, &runpb.GetServiceRequest{Name: testSvc})
	require.NoError(t, err)
	assert.Equal(t, runpb.IngressTraffic_INGRESS_TRAFFIC_INTERNAL_ONLY, got.GetIngress())
	assert.Equal(t, "gcloud", got.GetClient())
	assert.Equal(t, map[string]string{"team": "web"}, got.GetLabels())
	tmpl := got.GetTemplate()
	assert.Equal(t, int32(7), tmpl.GetScaling().GetMaxInstanceCount())
	assert.Equal(t, int32(1), tmpl.GetScaling().GetMinInstanceCount())
	assert.Equal(t, int32(40), tmpl.GetMaxInstanceRequestConcurrency())
	assert.Equal(t, int64(120), tmpl.GetTimeout().GetSeconds())
	assert.Equal(t, imageV1, tmpl.GetContainers()[0].GetImage())
	assert.Equal(t, map[string]string{"cpu": "1", "memory": "512Mi"}, tmpl.GetContainers()[0].GetResources().GetLimits())
	assert.True(t, tmpl.GetContainers()[0].GetResources().GetCpuIdle(), "CPU is throttled unless run.googleapis.com/cpu-throttling says false")

	// A change through v2 (a second revision, tagged, with no traffic) is visible through v1 at once.
	got.Template.Containers[0].Image = imageV2
	got.Template.Revision = "svc-green"
	got.Traffic = []*runpb.TrafficTarget{
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: rules.ShortName(got.GetLatestReadyRevision()), Percent: 100},
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "svc-green", Tag: "green"},
	}
	v2, err := update(t, c, got)
	require.NoError(t, err)
	first := rules.ShortName(v2.GetTraffic()[0].GetRevision())

	view, err := v1.Namespaces.Services.Get("namespaces/p/services/svc").Do()
	require.NoError(t, err)
	assert.Equal(t, []*runv1.TrafficTarget{{RevisionName: first, Percent: 100}, {RevisionName: "svc-green", Tag: "green"}}, view.Spec.Traffic)
	assert.Equal(t, v2.GetGeneration(), view.Metadata.Generation)
	assert.Equal(t, view.Metadata.Generation, view.Status.ObservedGeneration)
	assert.Equal(t, "svc-green", view.Status.LatestCreatedRevisionName)
	assert.Equal(t, "svc-green", view.Spec.Template.Metadata.Name)
	assert.Equal(t, map[string]string{"client.knative.dev/nonce": "abcdefghij"}, view.Spec.Template.Metadata.Labels)
	assert.Equal(t, "7", view.Spec.Template.Metadata.Annotations["autoscaling.knative.dev/maxScale"])
	assert.Equal(t, "internal", view.Metadata.Annotations["run.googleapis.com/ingress"])
	assert.Equal(t, "us-central1", view.Metadata.Labels["cloud.googleapis.com/location"])
	var types []string
	for _, cond := range view.Status.Conditions {
		types = append(types, cond.Type+"="+cond.Status)
	}
	assert.Equal(t, []string{"Ready=True", "RoutesReady=True", "ConfigurationsReady=True"}, types)
	assert.Equal(t, []*runv1.TrafficTarget{
		{RevisionName: first, Percent: 100},
		{RevisionName: "svc-green", Tag: "green", Url: tagURL(v2, "green")},
	}, view.Status.Traffic)

	route, err := v1.Namespaces.Routes.Get("namespaces/p/routes/svc").Do()
	require.NoError(t, err)
	assert.Equal(t, view.Status.Traffic, route.Status.Traffic)
	config, err := v1.Namespaces.Configurations.Get("namespaces/p/configurations/svc").Do()
	require.NoError(t, err)
	assert.Equal(t, "svc-green", config.Status.LatestCreatedRevisionName)

	// Back to LATEST through v1's replaceService: v2 reads it at once.
	view.Spec.Traffic = []*runv1.TrafficTarget{{LatestRevision: true, Percent: 100}}
	_, err = v1.Namespaces.Services.ReplaceService("namespaces/p/services/svc", view).Do()
	require.NoError(t, err)
	got, err = c.services.GetService(ctx, &runpb.GetServiceRequest{Name: testSvc})
	require.NoError(t, err)
	require.Len(t, got.GetTraffic(), 1)
	assert.Equal(t, runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, got.GetTraffic()[0].GetType())
	assert.Equal(t, int32(100), got.GetTraffic()[0].GetPercent())
}

func TestV1RevisionsByLabelSelector(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	v1, _ := v1Clients(t, srv)
	canary(t, c)
	_, err := v1.Namespaces.Services.Create("namespaces/p", knativeService("other", imageV1)).Do()
	require.NoError(t, err)

	names := func(selector string) []string {
		list, err := v1.Namespaces.Revisions.List("namespaces/p").LabelSelector(selector).Do()
		require.NoError(t, err)
		var out []string
		for _, r := range list.Items {
			out = append(out, r.Metadata.Name)
		}
		return out
	}
	assert.Equal(t, []string{"svc-v2", "svc-v1"}, names("serving.knative.dev/service = svc"))
	assert.Len(t, names("serving.knative.dev/service=other"), 1)
	assert.Equal(t, names("serving.knative.dev/service=other"), names("client.knative.dev/nonce = abcdefghij"))
	assert.Len(t, names(""), 3)

	rev, err := v1.Namespaces.Revisions.Get("namespaces/p/revisions/svc-v2").Do()
	require.NoError(t, err)
	assert.Equal(t, "svc", rev.Metadata.Labels["serving.knative.dev/service"])
	assert.Equal(t, imageV2, rev.Spec.Containers[0].Image)

	_, err = v1.Namespaces.Revisions.Get("namespaces/p/revisions/svc-nope").Do()
	var gerr *googleapi.Error
	require.True(t, errors.As(err, &gerr), "%v", err)
	assert.Equal(t, http.StatusNotFound, gerr.Code)
	assert.Equal(t, "Resource 'svc-nope' of kind 'REVISION' in region 'us-central1' in project 'p' does not exist.", gerr.Message)

	_, err = v1.Namespaces.Revisions.Delete("namespaces/p/revisions/svc-v2").Do()
	require.True(t, errors.As(err, &gerr), "a serving revision is not deleted: %v", err)
	assert.Equal(t, http.StatusBadRequest, gerr.Code)
}

func TestV1BadInputLeavesTheServiceAsItWas(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	v1, _ := v1Clients(t, srv)
	_, err := v1.Namespaces.Services.Create("namespaces/p", knativeService("svc", imageV1)).Do()
	require.NoError(t, err)
	before, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
	require.NoError(t, err)

	edits := map[string]func(s *runv1.Service){
		"unknown revision": func(s *runv1.Service) {
			s.Spec.Traffic = []*runv1.TrafficTarget{{RevisionName: "svc-nope", Percent: 100}}
		},
		"traffic not adding up":  func(s *runv1.Service) { s.Spec.Traffic = []*runv1.TrafficTarget{{LatestRevision: true, Percent: 90}} },
		"malformed image":        func(s *runv1.Service) { s.Spec.Template.Spec.Containers[0].Image = "Not An Image" },
		"stale resource version": func(s *runv1.Service) { s.Metadata.ResourceVersion = "stale" },
		"unknown ingress":        func(s *runv1.Service) { s.Metadata.Annotations["run.googleapis.com/ingress"] = "everyone" },
		"bad maxScale": func(s *runv1.Service) {
			s.Spec.Template.Metadata.Annotations["autoscaling.knative.dev/maxScale"] = "many"
		},
	}
	for name, edit := range edits {
		view, err := v1.Namespaces.Services.Get("namespaces/p/services/svc").Do()
		require.NoError(t, err)
		edit(view)
		_, err = v1.Namespaces.Services.ReplaceService("namespaces/p/services/svc", view).Do()
		var gerr *googleapi.Error
		require.True(t, errors.As(err, &gerr), "%s: %v", name, err)
		assert.Contains(t, []int{http.StatusBadRequest, http.StatusConflict}, gerr.Code, name)
		after, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
		require.NoError(t, err)
		assert.Equal(t, before.GetEtag(), after.GetEtag(), "%s: the service is as it was", name)
	}
}

func TestV1LocationsAndIAM(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	_, global := v1Clients(t, srv)
	mustCreateService(t, c, "svc", imageV1)

	locs, err := global.Projects.Locations.List("projects/p").Do()
	require.NoError(t, err)
	var ids []string
	for _, l := range locs.Locations {
		ids = append(ids, l.LocationId)
	}
	assert.Contains(t, ids, "us-central1")
	assert.Contains(t, ids, "asia-northeast1")

	resource := "projects/p/locations/us-central1/services/svc"
	pol, err := global.Projects.Locations.Services.GetIamPolicy(resource).Do()
	require.NoError(t, err)
	pol.Bindings = []*runv1.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}
	set, err := global.Projects.Locations.Services.SetIamPolicy(resource, &runv1.SetIamPolicyRequest{Policy: pol}).Do()
	require.NoError(t, err)
	assert.Equal(t, []*runv1.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}, set.Bindings)

	// v1 and v2 share one policy store.
	v2pol, err := c.services.GetIamPolicy(t.Context(), iamGet(resource))
	require.NoError(t, err)
	assert.Equal(t, []string{"allUsers"}, v2pol.GetBindings()[0].GetMembers())

	_, err = global.Projects.Locations.Services.SetIamPolicy(resource, &runv1.SetIamPolicyRequest{Policy: pol}).Do()
	var gerr *googleapi.Error
	require.True(t, errors.As(err, &gerr), "the etag of the first read is stale now: %v", err)
	assert.Equal(t, http.StatusConflict, gerr.Code)

	listed, err := global.Projects.Locations.Services.List("projects/p/locations/-").Do()
	require.NoError(t, err)
	require.Len(t, listed.Items, 1)
	assert.Equal(t, "svc", listed.Items[0].Metadata.Name)
}

func TestV1JobsAreViewsOfV2(t *testing.T) {
	t.Parallel()
	srv, c := newJobFake(t)
	v1, _ := v1Clients(t, srv)
	job := &runv1.Job{
		ApiVersion: "run.googleapis.com/v1", Kind: "Job",
		Metadata: &runv1.ObjectMeta{Name: "job", Annotations: map[string]string{"run.googleapis.com/client-name": "gcloud"}},
		Spec: &runv1.JobSpec{Template: &runv1.ExecutionTemplateSpec{Spec: &runv1.ExecutionSpec{
			TaskCount: 3, Parallelism: 2,
			Template: &runv1.TaskTemplateSpec{Spec: &runv1.TaskSpec{MaxRetries: 2, TimeoutSeconds: 60, Containers: []*runv1.Container{{Image: imageV1}}}},
		}}},
	}
	_, err := v1.Namespaces.Jobs.Create("namespaces/p", job).Do()
	require.NoError(t, err)
	stored, err := c.jobs.GetJob(t.Context(), &runpb.GetJobRequest{Name: testJob})
	require.NoError(t, err)
	assert.Equal(t, int32(3), stored.GetTemplate().GetTaskCount())
	assert.Equal(t, int32(2), stored.GetTemplate().GetParallelism())
	assert.Equal(t, int32(2), stored.GetTemplate().GetTemplate().GetMaxRetries())
	assert.Equal(t, int64(60), stored.GetTemplate().GetTemplate().GetTimeout().GetSeconds())
	assert.Equal(t, "gcloud", stored.GetClient())

	exec, err := v1.Namespaces.Jobs.Run("namespaces/p/jobs/job", &runv1.RunJobRequest{Overrides: &runv1.Overrides{TaskCount: 1}}).Do()
	require.NoError(t, err)
	assert.Equal(t, "job", exec.Metadata.Labels["run.googleapis.com/job"])
	assert.Equal(t, int64(1), exec.Spec.TaskCount, "the override")

	execs, err := v1.Namespaces.Executions.List("namespaces/p").LabelSelector("run.googleapis.com/job=job").Do()
	require.NoError(t, err)
	require.Len(t, execs.Items, 1)
	assert.Equal(t, exec.Metadata.Name, execs.Items[0].Metadata.Name)
	tasks, err := v1.Namespaces.Tasks.List("namespaces/p").LabelSelector("run.googleapis.com/execution=" + exec.Metadata.Name).Do()
	require.NoError(t, err)
	require.Len(t, tasks.Items, 1)
	assert.Equal(t, int64(0), tasks.Items[0].Status.Index)
	assert.NotEmpty(t, tasks.Items[0].Metadata.Labels["run.googleapis.com/runningState"])

	got, err := v1.Namespaces.Jobs.Get("namespaces/p/jobs/job").Do()
	require.NoError(t, err)
	assert.Equal(t, int64(1), got.Status.ExecutionCount)
	assert.Equal(t, exec.Metadata.Name, got.Status.LatestCreatedExecution.Name)
}
