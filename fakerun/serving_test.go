package fakerun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	imageV1 = "us-docker.pkg.dev/p/r/app:v1"
	imageV2 = "us-docker.pkg.dev/p/r/app:v2"
)

// testEpoch is where tests freeze the server clock: a whole second.
var testEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// canary deploys svc with revision svc-v1 (imageV1, tag "stable"), then
// svc-v2 (imageV2) taking 10% under the tag "canary", and returns the service.
func canary(t *testing.T, c clients) *runpb.Service {
	t.Helper()
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "svc",
		Service: &runpb.Service{Template: &runpb.RevisionTemplate{Revision: "svc-v1", Containers: []*runpb.Container{{Image: imageV1}}}}})
	require.NoError(t, err)
	svc, err := op.Wait(t.Context())
	require.NoError(t, err)
	svc.Template = &runpb.RevisionTemplate{Revision: "svc-v2", Containers: []*runpb.Container{{Image: imageV2}}}
	svc.Traffic = []*runpb.TrafficTarget{revisionTarget("svc-v1", 90, "stable"), revisionTarget("svc-v2", 10, "canary")}
	svc, err = update(t, c, svc)
	require.NoError(t, err)
	return svc
}

// tagURL is the URL of a tag of svc.
func tagURL(svc *runpb.Service, tag string) string {
	for _, st := range svc.GetTrafficStatuses() {
		if st.GetTag() == tag {
			return st.GetUri()
		}
	}
	return ""
}

// get sends GET url through the server's data plane and returns status,
// answering revision and body.
func get(t *testing.T, client *http.Client, url string) (int, string, string) {
	t.Helper()
	resp, err := client.Get(url)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get(HeaderRevision), string(body)
}

// newMetricClient returns the official Cloud Monitoring client for srv.
func newMetricClient(t *testing.T, srv *Server) *monitoring.MetricClient {
	t.Helper()
	mc, err := monitoring.NewMetricClient(context.Background(), srv.ClientOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = mc.Close() })
	return mc
}

// listSeries reads every series of a ListTimeSeries call.
func listSeries(t *testing.T, mc *monitoring.MetricClient, req *monitoringpb.ListTimeSeriesRequest) []*monitoringpb.TimeSeries {
	t.Helper()
	var out []*monitoringpb.TimeSeries
	for ts, err := range mc.ListTimeSeries(t.Context(), req).All() {
		require.NoError(t, err)
		out = append(out, ts)
	}
	return out
}

// window is the interval (start, end] as a TimeInterval.
func window(start, end time.Time) *monitoringpb.TimeInterval {
	return &monitoringpb.TimeInterval{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)}
}

// sumBy aggregates over period with ALIGN_DELTA and REDUCE_SUM grouped by field.
func sumBy(period time.Duration, fields ...string) *monitoringpb.Aggregation {
	return &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(period),
		PerSeriesAligner:   monitoringpb.Aggregation_ALIGN_DELTA,
		CrossSeriesReducer: monitoringpb.Aggregation_REDUCE_SUM, GroupByFields: fields}
}

func TestSplitAccuracyAndMetrics(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, WithSeed(42))
	srv.SetNow(testEpoch)
	svc := canary(t, c)
	client := srv.TrafficClient()

	const n = 10000
	got := map[string]int{}
	for range n {
		code, rev, _ := get(t, client, svc.GetUri())
		require.Equal(t, http.StatusOK, code)
		got[rev]++
	}
	// Binomial(10000, 0.1): σ = 30; ±5σ never fails by chance, and the seed makes it reproducible.
	assert.InDelta(t, 1000, got["svc-v2"], 150, "%v", got)
	assert.Equal(t, n, got["svc-v1"]+got["svc-v2"], "%v", got)

	// The same counts come back through Cloud Monitoring.
	series := listSeries(t, newMetricClient(t, srv), &monitoringpb.ListTimeSeriesRequest{
		Name:        "projects/p",
		Filter:      `metric.type = "run.googleapis.com/request_count" AND resource.labels.service_name = "svc"`,
		Interval:    window(testEpoch.Add(-time.Minute), testEpoch.Add(time.Minute)),
		Aggregation: sumBy(2*time.Minute, "resource.labels.revision_name"),
	})
	counts := map[string]int64{}
	for _, ts := range series {
		require.Len(t, ts.GetPoints(), 1)
		counts[ts.GetResource().GetLabels()["revision_name"]] = ts.GetPoints()[0].GetValue().GetInt64Value()
	}
	assert.Equal(t, map[string]int64{"svc-v1": int64(got["svc-v1"]), "svc-v2": int64(got["svc-v2"])}, counts)
}

func TestServingURLs(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	svc := canary(t, c)
	client := srv.TrafficClient()

	t.Run("success: the tag URL reaches the tagged revision", func(t *testing.T) {
		require.Len(t, svc.GetTrafficStatuses(), 2)
		for range 50 {
			code, rev, body := get(t, client, tagURL(svc, "canary")+"/path?q=1")
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, "svc-v2", rev)
			require.Contains(t, body, "image: "+imageV2)
		}
	})
	t.Run("success: every URL in urls answers", func(t *testing.T) {
		for _, u := range svc.GetUrls() {
			code, _, body := get(t, client, u)
			assert.Equal(t, http.StatusOK, code, u)
			assert.Contains(t, body, "service: svc")
		}
	})
	t.Run("fail: an unknown host or tag is 404", func(t *testing.T) {
		code, rev, _ := get(t, client, "https://nosuch-abcdefghij-uc.a.run.app/")
		assert.Equal(t, http.StatusNotFound, code)
		assert.Empty(t, rev)
		code, _, _ = get(t, client, "https://nosuch---"+svc.GetUri()[len("https://"):])
		assert.Equal(t, http.StatusNotFound, code)
	})
	t.Run("success: curl-style requests to the server's address route by Host", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, "http://"+srv.Addr()+"/", nil)
		require.NoError(t, err)
		req.Host = svc.GetUri()[len("https://"):]
		req.Header.Set("Authorization", "Bearer token")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.NotEmpty(t, resp.Header.Get(HeaderRevision))
	})
	t.Run("success: a host is compared as DNS does: any case, a port, a trailing dot", func(t *testing.T) {
		host := svc.GetUri()[len("https://"):]
		canaryHost := tagURL(svc, "canary")[len("https://"):]
		for _, h := range []string{host + ".", strings.ToUpper(host) + ".", host + ".:443", canaryHost + ".", strings.ToUpper(canaryHost)} {
			req, err := http.NewRequest(http.MethodGet, "http://"+srv.Addr()+"/v2/"+testSvc, nil)
			require.NoError(t, err)
			req.Host = h
			req.Header.Set("Authorization", "Bearer token")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode, h)
			assert.NotEmpty(t, resp.Header.Get(HeaderRevision), "%s reaches a revision, not the Admin API", h)
			assert.NotContains(t, string(body), `"uid"`, "%s: the Admin API must not answer a service host", h)
		}
	})
}

func TestServingUnavailableAndDeleted(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, WithManualReadiness())
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "svc",
		Service: &runpb.Service{Template: template(imageV1)}})
	require.NoError(t, err)
	svc, err := op.Metadata()
	require.NoError(t, err)
	client := srv.TrafficClient()

	code, _, _ := get(t, client, svc.GetUri())
	assert.Equal(t, http.StatusServiceUnavailable, code, "no ready revision")

	require.NoError(t, srv.SetRevisionReady(srv.Revisions(testSvc)[0].GetName(), true))
	code, _, _ = get(t, client, svc.GetUri())
	assert.Equal(t, http.StatusOK, code, "ready")

	dop, err := c.services.DeleteService(t.Context(), &runpb.DeleteServiceRequest{Name: testSvc})
	require.NoError(t, err)
	_, err = dop.Wait(t.Context())
	require.NoError(t, err)
	code, _, _ = get(t, client, svc.GetUri())
	assert.Equal(t, http.StatusNotFound, code, "deleted")
}

func TestServingConcurrently(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t)
	svc := canary(t, c)
	client := srv.TrafficClient()
	mc := newMetricClient(t, srv)
	const callers, perCaller = 6, 100
	var wg sync.WaitGroup
	errs := make(chan error, callers+3)
	for range callers {
		wg.Go(func() {
			for range perCaller {
				resp, err := client.Get(svc.GetUri())
				if err != nil {
					errs <- err
					return
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("GET %s: %s", svc.GetUri(), resp.Status)
					return
				}
			}
		})
	}
	wg.Go(func() { // traffic moves while requests flow
		for i := range 10 {
			next := proto.Clone(svc).(*runpb.Service)
			next.Etag = "" // no precondition: the last writer wins
			next.Traffic = []*runpb.TrafficTarget{revisionTarget("svc-v1", int32(90-i), "stable"), revisionTarget("svc-v2", int32(10+i), "canary")}
			if _, err := update(t, c, next); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() { // behaviours change while requests flow
		for i := range 20 {
			if err := srv.SetBehaviors(Behaviors{Images: map[string]Behavior{imageV2: {Jitter: time.Duration(i+1) * time.Microsecond}}}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() { // metrics are read while they are written
		for range 20 {
			now := srv.Clock().Now
			it := mc.ListTimeSeries(context.Background(), &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: countFilter,
				Interval: window(now.Add(-time.Hour), now.Add(time.Minute)), Aggregation: sumBy(2 * time.Hour)})
			if _, err := it.Next(); err != nil && !errors.Is(err, iterator.Done) {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	now := srv.Clock().Now
	series := listSeries(t, mc, &monitoringpb.ListTimeSeriesRequest{Name: "projects/p", Filter: countFilter,
		Interval: window(now.Add(-time.Hour), now.Add(time.Minute)), Aggregation: sumBy(2 * time.Hour)})
	require.Len(t, series, 1)
	assert.Equal(t, int64(callers*perCaller), series[0].GetPoints()[0].GetValue().GetInt64Value())
}
