package diff

import (
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func job(image string) *runpb.Job {
	return &runpb.Job{
		Name:   "projects/p/locations/l/jobs/batch",
		Labels: map[string]string{"team": "data"},
		Template: &runpb.ExecutionTemplate{
			Labels:   map[string]string{"tier": "batch"},
			Template: &runpb.TaskTemplate{Containers: []*runpb.Container{{Name: "app", Image: image}}},
		},
	}
}

func TestCompareJob(t *testing.T) {
	t.Parallel()
	git := job("gcr.io/p/batch:v1")
	live := job("gcr.io/p/batch:v1")
	live.Etag, live.Client, live.ClientVersion, live.Generation = "e", "gcloud", "500", 3
	live.CreateTime = timestamppb.Now()
	live.Labels["pipecd-dev-commit-hash"] = "abc"
	live.Annotations = map[string]string{"run.googleapis.com/operation-id": "op"}
	live.Template.Labels["pipecd-dev-managed-by"] = "piped"
	live.Template.Annotations = map[string]string{"run.googleapis.com/execution-environment": "gen2"}
	live.Template.TaskCount, live.Template.Template.Retries = 1, &runpb.TaskTemplate_MaxRetries{MaxRetries: 3}
	before := live.String()
	c := CompareJob(git, live)
	assert.Empty(t, c.Differences, "defaults, output-only fields and ownership labels are no differences")
	assert.True(t, c.InSync())
	assert.Equal(t, before, live.String(), "CompareJob must not modify its arguments")

	live.Template.Template.Containers[0].Image = "gcr.io/p/batch:v0"
	live.Template.Labels["tier"] = "adhoc"
	c = CompareJob(git, live)
	assert.Equal(t, []string{"template.labels[tier]", "template.template.containers[app].image"}, c.Paths())
	assert.True(t, c.TemplateChanged())

	after := job("gcr.io/p/batch:v2")
	after.Template.TaskCount = 4
	m := CompareJobManifests(job("gcr.io/p/batch:v1"), after)
	assert.Equal(t, []Difference{
		{Path: "template.taskCount", Want: "4", Have: notSet},
		{Path: "template.template.containers[app].image", Want: `"gcr.io/p/batch:v2"`, Have: `"gcr.io/p/batch:v1"`},
	}, m.Differences, "between two manifests a field set on one side only is a difference")
}

func pool(image string) *runpb.WorkerPool {
	return &runpb.WorkerPool{
		Name:   "projects/p/locations/l/workerPools/consumer",
		Labels: map[string]string{"team": "data"},
		Template: &runpb.WorkerPoolRevisionTemplate{
			Labels:     map[string]string{"tier": "worker"},
			Containers: []*runpb.Container{{Name: "app", Image: image}},
		},
	}
}

func TestComparePool(t *testing.T) {
	t.Parallel()
	git := pool("gcr.io/p/consumer:v1")
	live := pool("gcr.io/p/consumer:v1")
	live.Etag, live.Client, live.ClientVersion, live.Generation = "e", "gcloud", "500", 3
	live.InstanceSplits = []*runpb.InstanceSplit{{Revision: "consumer-x", Percent: 100}}
	live.Labels["pipecd-dev-commit-hash"] = "abc"
	live.Annotations = map[string]string{"run.googleapis.com/operation-id": "op"}
	live.Template.Revision = "consumer-abc-12345678"
	live.Template.Labels["pipecd-dev-managed-by"] = "piped"
	live.Template.Annotations = map[string]string{"run.googleapis.com/execution-environment": "gen2"}
	live.Template.ServiceAccount = "123-compute@developer.gserviceaccount.com"
	before := live.String()
	c := ComparePool(git, live)
	assert.Empty(t, c.Differences, "the split, the revision name, defaults and ownership labels are no differences")
	assert.Equal(t, before, live.String(), "ComparePool must not modify its arguments")

	live.Template.Containers[0].Image = "gcr.io/p/consumer:v0"
	live.Labels["team"] = "ops"
	assert.Equal(t, []string{"labels[team]", "template.containers[app].image"}, ComparePool(git, live).Paths())

	after := pool("gcr.io/p/consumer:v2")
	after.Template.ServiceAccount = "sa@p.iam.gserviceaccount.com"
	m := ComparePoolManifests(pool("gcr.io/p/consumer:v1"), after)
	assert.Equal(t, []Difference{
		{Path: "template.serviceAccount", Want: `"sa@p.iam.gserviceaccount.com"`, Have: notSet},
		{Path: "template.containers[app].image", Want: `"gcr.io/p/consumer:v2"`, Have: `"gcr.io/p/consumer:v1"`},
	}, m.Differences)
}

func TestCompareManifestsAddedContainer(t *testing.T) {
	t.Parallel()
	before := &runpb.Service{Template: &runpb.RevisionTemplate{Containers: []*runpb.Container{{Name: "app", Image: "a:v1"}}}}
	after := &runpb.Service{Template: &runpb.RevisionTemplate{Containers: []*runpb.Container{
		{Name: "app", Image: "a:v1"},
		{Name: "sidecar", Image: "s:v1", Args: []string{strings.Repeat("x", 300)}},
	}}}
	c := CompareManifests(before, after)
	require.Len(t, c.Differences, 1)
	d := c.Differences[0]
	assert.Equal(t, "template.containers[sidecar]", d.Path)
	assert.Equal(t, notSet, d.Have)
	assert.Len(t, d.Want, 203, "a long message is cut at 200 characters")
	assert.True(t, strings.HasPrefix(d.Want, `{"name":"sidecar","image":"s:v1"`), d.Want)
	assert.True(t, strings.HasSuffix(d.Want, "..."), d.Want)

	after.Template.Containers[1].Args = []string{strings.Repeat("x", 155)}
	c = CompareManifests(before, after)
	require.Len(t, c.Differences, 1)
	assert.Equal(t, `{"name":"sidecar","image":"s:v1","args":["`+strings.Repeat("x", 155)+`"]}`, c.Differences[0].Want, "200 characters are shown whole")

	c = CompareManifests(after, before)
	require.Len(t, c.Differences, 1)
	assert.Equal(t, Difference{Path: "template.containers[sidecar]", Want: notSet, Have: c.Differences[0].Have}, c.Differences[0])
}

// TestCompareUnnamedItemsBeyondLive: an unnamed item of git past the end of the live list is missing live.
func TestCompareUnnamedItemsBeyondLive(t *testing.T) {
	t.Parallel()
	svc := func(ports ...int32) *runpb.Service {
		c := &runpb.Container{Name: "app", Image: "a:v1"}
		for _, p := range ports {
			c.Ports = append(c.Ports, &runpb.ContainerPort{ContainerPort: p})
		}
		return &runpb.Service{Template: &runpb.RevisionTemplate{Containers: []*runpb.Container{c}}}
	}
	c := Compare(svc(8080, 9090), svc(8080))
	assert.Equal(t, []Difference{{Path: "template.containers[app].ports[1]", Want: `{"containerPort":9090}`, Have: notSet}}, c.Differences)
}

func TestManifestYAML(t *testing.T) {
	t.Parallel()
	got := ManifestYAML(&runpb.Service{
		Name:     "projects/p/locations/l/services/web",
		Template: &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: "gcr.io/p/web:v1"}}},
	})
	assert.Equal(t, "name: projects/p/locations/l/services/web\ntemplate:\n  containers:\n  - image: gcr.io/p/web:v1\n", got)
}

func TestSameQuantity(t *testing.T) {
	t.Parallel()
	assert.True(t, sameQuantity("1", "1000m"))
	assert.True(t, sameQuantity("1Gi", "1024Mi"))
	assert.True(t, sameQuantity("0.5", "500m"))
	assert.False(t, sameQuantity("1G", "1Gi"))
	assert.False(t, sameQuantity("1", "lots"))
	assert.False(t, sameQuantity("lots", "1"))
}

func TestUnifiedDiffOfLongTexts(t *testing.T) {
	t.Parallel()
	a := strings.Repeat("x\n", maxDiffLines+1)
	b := "y\n"
	got := UnifiedDiff("a", "b", a, b)
	assert.True(t, strings.HasPrefix(got, "--- a\n+++ b\n@@ -1,4001 +1,1 @@\n-x\n"), got[:40])
	assert.True(t, strings.HasSuffix(got, "-x\n+y\n"))
	assert.Equal(t, maxDiffLines+1, strings.Count(got, "\n-x"))

	long := strings.Repeat("y\n", maxDiffLines+1)
	got = UnifiedDiff("a", "b", "", long)
	assert.True(t, strings.HasPrefix(got, "--- a\n+++ b\n@@ -0,0 +1,4001 @@\n+y\n"), got[:40])

	// Up to maxDiffLines lines the texts are compared line by line: the common line is kept as context.
	atLimit := strings.Repeat("x\n", maxDiffLines-1) + "z\n"
	got = UnifiedDiff("a", "b", "z\n", atLimit)
	assert.True(t, strings.HasPrefix(got, "--- a\n+++ b\n@@ -1,1 +1,4000 @@\n+x\n"), got[:40])
	assert.True(t, strings.HasSuffix(got, "+x\n z\n"), got[len(got)-20:])
	got = UnifiedDiff("a", "b", atLimit, "z\n")
	assert.True(t, strings.HasSuffix(got, "-x\n z\n"), got[len(got)-20:])
}
