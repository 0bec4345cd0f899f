package syncplan

import (
	"fmt"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

const serviceName = "projects/p/locations/us-central1/services/web"

func desired(t *testing.T, image, commit string) *app.Desired {
	t.Helper()
	svc := &runpb.Service{Name: serviceName, Template: &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: image}}}}
	rev, err := naming.RevisionName("web", commit, svc.Template)
	require.NoError(t, err)
	svc.Template.Revision = rev
	return &app.Desired{Service: svc, ID: "web", Revision: rev, Commit: commit}
}

func liveService(revision string, targets ...*runpb.TrafficTarget) *runpb.Service {
	return &runpb.Service{
		Name: serviceName, Etag: "etag-1", Template: &runpb.RevisionTemplate{Revision: revision},
		LatestReadyRevision: serviceName + "/revisions/" + revision, Traffic: targets,
	}
}

func entries(targets []*runpb.TrafficTarget) []string {
	var out []string
	for _, t := range targets {
		out = append(out, fmt.Sprintf("%s:%d:%s", t.GetRevision(), t.GetPercent(), t.GetTag()))
	}
	return out
}

func TestDecide_Modes(t *testing.T) {
	t.Parallel()
	want := desired(t, "gcr.io/p/web:v2", "2222222bbbb")
	old := desired(t, "gcr.io/p/web:v1", "1111111aaaa")

	create, err := Decide(Input{Want: want})
	require.NoError(t, err)
	assert.Equal(t, Create, create.Mode)
	assert.Equal(t, []string{want.Revision}, create.Candidates, "a created service has one name: ALREADY_EXISTS means an earlier run created it")

	neverReady := liveService(old.Revision)
	neverReady.LatestReadyRevision = ""
	fresh, err := Decide(Input{Live: neverReady, Want: want})
	require.NoError(t, err)
	assert.Equal(t, Fresh, fresh.Mode)
	assert.Len(t, fresh.Candidates, naming.MaxRevisionGeneration)

	update, err := Decide(Input{Live: liveService(old.Revision), Want: want})
	require.NoError(t, err)
	assert.Equal(t, Update, update.Mode)
	assert.False(t, update.Reused)
	assert.Equal(t, want.Revision, update.Revision())
	assert.Len(t, update.Candidates, naming.MaxRevisionGeneration)
	assert.Equal(t, 2, naming.Generation(update.Candidates[1]))

	sameTemplate := desired(t, "gcr.io/p/web:v1", "3333333cccc")
	reused, err := Decide(Input{Live: liveService(old.Revision), Want: sameTemplate})
	require.NoError(t, err)
	assert.True(t, reused.Reused)
	assert.Equal(t, []string{old.Revision}, reused.Candidates, "the live revision's name is kept")
}

func TestPlan_AdoptAndNext(t *testing.T) {
	t.Parallel()
	want := desired(t, "gcr.io/p/web:v2", "2222222bbbb")
	plan, err := Decide(Input{Live: liveService("web-old"), Want: want})
	require.NoError(t, err)
	third := plan.Candidates[2]
	assert.Equal(t, plan.Candidates[1], plan.Next(plan.Revision()))
	assert.Empty(t, plan.Next(plan.Candidates[len(plan.Candidates)-1]), "no name after the last generation")
	assert.Empty(t, plan.Next("web-unknown"))

	plan.Adopt("web-unknown")
	assert.Equal(t, want.Revision, plan.Revision(), "a recorded name of another template is ignored")
	plan.Adopt(third)
	assert.Equal(t, third, plan.Revision(), "a re-run starts from the recorded name")
}

func TestPlan_Request(t *testing.T) {
	t.Parallel()
	want := desired(t, "gcr.io/p/web:v2", "2222222bbbb")
	live := liveService("web-v1",
		&runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100},
		traffic.Revision("web-v0", 0, "web-1111111"),
		traffic.Revision("web-v0", 0, "keep"))

	plan, err := Decide(Input{Live: live, Want: want, Tag: "web-2222222", DropTag: "web-1111111"})
	require.NoError(t, err)
	req, err := plan.Request(live, plan.Candidates[1])
	require.NoError(t, err)
	assert.Equal(t, plan.Candidates[1], req.GetTemplate().GetRevision())
	assert.Equal(t, "etag-1", req.GetEtag())
	assert.ElementsMatch(t, []string{"web-v1:100:", "web-v0:0:keep", plan.Candidates[1] + ":0:web-2222222"}, entries(req.GetTraffic()),
		"LATEST pinned, the previous preview tag dropped, the new revision at 0% with its tag")
	assert.Equal(t, want.Revision, want.Service.GetTemplate().GetRevision(), "the desired service is not modified")

	pinned, err := traffic.Live(live)
	require.NoError(t, err)
	route, err := plan.Route(pinned, plan.Candidates[1])
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{plan.Candidates[1] + ":100:", plan.Candidates[1] + ":0:web-2222222", "web-v0:0:keep"}, entries(route))

	created, err := Decide(Input{Want: want, Tag: "web-2222222"})
	require.NoError(t, err)
	req, err = created.Request(nil, created.Revision())
	require.NoError(t, err)
	assert.Empty(t, req.GetEtag())
	assert.Equal(t, []string{want.Revision + ":100:", want.Revision + ":0:web-2222222"}, entries(req.GetTraffic()))

	broken := liveService("web-v1", &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100})
	broken.LatestReadyRevision = "x"
	broken.Traffic = append(broken.Traffic, traffic.Revision("", 10, ""))
	plan, err = Decide(Input{Live: broken, Want: want})
	require.NoError(t, err)
	_, err = plan.Request(broken, plan.Revision())
	require.ErrorContains(t, err, "cannot compute the traffic for the template update")
}
