package knative

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host, path string
		want       bool
	}{
		{"us-central1-run.googleapis.com", "/apis/serving.knative.dev/v1/namespaces/p/services", true},
		{"asia-northeast1-run.googleapis.com", "/apis/run.googleapis.com/v1/namespaces/p/jobs", true},
		{"run.googleapis.com", "/v1/projects/p/locations", true},
		{"run.googleapis.com", "/v2/projects/p/locations/l/services", false},
		{"cloudresourcemanager.googleapis.com", "/v1/projects/p", true},
		{"svc-abc-uc.a.run.app", "/", false},
		{"evil.example-run.googleapis.com", "/", false},
		{"127.0.0.1", "/v1/projects/p/locations", false},
	} {
		assert.Equal(t, tc.want, Serves(tc.host, tc.path), "%s%s", tc.host, tc.path)
	}
}

func TestLabelSelector(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"serving.knative.dev/service": "web", "client.knative.dev/nonce": "abc"}
	for _, tc := range []struct {
		selector string
		want     bool
	}{
		{"", true},
		{"serving.knative.dev/service = web", true},
		{"serving.knative.dev/service==web", true},
		{"serving.knative.dev/service=api", false},
		{"serving.knative.dev/service=web,client.knative.dev/nonce=abc", true},
		{"serving.knative.dev/service=web,client.knative.dev/nonce=xyz", false},
		{"serving.knative.dev/service!=api", true},
		{"client.knative.dev/nonce", true},
		{"!client.knative.dev/nonce", false},
	} {
		sel, err := parseSelector(tc.selector)
		require.NoError(t, err, tc.selector)
		assert.Equal(t, tc.want, sel.matches(labels), tc.selector)
	}
	_, err := parseSelector("env in (a, b)")
	assert.ErrorContains(t, err, "is not a label requirement", "set-based requirements are not supported, and say so")
}
