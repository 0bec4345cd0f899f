package console_test

import (
	"bufio"
	"context"
	"errors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/console"
)

const (
	parent      = "projects/p/locations/us-central1"
	servicePath = console.Prefix + parent + "/services/web"
	imageV1     = "us-docker.pkg.dev/p/r/web:v1"
	imageV2     = "us-docker.pkg.dev/p/r/web:v2"
)

// fake is a fakerun serving the admin API (and so the console) on its port.
type fake struct {
	srv      *fakerun.Server
	services *run.ServicesClient
}

func newFake(t *testing.T, opts ...fakerun.Option) *fake {
	t.Helper()
	srv, err := fakerun.NewServer(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	srv.Handle(fakerun.AdminPrefix, srv.AdminHandler())
	services, err := run.NewServicesClient(t.Context(), srv.ClientOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = services.Close() })
	return &fake{srv: srv, services: services}
}

// deploy creates or updates the service id of location loc with a revision of image and the given
// traffic (empty: LATEST 100), and waits for the rollout.
func (f *fake) deploy(t *testing.T, loc, id, revision, image string, labels map[string]string, traffic ...*runpb.TrafficTarget) *runpb.Service {
	t.Helper()
	svc := &runpb.Service{
		Name:     loc + "/services/" + id,
		Template: &runpb.RevisionTemplate{Revision: revision, Labels: labels, Containers: []*runpb.Container{{Image: image}}},
		Traffic:  traffic,
	}
	op, err := f.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{Service: svc, AllowMissing: true})
	require.NoError(t, err)
	out, err := op.Wait(t.Context())
	require.NoError(t, err)
	return out
}

func pinned(revision string, percent int32, tag string) *runpb.TrafficTarget {
	return &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
		Revision: revision, Percent: percent, Tag: tag}
}

// canary runs web-v1 and web-v2 split 90/10, web-v2 tagged "canary".
func (f *fake) canary(t *testing.T) *runpb.Service {
	t.Helper()
	f.deploy(t, parent, "web", "web-v1", imageV1, map[string]string{"team": "blue"})
	return f.deploy(t, parent, "web", "web-v2", imageV2, map[string]string{"pipecd-dev-commit-hash": "abc1234"},
		pinned("web-v1", 90, ""), pinned("web-v2", 10, "canary"))
}

// get fetches a console path and returns its status, body and headers.
func (f *fake) get(t *testing.T, path string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get("http://" + f.srv.Addr() + path)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header
}

// page fetches a console page that must answer 200 with HTML under the console's content security policy.
func (f *fake) page(t *testing.T, path string) string {
	t.Helper()
	code, body, h := f.get(t, path)
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
	assert.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self'")
	return body
}

func TestLocationsPageListsEachProjectAndRegion(t *testing.T) {
	f := newFake(t)
	assert.Contains(t, f.page(t, console.Prefix), "No services yet")

	f.deploy(t, parent, "web", "", imageV1, nil)
	f.deploy(t, parent, "api", "", imageV1, nil)
	f.deploy(t, "projects/q/locations/europe-west1", "web", "", imageV1, nil)
	body := f.page(t, console.Prefix)
	assert.Contains(t, body, `<a href="/_fakerun/console/projects/p/locations/us-central1/">projects/p/locations/us-central1</a></td><td>2</td>`)
	assert.Contains(t, body, `<a href="/_fakerun/console/projects/q/locations/europe-west1/">projects/q/locations/europe-west1</a></td><td>1</td>`)
	assert.Contains(t, body, `data-events="`+console.Prefix+`events"`)
}

func TestServicesPageListsTheRegionsServices(t *testing.T) {
	f := newFake(t)
	svc := f.canary(t)
	f.deploy(t, "projects/q/locations/europe-west1", "elsewhere", "", imageV1, nil)

	body := f.page(t, console.Prefix+parent+"/")
	assert.Contains(t, body, `<a href="`+servicePath+`">web</a>`)
	host := strings.TrimPrefix(svc.GetUri(), "https://")
	assert.Contains(t, body, `<a href="/_fakerun/console/visit/`+host+`/">`+svc.GetUri()+`</a>`)
	assert.Contains(t, body, "web-v1 90%")
	assert.Contains(t, body, "web-v2 10%")
	assert.NotContains(t, body, "elsewhere")
	assert.Contains(t, body, `data-events="`+console.Prefix+parent+`/events"`)

	assert.Contains(t, f.page(t, console.Prefix+"projects/nobody/locations/us-central1/"), "No services in projects/nobody/locations/us-central1.")
}

func TestServicePageShowsURLsTrafficRevisionsOperationsAndFaults(t *testing.T) {
	f := newFake(t)
	svc := f.canary(t)
	f.srv.InjectFault("UpdateService", fakerun.Fault{Code: 14, Message: "try later", Times: 2})

	body := f.page(t, servicePath)
	for _, u := range append([]string{svc.GetUri()}, svc.GetUrls()...) {
		assert.Contains(t, body, `<a href="/_fakerun/console/visit/`+strings.TrimPrefix(u, "https://")+`/"`)
	}
	assert.Contains(t, body, `<tr class="traffic-row" data-revision="web-v1" data-percent="90" data-tag="">`)
	assert.Contains(t, body, `<tr class="traffic-row" data-revision="web-v2" data-percent="10" data-tag="canary">`)
	assert.Contains(t, body, `<rect class="fill" width="90"`)
	assert.Contains(t, body, `<rect class="fill" width="10"`)
	assert.Contains(t, body, `>canary</a>`)
	assert.Contains(t, body, `href="/_fakerun/console/visit/canary---`)

	assert.Less(t, strings.Index(body, `class="revision-row" data-revision="web-v2"`), strings.Index(body, `class="revision-row" data-revision="web-v1"`), "newest revision first")
	assert.Contains(t, body, imageV2)
	assert.Contains(t, body, `<span class="state state-SUCCEEDED">SUCCEEDED</span>`)
	assert.Contains(t, body, `<span class="chip">pipecd-dev-commit-hash=abc1234</span>`)
	assert.Contains(t, body, `<span class="chip">team=blue</span>`)

	assert.Equal(t, 2, strings.Count(body, `<span class="state state-done">done</span>`), "both rollouts' operations")
	assert.Contains(t, body, "<code>UpdateService</code> UNAVAILABLE “try later” · 2 more call(s)")
	assert.Contains(t, body, `data-events="`+servicePath+`/events"`)

	code, body, _ := f.get(t, console.Prefix+parent+"/services/later")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, "No such service (yet). This page shows it as soon as it is created.")
	assert.Contains(t, body, `data-events="`+console.Prefix+parent+`/services/later/events"`, "the page waits for it")
}

// A LATEST target that serves only its tag names the revision its tag URL answers from: the newest ready
// one, even when the service's latest ready revision (the newest that serves traffic) is an older one.
func TestServicePageShowsTheRevisionALatestTagServes(t *testing.T) {
	f := newFake(t)
	f.deploy(t, parent, "web", "web-v1", imageV1, nil)
	latestTag := &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Tag: "next"}
	svc := f.deploy(t, parent, "web", "web-v2", imageV2, nil, pinned("web-v1", 100, ""), latestTag)
	require.Equal(t, parent+"/services/web/revisions/web-v1", svc.GetLatestReadyRevision())

	var tagURI string
	for _, st := range svc.GetTrafficStatuses() {
		if st.GetTag() == "next" {
			tagURI = st.GetUri()
		}
	}
	resp, err := f.srv.TrafficClient().Get(tagURI + "/")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, "web-v2", resp.Header.Get(fakerun.HeaderRevision), "the tag URL serves the newest ready revision")

	assert.Contains(t, f.page(t, servicePath), `<tr class="traffic-row" data-revision="web-v2" data-percent="0" data-tag="next">`)
}

func TestServicePageShowsAFailedRevisionsConditionMessage(t *testing.T) {
	f := newFake(t)
	f.deploy(t, parent, "web", "web-v1", imageV1, nil)
	f.srv.AddFailingImage(imageV2)
	op, err := f.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{Service: &runpb.Service{
		Name: parent + "/services/web", Template: &runpb.RevisionTemplate{Revision: "web-v2", Containers: []*runpb.Container{{Image: imageV2}}},
	}})
	require.NoError(t, err)
	_, err = op.Wait(t.Context())
	require.Error(t, err)

	body := f.page(t, servicePath)
	assert.Contains(t, body, `<span class="state state-FAILED">FAILED</span><div class="message">Image &#39;`+imageV2+`&#39; not found.</div>`)
	assert.Contains(t, body, `<span class="state state-failed">failed</span>`)
}

// Labels and images cannot carry markup (Cloud Run refuses such values), so the hostile text goes where users
// do control it: a fault's message.
func TestServicePageEscapesHostileConditionMessagesAndFaults(t *testing.T) {
	const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	f := newFake(t)
	f.deploy(t, parent, "web", "web-v1", imageV1, nil)
	_, err := f.services.UpdateService(t.Context(), &runpb.UpdateServiceRequest{Service: &runpb.Service{
		Name: parent + "/services/web", Template: &runpb.RevisionTemplate{Revision: "web-v2", Containers: []*runpb.Container{{Image: imageV1 + hostile}}},
	}})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "an image with markup is not an image reference: %v", err)
	f.srv.InjectFault("GetService", fakerun.Fault{Code: 14, Message: hostile})

	body := f.page(t, servicePath)
	assert.NotContains(t, body, "<script>alert")
	assert.NotContains(t, body, "<img src=x")
	assert.Contains(t, body, `“&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;”`, "the fault")
}

func TestChartsShowWhatCloudMonitoringAnswers(t *testing.T) {
	f := newFake(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		imageV2: {ErrorRate: 1, ErrorCode: http.StatusServiceUnavailable, Latency: 40 * time.Millisecond},
	}}))
	f.srv.SetNow(time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)) // frozen: every request lands in one second
	svc := f.canary(t)
	var canaryURL string
	for _, st := range svc.GetTrafficStatuses() {
		if st.GetTag() == "canary" {
			canaryURL = st.GetUri()
		}
	}
	client := f.srv.TrafficClient()
	send := func(url string, n int) {
		for range n {
			resp, err := client.Get(url)
			require.NoError(t, err)
			_ = resp.Body.Close()
		}
	}
	send(svc.GetUri(), 20)
	send(canaryURL, 7)
	f.srv.Advance(time.Second) // the charts show whole seconds

	body := f.page(t, servicePath)
	v1, v2 := legendRow(t, body, "web-v1"), legendRow(t, body, "web-v2")
	fromMonitoring := requestCounts(t, f.srv)
	assert.Equal(t, fromMonitoring["web-v1"], rowRequests(t, v1), "web-v1's requests, as Cloud Monitoring counts them")
	assert.Equal(t, fromMonitoring["web-v2"], rowRequests(t, v2), "web-v2's requests, as Cloud Monitoring counts them")
	assert.Equal(t, int64(27), fromMonitoring["web-v1"]+fromMonitoring["web-v2"])
	assert.GreaterOrEqual(t, fromMonitoring["web-v2"], int64(7), "the canary tag's requests all go to web-v2")
	assert.Contains(t, v2, "<td>100%</td>", "web-v2 answers only 503s")
	assert.Contains(t, v1, "<td>0%</td>")
	p50, p99 := latencyPercentile(t, f.srv, "web-v2", 50), latencyPercentile(t, f.srv, "web-v2", 99)
	assert.InDelta(t, 40, p99, 15, "web-v2 answers after 40ms")
	assert.Contains(t, v2, "<td>"+strconv.FormatFloat(p50, 'g', 3, 64)+" ms</td><td>"+strconv.FormatFloat(p99, 'g', 3, 64)+" ms</td>",
		"web-v2's p50 and p99 of the last minute, as Cloud Monitoring computes them")
	for _, title := range []string{"Requests/s", "Errors (5xx, %)", "Latency p50 (ms)", "Latency p99 (ms)"} {
		assert.Contains(t, body, `aria-label="`+title+`"`)
	}
	assert.Equal(t, 4, strings.Count(body, `<polyline data-revision="web-v2"`), "a web-v2 line on each chart")
}

// legendRow returns the legend's table row of a revision.
func legendRow(t *testing.T, body, revision string) string {
	t.Helper()
	_, row, ok := strings.Cut(body, `<tr class="legend-row" data-revision="`+revision+`"`)
	require.True(t, ok, "no legend row for %s", revision)
	row, _, _ = strings.Cut(row, "</tr>")
	return row
}

// rowRequests reads a legend row's data-requests.
func rowRequests(t *testing.T, row string) int64 {
	t.Helper()
	_, v, _ := strings.Cut(row, `data-requests="`)
	v, _, _ = strings.Cut(v, `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	require.NoError(t, err)
	return n
}

// latencyPercentile asks the official Cloud Monitoring client for a revision's latency percentile over the
// last minute, across response classes.
func latencyPercentile(t *testing.T, srv *fakerun.Server, revision string, pct int) float64 {
	t.Helper()
	reducer := map[int]monitoringpb.Aggregation_Reducer{50: monitoringpb.Aggregation_REDUCE_PERCENTILE_50, 99: monitoringpb.Aggregation_REDUCE_PERCENTILE_99}[pct]
	series := listTimeSeries(t, srv, &monitoringpb.ListTimeSeriesRequest{
		Filter:   `metric.type = "run.googleapis.com/request_latencies" AND resource.labels.revision_name = "` + revision + `"`,
		Interval: lastSeconds(srv, 60),
		Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(time.Minute), PerSeriesAligner: monitoringpb.Aggregation_ALIGN_DELTA,
			CrossSeriesReducer: reducer, GroupByFields: []string{"resource.labels.revision_name"}},
	})
	require.Len(t, series, 1)
	require.Len(t, series[0].GetPoints(), 1)
	return series[0].GetPoints()[0].GetValue().GetDoubleValue()
}

// requestCounts asks the official Cloud Monitoring client for the requests of the charts' 2 minutes by revision.
func requestCounts(t *testing.T, srv *fakerun.Server) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, ts := range listTimeSeries(t, srv, &monitoringpb.ListTimeSeriesRequest{
		Filter:   `metric.type = "run.googleapis.com/request_count" AND resource.labels.service_name = "web"`,
		Interval: lastSeconds(srv, 120),
	}) {
		for _, p := range ts.GetPoints() {
			out[ts.GetResource().GetLabels()["revision_name"]] += p.GetValue().GetInt64Value()
		}
	}
	return out
}

// lastSeconds is the interval of the last n whole seconds on the server's clock.
func lastSeconds(srv *fakerun.Server, n int) *monitoringpb.TimeInterval {
	end := srv.Clock().Now.Truncate(time.Second)
	return &monitoringpb.TimeInterval{StartTime: timestamppb.New(end.Add(-time.Duration(n) * time.Second)), EndTime: timestamppb.New(end)}
}

// listTimeSeries sends req for project p through the official Cloud Monitoring client.
func listTimeSeries(t *testing.T, srv *fakerun.Server, req *monitoringpb.ListTimeSeriesRequest) []*monitoringpb.TimeSeries {
	t.Helper()
	mc, err := monitoring.NewMetricClient(t.Context(), srv.ClientOptions()...)
	require.NoError(t, err)
	defer func() { _ = mc.Close() }()
	req.Name = "projects/p"
	var out []*monitoringpb.TimeSeries
	it := mc.ListTimeSeries(t.Context(), req)
	for {
		ts, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		require.NoError(t, err)
		out = append(out, ts)
	}
}

func TestEventStreamSendsTheLivePartWhenItChanges(t *testing.T) {
	f := newFake(t)
	f.canary(t)
	events := f.events(t, servicePath+"/events")

	first := nextEvent(t, events)
	assert.Contains(t, first, `data-revision="web-v1" data-percent="90"`)
	assert.NotContains(t, first, "<html", "only the live part")

	f.deploy(t, parent, "web", "web-v2", imageV2, map[string]string{"pipecd-dev-commit-hash": "abc1234"}, pinned("web-v2", 100, ""))
	var next string
	for !strings.Contains(next, `data-revision="web-v2" data-percent="100"`) {
		next = nextEvent(t, events) // the clock line changes every second, so events keep coming
	}
	assert.NotContains(t, next, `class="traffic-row" data-revision="web-v1"`)
}

func TestEventStreamShowsAServiceOnceItIsCreated(t *testing.T) {
	f := newFake(t)
	events := f.events(t, console.Prefix+parent+"/services/later/events")
	assert.Contains(t, nextEvent(t, events), "No such service (yet)")

	f.deploy(t, parent, "later", "later-v1", imageV1, nil)
	var next string
	for !strings.Contains(next, `data-revision="later-v1" data-percent="100"`) {
		next = nextEvent(t, events)
	}
	assert.NotContains(t, next, "No such service")
}

func TestLocationsEventStreamListsARegionOnceItHasAService(t *testing.T) {
	f := newFake(t)
	events := f.events(t, console.Prefix+"events")
	first := nextEvent(t, events)
	assert.Contains(t, first, "No services yet")
	assert.NotContains(t, first, "<html", "only the live part")

	f.deploy(t, parent, "web", "", imageV1, nil)
	assert.Contains(t, nextEvent(t, events), `projects/p/locations/us-central1</a></td><td>1</td>`)
	assertNoEvent(t, events)
}

func TestServicesEventStreamFollowsTheRegionsServices(t *testing.T) {
	f := newFake(t)
	events := f.events(t, console.Prefix+parent+"/events")
	first := nextEvent(t, events)
	assert.Contains(t, first, "No services in "+parent+".")
	assert.NotContains(t, first, "<html", "only the live part")

	f.canary(t)
	page := f.page(t, console.Prefix+parent+"/")
	next := nextEvent(t, events)
	for !strings.Contains(page, next) {
		next = nextEvent(t, events) // the rollouts' steps, up to what the page shows once they are done
	}
	assert.Contains(t, next, `<a href="`+servicePath+`">web</a>`)
	assert.Contains(t, next, "web-v1 90%")
	assert.Contains(t, next, "web-v2 10%")
	assertNoEvent(t, events)
}

// assertNoEvent checks that the stream sends nothing for a while (over two of the server's one-second polls), as
// nothing changes. It is the last read of r.
func assertNoEvent(t *testing.T, r *bufio.Reader) {
	t.Helper()
	line := make(chan string, 1)
	go func() {
		l, _ := r.ReadString('\n') // returns when the test ends and closes the stream
		line <- l
	}()
	select {
	case l := <-line:
		t.Errorf("the stream sent %q although nothing changed", l)
	case <-time.After(2500 * time.Millisecond):
	}
}

// events opens an event stream of the console, closed when the test ends (20s at most).
func (f *fake) events(t *testing.T, path string) *bufio.Reader {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+f.srv.Addr()+path, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	return bufio.NewReader(resp.Body)
}

// nextEvent reads one "update" event and returns its data, lines joined by newlines.
func nextEvent(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var name string
	var data []string
	for {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && name != "":
			require.Equal(t, "update", name)
			return strings.Join(data, "\n")
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
}

func TestVisitOpensServiceAndTagURLsThroughTheRouter(t *testing.T) {
	f := newFake(t)
	svc := f.canary(t)
	host := strings.TrimPrefix(svc.GetUri(), "https://")
	code, body, _ := f.get(t, console.Prefix+"visit/canary---"+host+"/hello")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "web-v2", "the tag URL always answers from its revision")

	code, body, _ = f.get(t, console.Prefix+"visit/example.com/")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, "not a service or tag URL host")
}

func TestStaticFilesAndReadOnly(t *testing.T) {
	f := newFake(t)
	code, body, h := f.get(t, console.Prefix+"static/console.js")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "new EventSource")
	assert.Contains(t, h.Get("Content-Type"), "javascript")
	code, _, h = f.get(t, console.Prefix+"static/console.css")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, h.Get("Content-Type"), "text/css")

	resp, err := http.Post("http://"+f.srv.Addr()+console.Prefix, "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "the console changes nothing")
}
