package pipelinetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
)

func TestScaleAnalysisScalesOnlyTheAnalysisDurations(t *testing.T) {
	in := "      - name: CLOUDRUN_SYNC\n        with:\n          timeout: 10m\n" +
		"      - name: CLOUDRUN_ANALYSIS\n        with:\n          duration: 10m # 5 checks\n          interval: 2m\n          ingestionDelay: 3m\n          minRequests: 50\n" +
		"      - name: WAIT\n        with:\n          duration: 1m\n"
	got, err := scaleAnalysis(in, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	want := "      - name: CLOUDRUN_SYNC\n        with:\n          timeout: 10m\n" +
		"      - name: CLOUDRUN_ANALYSIS\n        with:\n          duration: 6s # 5 checks\n          interval: 1.2s\n          ingestionDelay: 1.8s\n          minRequests: 50\n" +
		"      - name: WAIT\n        with:\n          duration: 1m\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCheckReportsABadApplicationBeforeDeploying(t *testing.T) {
	const dir = "../../examples/pipeline-testing/apps/checkout"
	for _, c := range []struct {
		d    Deployment
		want string
	}{
		{Deployment{}, "pipelinetest: Deployment.AppDir is required"},
		{Deployment{AppDir: "nowhere"}, "application directory nowhere: open nowhere/app.pipecd.yaml"},
		{Deployment{AppDir: dir, Edits: []Edit{{File: "service.yaml", Old: "cpu: \"4\""}}}, `edit 1: service.yaml does not contain "cpu: \"4\""`},
		{Deployment{AppDir: dir, Behaviors: map[string]Behavior{"x": {ErrorRate: 2}}}, `behaviors: images["x"]: field "errorRate"`},
		{Deployment{AppDir: dir, Faults: []Fault{{Method: "UpdateServices"}}}, `faults[0].method "UpdateServices"; allowed: CreateService`},
	} {
		_, err := c.d.Check()
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %s…", c.d, err, c.want)
		}
	}
	kind, err := Deployment{AppDir: "../../examples/pipeline-testing/apps/nightly-report", Image: "x:v2"}.Check()
	if err != nil || kind != KindJob {
		t.Errorf("nightly-report: %s, %v", kind, err)
	}
}

func TestPluginURLChecksTheDigestAndCaches(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	body := []byte("#!/bin/sh\necho plugin\n")
	sum := sha256.Sum256(body)
	served := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served++
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	ctx := context.Background()
	if _, err := PluginURL(srv.URL+"/cloudrun", strings.Repeat("0", 64)).resolve(ctx); err == nil || !strings.Contains(err.Error(), "sha256 is") {
		t.Errorf("a wrong digest: %v", err)
	}
	for range 2 {
		path, err := PluginURL(srv.URL+"/cloudrun", hex.EncodeToString(sum[:])).resolve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != string(body) {
			t.Errorf("%s holds %q", path, got)
		}
	}
	if served != 2 {
		t.Errorf("served %d times, want 2 (the wrong digest, then once: the second resolve uses the cache)", served)
	}
	if _, err := PluginURL("ftp://example.com/x", "").resolve(ctx); err == nil || !strings.Contains(err.Error(), `scheme "ftp", allowed https, http, file`) {
		t.Errorf("ftp: %v", err)
	}
}

func TestChecksumOfReadsSHA256SUMS(t *testing.T) {
	sums := []byte("aaa  cloudrun_v1_linux_amd64\nbbb *cloudrun_v1_darwin_arm64\n")
	if got, err := checksumOf(sums, "cloudrun_v1_darwin_arm64"); err != nil || got != "bbb" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := checksumOf(sums, "cloudrun_v1_windows_amd64"); err == nil {
		t.Error("no error for a missing file")
	}
}

func TestHaveTrafficResolvesRevisionsAndTagPatterns(t *testing.T) {
	rev := func(name string, pct int32, tag string) *runpb.TrafficTarget {
		return &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: name, Percent: pct, Tag: tag}
	}
	res := &Result{App: "svc", Targets: []TargetResult{{
		Target: Target{Name: "local"},
		Before: &State{Service: &runpb.Service{LatestReadyRevision: "projects/p/locations/l/services/svc/revisions/svc-v1"}},
		After: &State{Service: &runpb.Service{LatestCreatedRevision: "projects/p/locations/l/services/svc/revisions/svc-v2",
			Traffic: []*runpb.TrafficTarget{rev("svc-v2", 100, ""), rev("svc-v2", 0, "preview-abc1234"), rev("svc-v1", 0, "stable")}}},
	}}}
	ok, err := HaveTraffic(Route{NewRevision, 100, ""}, Route{NewRevision, 0, "preview-*"}, Route{PreviousRevision, 0, "stable"}).Match(res)
	if err != nil || !ok {
		t.Errorf("the exact block: %v, %v", ok, err)
	}
	m := HaveTraffic(Route{NewRevision, 100, ""}, Route{NewRevision, 0, "preview-*"})
	if ok, _ := m.Match(res); ok {
		t.Error("a block missing the stable tag matched")
	}
	if msg := m.FailureMessage(res); !strings.Contains(msg, "it left [0% svc-v1 tag stable 0% svc-v2 tag preview-abc1234 100% svc-v2]") {
		t.Errorf("message: %s", msg)
	}
}

func TestHaveRolledBackNeedsTheRollbackAndThePreDeployState(t *testing.T) {
	svc := func(image string, pct int32) *runpb.Service {
		return &runpb.Service{
			Template: &runpb.RevisionTemplate{Revision: "svc-" + image, Containers: []*runpb.Container{{Image: image}}},
			Traffic:  []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "svc-v1", Percent: pct}},
		}
	}
	stages := []Stage{{Name: "CLOUDRUN_SYNC", Status: StatusFailure}, {Name: "CLOUDRUN_ROLLBACK", Status: StatusSuccess, Rollback: true}}
	result := func(after *runpb.Service, stages []Stage) *Result {
		return &Result{App: "svc", Status: StatusFailure, Stages: stages,
			Targets: []TargetResult{{Target: Target{Name: "local"}, Before: &State{Service: svc("v1", 100)}, After: &State{Service: after}}}}
	}
	for _, c := range []struct {
		res    *Result
		ok     bool
		detail string
	}{
		{result(svc("v1", 100), stages), true, ""},
		{result(svc("v2", 100), stages), false, "on target local, before: image v1, traffic [100% svc-v1]; after: image v2, traffic [100% svc-v1]"},
		{result(svc("v1", 100), stages[:1]), false, "no rollback stage ran, or one did not succeed"},
		{result(svc("v1", 100), []Stage{stages[0], {Name: "CLOUDRUN_ROLLBACK", Status: StatusFailure, Rollback: true}}), false, "no rollback stage ran"},
	} {
		m := HaveRolledBack()
		ok, err := m.Match(c.res)
		if err != nil || ok != c.ok {
			t.Errorf("%v: got %v, %v", c.res.Stages, ok, err)
		}
		if !ok && !strings.Contains(m.FailureMessage(c.res), c.detail) {
			t.Errorf("message %q lacks %q", m.FailureMessage(c.res), c.detail)
		}
	}
}
