package deployment

import (
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

func TestPlanCleanup(t *testing.T) {
	t.Parallel()
	svcName := serviceName()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// rev returns revision "web-<n>", created n minutes after base, labelled as PipeCD's unless foreign.
	rev := func(n int, foreign bool) *runpb.Revision {
		r := &runpb.Revision{
			Name:       naming.FullRevisionName(svcName, "web-"+string(rune('a'+n))),
			CreateTime: timestamppb.New(base.Add(time.Duration(n) * time.Minute)),
			Labels:     map[string]string{provider.LabelManagedBy: provider.ManagedByPiped},
		}
		if foreign {
			r.Labels = nil
		}
		return r
	}
	revs := []*runpb.Revision{rev(0, false), rev(1, true), rev(2, false), rev(3, false), rev(4, false), rev(5, false)}
	testcases := []struct {
		name       string
		svc        *runpb.Service
		rec        *syncRecord
		opts       config.CleanupStageOptions
		wantDelete []string
		wantReason map[string]string
	}{
		{
			name: "success: keeps serving, tagged, latest, rollback, foreign and keepCount newest",
			svc: &runpb.Service{
				Traffic:               []*runpb.TrafficTarget{traffic.Revision("web-f", 100, ""), traffic.Revision("web-c", 0, "stable")},
				LatestCreatedRevision: naming.FullRevisionName(svcName, "web-f"),
				LatestReadyRevision:   naming.FullRevisionName(svcName, "web-f"),
			},
			rec:        &syncRecord{Revision: "web-f", Traffic: []trafficEntry{{Revision: "web-e", Percent: 100}, {Revision: "web-c", Tag: "stable"}}},
			opts:       config.CleanupStageOptions{KeepCount: 1, KeepLatest: true},
			wantDelete: []string{"web-a"},
			wantReason: map[string]string{
				"web-f": "serves 100% of the traffic, latest created revision, latest ready revision, deployed by this deployment",
				"web-e": "the rollback of this deployment routes traffic to it",
				"web-d": "one of the 1 newest (keepCount)",
				"web-c": `carries the tag "stable"`,
				"web-b": "not created by PipeCD",
			},
		},
		{
			name: "success: LATEST and observed traffic protect what they route to",
			svc: &runpb.Service{
				Traffic:               []*runpb.TrafficTarget{latest(100, "")},
				TrafficStatuses:       []*runpb.TrafficTargetStatus{{Revision: "web-c", Percent: 20}},
				LatestCreatedRevision: naming.FullRevisionName(svcName, "web-f"),
				LatestReadyRevision:   naming.FullRevisionName(svcName, "web-e"),
			},
			rec:        &syncRecord{Revision: "web-f"},
			opts:       config.CleanupStageOptions{KeepCount: 1},
			wantDelete: []string{"web-a"},
			wantReason: map[string]string{
				"web-f": "latest created revision",
				"web-e": "serves 100% of the traffic, latest ready revision",
				"web-d": "one of the 1 newest (keepCount)",
				"web-c": "serves 20% of the traffic",
			},
		},
		{
			name: "success: an entry at 0% without a tag protects its revision, an observed one does not",
			svc: &runpb.Service{
				Traffic:               []*runpb.TrafficTarget{traffic.Revision("web-f", 100, ""), traffic.Revision("web-c", 0, "")},
				TrafficStatuses:       []*runpb.TrafficTargetStatus{{Revision: "web-a", Percent: 0}, {Revision: "web-f", Percent: 100}},
				LatestCreatedRevision: naming.FullRevisionName(svcName, "web-f"),
				LatestReadyRevision:   naming.FullRevisionName(svcName, "web-f"),
			},
			rec:        &syncRecord{Revision: "web-f"},
			opts:       config.CleanupStageOptions{KeepCount: 1},
			wantDelete: []string{"web-a", "web-d"},
			wantReason: map[string]string{
				"web-f": "serves 100% of the traffic, latest created revision, latest ready revision",
				"web-e": "one of the 1 newest (keepCount)",
				"web-c": "named at 0% in the traffic block",
				"web-b": "not created by PipeCD",
			},
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keep, remove := planCleanup(tc.svc, revs, tc.rec, tc.opts)
			var deleted []string
			for _, r := range remove {
				deleted = append(deleted, naming.ShortName(r.GetName()))
			}
			assert.Equal(t, tc.wantDelete, deleted)
			reasons := map[string]string{}
			for _, k := range keep {
				reasons[k.name] = k.reason
			}
			for name, want := range tc.wantReason {
				assert.Equal(t, want, reasons[name], name)
			}
		})
	}
}

// FuzzPlanCleanup checks that cleanup never deletes a revision that serves traffic, carries a tag, is the
// latest created or ready one, or was not created by PipeCD, and deletes oldest first beyond keepCount.
func FuzzPlanCleanup(f *testing.F) {
	f.Add([]byte{100, 0, 0, 1, 0, 2, 0, 0}, uint8(1))
	f.Add([]byte{0, 3, 50, 0, 50, 0, 0, 4, 0, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, spec []byte, keepCount uint8) {
		if len(spec) == 0 || len(spec) > 40 || keepCount == 0 {
			return
		}
		svcName := serviceName()
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		svc := &runpb.Service{}
		var revs []*runpb.Revision
		protected := map[string]bool{}
		for i, b := range spec {
			name := "web-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			r := &runpb.Revision{Name: naming.FullRevisionName(svcName, name), CreateTime: timestamppb.New(base.Add(time.Duration(i) * time.Minute))}
			if b&1 == 0 {
				r.Labels = map[string]string{provider.LabelManagedBy: provider.ManagedByPiped}
			} else {
				protected[name] = true
			}
			if b&2 != 0 {
				svc.Traffic = append(svc.Traffic, traffic.Revision(name, 0, "t"+name))
				protected[name] = true
			}
			if b&4 != 0 {
				svc.Traffic = append(svc.Traffic, traffic.Revision(name, int32(b>>3)+1, ""))
				protected[name] = true
			}
			revs = append(revs, r)
		}
		latestName := naming.ShortName(revs[len(revs)-1].GetName())
		svc.LatestCreatedRevision = revs[len(revs)-1].GetName()
		protected[latestName] = true

		keep, remove := planCleanup(svc, revs, &syncRecord{Revision: latestName}, config.CleanupStageOptions{KeepCount: int(keepCount), KeepLatest: true})
		if len(keep)+len(remove) != len(revs) {
			t.Fatalf("%d kept + %d removed != %d revisions", len(keep), len(remove), len(revs))
		}
		for i, r := range remove {
			if protected[naming.ShortName(r.GetName())] {
				t.Fatalf("protected revision %s removed", r.GetName())
			}
			if i > 0 && r.GetCreateTime().AsTime().Before(remove[i-1].GetCreateTime().AsTime()) {
				t.Fatalf("not deleted oldest first")
			}
		}
		unprotectedKept := 0
		for _, k := range keep {
			if !protected[k.name] {
				unprotectedKept++
			}
		}
		if len(remove) > 0 && unprotectedKept != int(keepCount) {
			t.Fatalf("kept %d unprotected revisions, want keepCount %d", unprotectedKept, keepCount)
		}
	})
}

// deployFour deploys v1 to v4 with quick syncs and returns the name of v1's revision, the one
// CLOUDRUN_CANARY_CLEANUP with keepCount 1 deletes (v4 serves, v3 is the rollback target, v2 the newest kept).
func deployFour(t *testing.T, e *env) string {
	t.Helper()
	var revV1 string
	for i, c := range []string{"1111111aaaa", "2222222bbbb", "3333333cccc", "4444444dddd"} {
		e.deploy(c, quickSyncApp, serviceYAML("gcr.io/p/web:v"+string(rune('1'+i))))
		if i == 0 {
			revV1 = e.revisionFor()
		}
		status, log := e.run(StageCloudRunSync, "", quick)
		require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	}
	return revV1
}

func TestCleanup_ARefusedDeleteKeepsTheRevisionAndSucceeds(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revV1 := deployFour(t, e)
	f.InjectFault("DeleteRevision", fakerun.Fault{Code: codes.FailedPrecondition, Message: "revision is still in use", Times: 1})

	status, log := e.run(StageCloudRunCanaryCleanup, `{"keepCount": 1}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, revisionsOf(t, f), revV1)
	assert.Contains(t, log.String(), "Cloud Run refused to delete revision "+revV1+", so it is kept: revision is still in use")
	assert.Contains(t, log.String(), "Cleaned up service web: deleted 0 revision(s), kept 4")
}

func TestCleanup_AFailedDeleteFailsTheStage(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revV1 := deployFour(t, e)
	f.InjectFault("DeleteRevision", fakerun.Fault{Code: codes.PermissionDenied, Message: "caller lacks run.revisions.delete"})

	status, log := e.run(StageCloudRunCanaryCleanup, `{"keepCount": 1}`, nil)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, revisionsOf(t, f), revV1)
	assert.Contains(t, log.String(), "caller lacks run.revisions.delete")
	assert.NotContains(t, log.String(), "Cleaned up service")
}

func TestCleanup_DeletesTheOldRevisionAndCountsIt(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	revV1 := deployFour(t, e)

	status, log := e.run(StageCloudRunCanaryCleanup, `{"keepCount": 1}`, nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.NotContains(t, revisionsOf(t, f), revV1)
	assert.Contains(t, log.String(), "Cleaned up service web: deleted 1 revision(s), kept 3")
}
