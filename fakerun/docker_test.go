package fakerun

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/docker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dockerApp is the container the docker test builds: it answers with the
// container contract it was started with.
const dockerApp = `package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "K_SERVICE=%s K_REVISION=%s K_CONFIGURATION=%s PORT=%s FOO=%s ARGS=%s HOST=%s\n",
			os.Getenv("K_SERVICE"), os.Getenv("K_REVISION"), os.Getenv("K_CONFIGURATION"), os.Getenv("PORT"),
			os.Getenv("FOO"), strings.Join(os.Args[1:], ","), r.Host)
	})
	if err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// engineTest talks to the Docker engine for the test, or skips it (fails
// it on CI, where CI=true) when no engine is reachable.
type engineTest struct {
	t      *testing.T
	client *http.Client
	base   string
}

func requireEngine(t *testing.T) *engineTest {
	t.Helper()
	client, base, err := docker.Client(os.Getenv("DOCKER_HOST"))
	require.NoError(t, err)
	e := &engineTest{t: t, client: client, base: base}
	if _, err := e.do(http.MethodGet, "/_ping", "", nil); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no Docker engine is reachable (DOCKER_HOST=%q): %v", os.Getenv("DOCKER_HOST"), err)
		}
		t.Skipf("skipping the docker mode test: no Docker engine is reachable (DOCKER_HOST=%q): %v", os.Getenv("DOCKER_HOST"), err)
	}
	return e
}

func (e *engineTest) do(method, path, contentType string, body io.Reader) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.base+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode >= 300 {
		err = fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, out)
	}
	return out, err
}

// buildImage compiles the Go program source statically and builds it FROM
// scratch as tag (never pulling: scratch is not an image), removing the image
// at cleanup.
func (e *engineTest) buildImage(tag, source string) {
	t := e.t
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(source), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module app\n\ngo 1.26\n"), 0o600))
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	build := exec.Command(goBin, "build", "-o", "app", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOWORK=off", "GOFLAGS=")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	app, err := os.ReadFile(filepath.Join(dir, "app"))
	require.NoError(t, err)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte("FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n")},
		{"app", 0o755, app},
	} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}))
		_, err := tw.Write(f.data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	out, err = e.do(http.MethodPost, "/build?rm=1&forcerm=1&t="+url.QueryEscape(tag), "application/x-tar", &buf)
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), `"error"`, "%s", out)
	t.Cleanup(func() { _, _ = e.do(http.MethodDelete, "/images/"+url.PathEscape(tag)+"?force=1", "", nil) })
}

// containers lists the containers fakerun runs for revision (full name).
func (e *engineTest) containers(revision string) []string {
	return e.labelled("fakerun.revision=" + revision)
}

// labelled lists the containers with a label ("key=value").
func (e *engineTest) labelled(label string) []string {
	filters, err := json.Marshal(map[string][]string{"label": {label}})
	require.NoError(e.t, err)
	out, err := e.do(http.MethodGet, "/containers/json?all=1&filters="+url.QueryEscape(string(filters)), "", nil)
	require.NoError(e.t, err)
	var list []struct{ ID string }
	require.NoError(e.t, json.Unmarshal(out, &list))
	ids := make([]string, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	return ids
}

func TestDockerMode(t *testing.T) {
	t.Parallel()
	e := requireEngine(t)
	tag := fmt.Sprintf("fakerun-test-app:%d", time.Now().UnixNano())
	e.buildImage(tag, dockerApp)
	missing := tag + "-missing"

	srv, c := newFake(t, WithBehaviors(Behaviors{Images: map[string]Behavior{tag: {Docker: true}, missing: {Docker: true}}}))
	client := srv.TrafficClient()
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "svc",
		Service: &runpb.Service{Template: &runpb.RevisionTemplate{Revision: "svc-v1", Containers: []*runpb.Container{{
			Image: tag, Args: []string{"-x", "1"}, Env: []*runpb.EnvVar{{Name: "FOO", Values: &runpb.EnvVar_Value{Value: "bar"}}},
		}}}}})
	require.NoError(t, err)
	svc, err := op.Wait(t.Context())
	require.NoError(t, err)

	code, rev, body := get(t, client, svc.GetUri()+"/")
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "svc-v1", rev)
	host := strings.TrimPrefix(svc.GetUri(), "https://")
	assert.Equal(t, "K_SERVICE=svc K_REVISION=svc-v1 K_CONFIGURATION=svc PORT=8080 FOO=bar ARGS=-x,1 HOST="+host+"\n", body)
	v1 := testSvc + "/revisions/svc-v1"
	assert.Len(t, e.containers(v1), 1)

	// A new revision takes all traffic: svc-v1's container stops.
	svc.Template = &runpb.RevisionTemplate{Revision: "svc-v2", Containers: []*runpb.Container{{Image: tag}}}
	svc, err = update(t, c, svc)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(e.containers(v1)) == 0 }, time.Minute, 100*time.Millisecond)
	code, rev, _ = get(t, client, svc.GetUri())
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "svc-v2", rev)

	// An image that is not on the engine is never pulled: the request gets 503.
	svc.Template = &runpb.RevisionTemplate{Revision: "svc-v3", Containers: []*runpb.Container{{Image: missing}}}
	svc, err = update(t, c, svc)
	require.NoError(t, err)
	code, _, body = get(t, client, svc.GetUri())
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "never pulls")

	// Close removes every container fakerun started.
	v2 := testSvc + "/revisions/svc-v2"
	require.NoError(t, srv.Close())
	assert.Empty(t, e.containers(v2))
}
