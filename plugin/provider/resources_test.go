package provider

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

const (
	testJob  = "projects/p/locations/asia-northeast1/jobs/migrate"
	testPool = "projects/p/locations/asia-northeast1/workerPools/pool"
)

func testJobSpec(image string) *runpb.Job {
	return &runpb.Job{Name: testJob, Template: &runpb.ExecutionTemplate{TaskCount: 2, Template: &runpb.TaskTemplate{
		Containers: []*runpb.Container{{Image: "gcr.io/p/migrate:" + image}},
		Retries:    &runpb.TaskTemplate_MaxRetries{MaxRetries: 0},
	}}}
}

func testPoolSpec(revision string) *runpb.WorkerPool {
	return &runpb.WorkerPool{Name: testPool, Template: &runpb.WorkerPoolRevisionTemplate{
		Revision: revision, Containers: []*runpb.Container{{Image: "gcr.io/p/pool:" + revision}},
	}}
}

func TestClient_JobLifecycle(t *testing.T) {
	t.Parallel()
	// A frozen clock keeps every execution running until the test advances it.
	c, srv := newTestClient(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		"gcr.io/p/migrate:v1": {Task: fakerun.TaskBehavior{Duration: time.Minute}},
		"gcr.io/p/migrate:v2": {Task: fakerun.TaskBehavior{Duration: time.Minute}},
	}}))
	srv.SetNow(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

	_, err := c.GetJob(t.Context(), testJob)
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, c.ValidateJob(t.Context(), testJobSpec("v1"), false), ErrNotFound, "an update of a missing job is rejected")
	require.NoError(t, c.ValidateJob(t.Context(), testJobSpec("v1"), true))
	_, err = c.GetJob(t.Context(), testJob)
	require.ErrorIs(t, err, ErrNotFound, "validate_only creates nothing")

	spec := testJobSpec("v1")
	created, err := c.CreateJob(t.Context(), spec)
	require.NoError(t, err)
	assert.Equal(t, testJob, created.GetName())
	assert.Equal(t, testJob, spec.GetName(), "the caller's job keeps its name")
	assert.Equal(t, "gcr.io/p/migrate:v1", created.GetTemplate().GetTemplate().GetContainers()[0].GetImage())
	_, err = c.CreateJob(t.Context(), testJobSpec("v1"))
	require.ErrorIs(t, err, ErrAlreadyExists)
	_, err = c.CreateJob(t.Context(), &runpb.Job{Name: "migrate"})
	require.ErrorContains(t, err, `job name "migrate" is not of the form projects/{project}/locations/{region}/jobs/{id}`)
	require.ErrorContains(t, c.ValidateJob(t.Context(), &runpb.Job{Name: "migrate"}, true), `job name "migrate"`)

	got, err := c.GetJob(t.Context(), testJob)
	require.NoError(t, err)
	v2 := testJobSpec("v2")
	v2.Etag = got.GetEtag()
	require.NoError(t, c.ValidateJob(t.Context(), v2, false))
	replaced, err := c.ReplaceJob(t.Context(), v2)
	require.NoError(t, err)
	assert.Equal(t, "gcr.io/p/migrate:v2", replaced.GetTemplate().GetTemplate().GetContainers()[0].GetImage())
	_, err = c.ReplaceJob(t.Context(), v2)
	require.ErrorIs(t, err, ErrConflict, "a replacement based on a stale read is refused")

	first, err := c.RunJob(t.Context(), testJob, nil)
	require.NoError(t, err)
	srv.Advance(time.Second)
	second, err := c.RunJob(t.Context(), testJob, &runpb.RunJobRequest_Overrides{TaskCount: 3})
	require.NoError(t, err)
	require.NotEqual(t, first.GetName(), second.GetName())
	assert.Equal(t, int32(3), second.GetTaskCount(), "the overrides reach Cloud Run")

	exec, err := c.GetExecution(t.Context(), first.GetName())
	require.NoError(t, err)
	assert.Equal(t, int32(2), exec.GetTaskCount())
	execs, err := c.ListExecutions(t.Context(), testJob, 1)
	require.NoError(t, err)
	require.Len(t, execs, 1, "the limit holds")
	assert.Equal(t, second.GetName(), execs[0].GetName(), "newest first")
	execs, err = c.ListExecutions(t.Context(), testJob, 0)
	require.NoError(t, err)
	assert.Len(t, execs, 2)
	tasks, err := c.ListTasks(t.Context(), second.GetName())
	require.NoError(t, err)
	assert.Len(t, tasks, 3)

	cancelled, err := c.CancelExecution(t.Context(), second.GetName())
	require.NoError(t, err)
	assert.Equal(t, int32(3), cancelled.GetCancelledCount()+cancelled.GetSucceededCount()+cancelled.GetFailedCount()+cancelled.GetRunningCount(),
		"every task of the cancelled execution is accounted for")
	_, err = c.GetExecution(t.Context(), testJob+"/executions/nope")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = c.RunJob(t.Context(), testJob+"-nope", nil)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = c.CancelExecution(t.Context(), testJob+"/executions/nope")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestClient_WorkerPoolLifecycle(t *testing.T) {
	t.Parallel()
	c, srv := newTestClient(t)

	_, err := c.GetWorkerPool(t.Context(), testPool)
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, c.ValidateWorkerPool(t.Context(), testPoolSpec("pool-v1"), false), ErrNotFound)
	require.NoError(t, c.ValidateWorkerPool(t.Context(), testPoolSpec("pool-v1"), true))
	_, err = c.GetWorkerPool(t.Context(), testPool)
	require.ErrorIs(t, err, ErrNotFound, "validate_only creates nothing")
	require.ErrorContains(t, c.ValidateWorkerPool(t.Context(), &runpb.WorkerPool{Name: "pool"}, true),
		`worker pool name "pool" is not of the form projects/{project}/locations/{region}/workerPools/{id}`)
	_, err = c.CreateWorkerPool(t.Context(), &runpb.WorkerPool{Name: "pool"})
	require.ErrorContains(t, err, `worker pool name "pool"`)

	spec := testPoolSpec("pool-v1")
	created, err := c.CreateWorkerPool(t.Context(), spec)
	require.NoError(t, err)
	assert.Equal(t, "pool-v1", created.GetTemplate().GetRevision())
	assert.Equal(t, testPool, spec.GetName(), "the caller's pool keeps its name")
	_, err = c.CreateWorkerPool(t.Context(), testPoolSpec("pool-v1"))
	require.ErrorIs(t, err, ErrAlreadyExists)

	got, err := c.GetWorkerPool(t.Context(), testPool)
	require.NoError(t, err)
	v2 := testPoolSpec("pool-v2")
	v2.Etag = got.GetEtag()
	require.NoError(t, c.ValidateWorkerPool(t.Context(), v2, false))
	replaced, err := c.ReplaceWorkerPool(t.Context(), v2)
	require.NoError(t, err)
	assert.Equal(t, "pool-v2", replaced.GetTemplate().GetRevision())
	_, err = c.ReplaceWorkerPool(t.Context(), v2)
	require.ErrorIs(t, err, ErrConflict)

	revs, err := c.ListRevisions(t.Context(), testPool)
	require.NoError(t, err)
	assert.Len(t, revs, 2)
	_, err = c.ListRevisions(t.Context(), testPool+"-nope")
	require.ErrorContains(t, err, "failed to list revisions of worker pool "+testPool+"-nope")

	got, err = c.GetWorkerPool(t.Context(), testPool)
	require.NoError(t, err)
	split := []*runpb.InstanceSplit{
		{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: "pool-v1", Percent: 30},
		{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: "pool-v2", Percent: 70},
	}
	updated, err := c.UpdateInstanceSplit(t.Context(), testPool, got.GetEtag(), split)
	require.NoError(t, err)
	require.Len(t, updated.GetInstanceSplits(), 2)
	assert.Equal(t, int32(30), updated.GetInstanceSplits()[0].GetPercent())
	assert.Equal(t, "pool-v2", updated.GetInstanceSplits()[1].GetRevision())
	assert.Equal(t, "pool-v2", updated.GetTemplate().GetRevision(), "only the split changes")
	_, err = c.UpdateInstanceSplit(t.Context(), testPool, got.GetEtag(), split)
	require.ErrorIs(t, err, ErrConflict)

	require.NoError(t, c.DeleteWorkerPool(t.Context(), testPool, ""))
	_, err = srv.WorkerPool(testPool)
	require.Error(t, err, "the pool is gone")
	require.NoError(t, c.DeleteWorkerPool(t.Context(), testPool, ""), "a pool that is gone counts as deleted")
	srv.InjectFault("DeleteWorkerPool", fakerun.Fault{Code: codes.PermissionDenied, Times: 1})
	require.ErrorContains(t, c.DeleteWorkerPool(t.Context(), testPool, ""), "failed to delete worker pool "+testPool)
}

func TestClient_ServiceIAMPolicy(t *testing.T) {
	t.Parallel()
	c, srv := newTestClient(t)
	svc, err := c.CreateService(t.Context(), testService("v1"))
	require.NoError(t, err)
	name := svc.GetName()

	policy, err := c.GetServiceIAMPolicy(t.Context(), name)
	require.NoError(t, err)
	assert.False(t, IsPublic(policy))
	set, err := c.SetServiceIAMPolicy(t.Context(), name, WithPublic(policy, true))
	require.NoError(t, err)
	assert.True(t, IsPublic(set))
	policy, err = c.GetServiceIAMPolicy(t.Context(), name)
	require.NoError(t, err)
	assert.True(t, IsPublic(policy), "the written policy is what Cloud Run keeps")

	_, err = c.SetServiceIAMPolicy(t.Context(), name, &iampb.Policy{Etag: []byte("stale")})
	require.ErrorIs(t, err, ErrConflict, "a write based on a stale read is refused")
	assert.NotContains(t, err.Error(), PermissionSetIAMPolicy, "only a refused permission names it")

	srv.InjectFault("SetIamPolicy", fakerun.Fault{Code: codes.PermissionDenied, Times: 1})
	_, err = c.SetServiceIAMPolicy(t.Context(), name, WithPublic(policy, false))
	require.ErrorContains(t, err, "lack run.services.setIamPolicy")
	require.ErrorContains(t, err, "roles/run.admin")
}

func TestHTTPCode(t *testing.T) {
	t.Parallel()
	for http, want := range map[int]codes.Code{
		400: codes.InvalidArgument, 422: codes.InvalidArgument, 401: codes.Unauthenticated, 403: codes.PermissionDenied,
		404: codes.NotFound, 429: codes.ResourceExhausted, 502: codes.Unavailable, 503: codes.Unavailable,
		504: codes.DeadlineExceeded, 500: codes.Internal, 418: codes.Internal,
	} {
		assert.Equal(t, want, httpCode(http), "HTTP %d", http)
	}
}

// pendingService creates the service web whose revision web-v1 stays pending until the test makes it ready.
func pendingService(t *testing.T) (*Client, *fakerun.Server, *runpb.Service) {
	t.Helper()
	c, srv := newTestClient(t, fakerun.WithManualReadiness())
	_, err := c.CreateService(t.Context(), testService("v1"))
	require.NoError(t, err)
	svc, err := c.GetService(t.Context(), naming.ServiceName("p", "asia-northeast1", "web"))
	require.NoError(t, err)
	return c, srv, svc
}

func allTo(revision string) []*runpb.TrafficTarget {
	return []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: revision, Percent: 100}}
}

func TestClient_UpdateTrafficWaitsForTheRollout(t *testing.T) {
	t.Parallel()
	c, srv, svc := pendingService(t)
	name := svc.GetName()

	mark := srv.CallMark()
	type answer struct {
		svc *runpb.Service
		err error
	}
	done := make(chan answer, 1)
	go func() {
		s, err := c.UpdateTraffic(t.Context(), name, svc.GetEtag(), allTo("web-v1"))
		done <- answer{s, err}
	}()
	// The operation waits for web-v1: UpdateTraffic polls it and does not return before the revision is ready.
	_, err := srv.WaitForCallAfter(t.Context(), mark, "GetOperation")
	require.NoError(t, err)
	select {
	case a := <-done:
		t.Fatalf("UpdateTraffic returned before the revision was ready: %v, %v", a.svc, a.err)
	default:
	}
	require.NoError(t, srv.SetRevisionReady("web-v1", true))
	a := <-done
	require.NoError(t, a.err)
	assert.Equal(t, "web-v1", a.svc.GetTraffic()[0].GetRevision())
	assert.Equal(t, int32(100), a.svc.GetTraffic()[0].GetPercent())
}

func TestClient_WaitEndsWithTheCallersContext(t *testing.T) {
	t.Parallel()
	c, srv, svc := pendingService(t)
	name := svc.GetName()

	ctx, cancel := context.WithCancelCause(t.Context())
	mark := srv.CallMark()
	go func() {
		if _, err := srv.WaitForCallAfter(t.Context(), mark, "GetOperation"); err == nil {
			cancel(errors.New("stage cancelled"))
		}
	}()
	_, err := c.UpdateTraffic(ctx, name, svc.GetEtag(), allTo("web-v1"))
	require.ErrorContains(t, err, "stage cancelled")
	require.ErrorContains(t, err, "update traffic of service "+name)
}

func TestClient_ReplaceService(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, fakerun.WithFailingImage("gcr.io/p/web:broken"))
	name := naming.ServiceName("p", "asia-northeast1", "web")
	_, err := c.CreateService(t.Context(), testService("v1"))
	require.NoError(t, err)
	svc, err := c.GetService(t.Context(), name)
	require.NoError(t, err)

	v2 := testService("v2")
	v2.Etag = svc.GetEtag()
	replaced, err := c.ReplaceService(t.Context(), v2)
	require.NoError(t, err)
	assert.Equal(t, "web-v2", replaced.GetTemplate().GetRevision())
	_, err = c.ReplaceService(t.Context(), v2)
	require.ErrorIs(t, err, ErrConflict, "a replacement based on a stale read is refused")
	_, err = c.CreateService(t.Context(), v2)
	require.ErrorIs(t, err, ErrAlreadyExists)

	svc, err = c.GetService(t.Context(), name)
	require.NoError(t, err)
	broken := testService("broken")
	broken.Etag = svc.GetEtag()
	_, err = c.ReplaceService(t.Context(), broken)
	require.ErrorIs(t, err, ErrOperationFailed, "the operation failed on the missing image")
	require.ErrorContains(t, err, "gcr.io/p/web:broken")
}

// writeKeyFile writes a service-account key file with a key made for the test.
func writeKeyFile(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	data, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p", "private_key_id": "1", "client_id": "1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "sa@p.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token",
	})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "sa.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// On Google Cloud (no insecure) the invoker and the Prometheus client use TLS and the deploy target's key file.
func TestClient_SecureEndpointClients(t *testing.T) {
	t.Parallel()
	key := writeKeyFile(t)
	missing := filepath.Join(t.TempDir(), "absent.json")

	c := &Client{customEndpoint: "run.example.test", credentialsFile: key}
	hc, base, err := c.prometheusClient(t.Context())
	require.NoError(t, err)
	require.NotNil(t, hc)
	assert.Equal(t, "https://run.example.test", base, "a custom endpoint is reached over TLS")
	invoker, err := c.Invoker(t.Context(), "https://web-abc.a.run.app")
	require.NoError(t, err)
	transport, ok := invoker.Transport.(*oauth2.Transport)
	require.True(t, ok, "requests carry an ID token, got %T", invoker.Transport)
	assert.Equal(t, endpointTransport{scheme: "https", endpoint: "run.example.test", base: transport.Base.(endpointTransport).base}, transport.Base)

	_, base, err = (&Client{credentialsFile: key}).prometheusClient(t.Context())
	require.NoError(t, err)
	assert.Equal(t, prometheusEndpoint, base, "without a custom endpoint, Google's")

	for _, c := range []*Client{{credentialsFile: missing}, {customEndpoint: "run.example.test", credentialsFile: missing}} {
		_, _, err = c.prometheusClient(t.Context())
		require.ErrorContains(t, err, `credentialsFile "`+missing+`" cannot be read`)
		_, err = c.Invoker(t.Context(), "https://web-abc.a.run.app")
		require.ErrorContains(t, err, `credentialsFile "`+missing+`" cannot be read`)
	}
}

// Each retry is announced with the wait before it, which doubles up to the maximum, and its attempt number.
func TestClient_RetryNoticesSayTheBackoff(t *testing.T) {
	t.Parallel()
	srv, err := fakerun.NewServer(fakerun.WithFault("GetService", fakerun.Fault{Code: codes.Unavailable}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	c, err := NewClient(t.Context(), config.DeployTargetConfig{Endpoint: srv.Addr(), Insecure: true}, WithRetry(time.Millisecond, 3*time.Millisecond, 4))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	var notices []string
	_, err = c.GetService(WithRetryNotice(t.Context(), func(s string) { notices = append(notices, s) }), naming.ServiceName("p", "r", "web"))
	require.ErrorIs(t, err, ErrTransient)
	assert.Equal(t, []string{
		"Cloud Run answered unavailable to get service web; retrying in 1ms (attempt 2 of 4)",
		"Cloud Run answered unavailable to get service web; retrying in 2ms (attempt 3 of 4)",
		"Cloud Run answered unavailable to get service web; retrying in 3ms (attempt 4 of 4)",
	}, notices)
	assert.Equal(t, 4, countCalls(srv, "GetService"))
}

// An execution that has already failed when RunJob returns is returned, not its failure: the caller reads
// how it ended from the execution.
func TestClient_RunJobReturnsAnExecutionThatAlreadyFailed(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		"gcr.io/p/migrate:v1": {Task: fakerun.TaskBehavior{ExitCode: 2}},
	}}))
	_, err := c.CreateJob(t.Context(), testJobSpec("v1"))
	require.NoError(t, err)
	exec, err := c.RunJob(t.Context(), testJob, nil)
	require.NoError(t, err)
	require.NotEmpty(t, exec.GetName())
	got, err := c.GetExecution(t.Context(), exec.GetName())
	require.NoError(t, err)
	assert.Equal(t, int32(2), got.GetFailedCount(), "both tasks failed at once")
}

// The query is evaluated at the given instant to the millisecond, as Prometheus's time parameter in seconds.
func TestQueryPromQL_SendsTheInstant(t *testing.T) {
	t.Parallel()
	var form url.Values
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err == nil {
			form = r.PostForm
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`))
	}))
	t.Cleanup(prom.Close)
	c := &Client{insecure: true, customEndpoint: strings.TrimPrefix(prom.URL, "http://"), readTimeout: time.Second, maxAttempts: 1}
	_, err := c.QueryPromQL(t.Context(), "p", "up", time.UnixMilli(1700000000123))
	require.NoError(t, err)
	assert.Equal(t, url.Values{"query": {"up"}, "time": {"1700000000.123"}}, form)
}
