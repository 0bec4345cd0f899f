package fakerun

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestRESTServiceShape compares, byte for byte, a service read over REST with
// testdata/service.json: a Service as Google's front end writes it, following
// the JSON representation of the v2 reference
// (https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services#Service):
// two-space indentation, fields in the proto's order, unset fields left out,
// lowerCamelCase names, int64 as strings, RFC 3339 timestamps, "300s"
// durations and enum names. A frozen clock and the fixed seed make every value
// reproducible.
func TestRESTServiceShape(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv, c := newFake(t, WithClock(func() time.Time { return epoch }))
	svc := &runpb.Service{
		Description: "web front end",
		Labels:      map[string]string{"team": "web"},
		Template: &runpb.RevisionTemplate{
			Timeout:                       durationpb.New(300 * time.Second),
			MaxInstanceRequestConcurrency: 80,
			Containers: []*runpb.Container{{
				Name:  "app",
				Image: "us-docker.pkg.dev/p/r/web:v1",
				Env:   []*runpb.EnvVar{{Name: "MODE", Values: &runpb.EnvVar_Value{Value: "production"}}},
				Ports: []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}},
			}},
		},
		Traffic: []*runpb.TrafficTarget{latestTarget(100, "")},
	}
	op, err := c.services.CreateService(t.Context(), &runpb.CreateServiceRequest{Parent: testParent, ServiceId: "svc", Service: svc})
	require.NoError(t, err)
	_, err = op.Wait(t.Context())
	require.NoError(t, err)

	resp, err := http.Get("http://" + srv.Addr() + "/v2/" + testSvc)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", got)
	assert.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"))

	want, err := os.ReadFile("testdata/service.json")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))

	resp, err = http.Get("http://" + srv.Addr() + "/v2/" + testSvc + "?prettyPrint=false")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	got, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, want))
	assert.Equal(t, compact.String(), string(got), "prettyPrint=false gives the same JSON without whitespace")
}
