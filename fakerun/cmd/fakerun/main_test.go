package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	runapi "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// lockedBuffer is a strings.Builder safe for the logger's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runMainEnv makes the test binary act as fakerun itself, so that a test can
// start it as a process and signal it.
const runMainEnv = "FAKERUN_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestSignalStopsCleanly(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-port", "0")
			cmd.Env = append(os.Environ(), runMainEnv+"=1", "FAKERUN_LOG_LEVEL=info")
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			var stderr lockedBuffer
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())

			lines := bufio.NewScanner(stdout)
			require.True(t, lines.Scan(), "first line: %v; stderr: %s", lines.Err(), stderr.String())
			require.Contains(t, lines.Text(), "fakerun listening on 127.0.0.1:")
			go func() { _, _ = io.Copy(io.Discard, stdout) }()

			require.NoError(t, cmd.Process.Signal(sig))
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				require.NoError(t, err, "exit status; stderr: %s", stderr.String())
			case <-time.After(10 * time.Second):
				t.Fatalf("fakerun did not exit after %s; stderr: %s", sig, stderr.String())
			}
			assert.Contains(t, stderr.String(), `msg="fakerun stopped"`)
		})
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	var stderr lockedBuffer
	env := map[string]string{"FAKERUN_LOG_LEVEL": "debug", "FAKERUN_READINESS_DELAY": "1h", "FAKERUN_ETAG_MISMATCH_CODE": "failed_precondition"}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-port", "0"}, func(k string) string { return env[k] }, stdoutW, &stderr)
		_ = stdoutW.Close()
	}()

	lines := bufio.NewScanner(stdoutR)
	require.True(t, lines.Scan(), "first line: %v", lines.Err())
	m := regexp.MustCompile(`^fakerun listening on (127\.0\.0\.1:\d+) \(gRPC and REST; admin API at http://127\.0\.0\.1:\d+/_fakerun/\)$`).FindStringSubmatch(lines.Text())
	require.NotNil(t, m, "first line: %q", lines.Text())
	addr := m[1]
	require.True(t, lines.Scan())
	assert.Equal(t, "Point the Cloud Run plugin at it with the deploy target config: endpoint: "+addr+", insecure: true", lines.Text())
	require.True(t, lines.Scan())
	assert.Equal(t, "Service URLs answer on the same port by Host: curl -H 'Host: <host of the service uri>' http://"+addr+"/", lines.Text())
	require.True(t, lines.Scan())
	assert.Equal(t, "Web console (read-only, live): http://"+addr+"/_fakerun/console/", lines.Text())
	require.True(t, lines.Scan())
	assert.Equal(t, `Point gcloud at it: eval "$(fakerun gcloud-env -addr `+addr+`)"; gcloud run services list`, lines.Text())
	go func() { _, _ = io.Copy(io.Discard, stdoutR) }()

	// The admin API answers on the same port, and reports the configured delay.
	resp, err := http.Get("http://" + addr + "/_fakerun/readiness")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `"delay": "1h0m0s"`)

	// The official gRPC client reaches the fake.
	services, err := runapi.NewServicesClient(ctx, option.WithEndpoint(addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())), option.WithTelemetryDisabled())
	require.NoError(t, err)
	defer func() { require.NoError(t, services.Close()) }()
	_, err = services.GetService(ctx, &runpb.GetServiceRequest{Name: "projects/p/locations/us-central1/services/nope"})
	assert.Equal(t, codes.NotFound, status.Code(err), "%v", err)

	// The compatibility settings reach the server: a stale etag gets the chosen code.
	op, err := services.CreateService(ctx, &runpb.CreateServiceRequest{Parent: "projects/p/locations/us-central1", ServiceId: "svc",
		Service: &runpb.Service{Template: &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: "img:1"}}}}})
	require.NoError(t, err)
	svc, err := op.Metadata()
	require.NoError(t, err)

	// The service URL answers on the same port; its revision is not ready for an hour: 503.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	require.NoError(t, err)
	req.Host = strings.TrimPrefix(svc.GetUri(), "https://")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	_, err = services.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: "projects/p/locations/us-central1/services/svc", Etag: `"stale"`})
	assert.Equal(t, codes.FailedPrecondition, status.Code(err), "%v", err)

	// The console's event stream flushes through the request log and stays open; the first update shows the revision deploying.
	eventsCtx, stopEvents := context.WithTimeout(ctx, 10*time.Second)
	defer stopEvents()
	req, err = http.NewRequestWithContext(eventsCtx, http.MethodGet, "http://"+addr+"/_fakerun/console/projects/p/locations/us-central1/services/svc/events", nil)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	events := bufio.NewScanner(resp.Body)
	require.True(t, events.Scan(), "first event: %v", events.Err())
	assert.Equal(t, "event: update", events.Text())
	var update strings.Builder
	for events.Scan() && events.Text() != "" {
		update.WriteString(events.Text())
	}
	assert.Contains(t, update.String(), `<span class="state state-RECONCILING">RECONCILING</span><div class="message">Deploying revision.</div>`)
	require.True(t, events.Scan(), "the stream stays open: the next update comes when the clock line changes")
	assert.Equal(t, "event: update", events.Text())
	stopEvents()
	require.NoError(t, resp.Body.Close())

	// gRPC reflection lists the Cloud Run services (grpcurl relies on it).
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	}))
	reply, err := stream.Recv()
	require.NoError(t, err)
	var names []string
	for _, s := range reply.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	assert.ElementsMatch(t, []string{ // as README.md shows for grpcurl list
		"google.cloud.run.v2.Executions", "google.cloud.run.v2.Jobs", "google.cloud.run.v2.Revisions",
		"google.cloud.run.v2.Services", "google.cloud.run.v2.Tasks", "google.cloud.run.v2.WorkerPools", "google.longrunning.Operations",
		"google.monitoring.v3.MetricService", "grpc.health.v1.Health",
		"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
	}, names)
	require.NoError(t, stream.CloseSend())

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
	logs := stderr.String()
	assert.Contains(t, logs, `msg="admin request" method=GET path=/_fakerun/readiness status=200`)
	assert.Contains(t, logs, "msg=\"fakerun stopped\"")
}

func TestRunConfigError(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), []string{"-port", "x"}, func(string) string { return "" }, io.Discard, io.Discard)
	require.ErrorContains(t, err, `flag -port: invalid port "x"`)
}
