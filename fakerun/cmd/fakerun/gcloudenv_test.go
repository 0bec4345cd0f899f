package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGcloudEnv(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "gcloud")
	var stdout, stderr bytes.Buffer
	env := map[string]string{"FAKERUN_PORT": "9090"}
	err := runGcloudEnv([]string{"-project", "demo", "-region", "asia-northeast1", "-config", dir}, func(k string) string { return env[k] }, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	assert.Equal(t, `export CLOUDSDK_CONFIG='`+dir+`'
export CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN='http://run.googleapis.com/'
export CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER='http://cloudresourcemanager.googleapis.com/'
export CLOUDSDK_PROXY_TYPE='http'
export CLOUDSDK_PROXY_ADDRESS='127.0.0.1'
export CLOUDSDK_PROXY_PORT='9090'
export CLOUDSDK_AUTH_ACCESS_TOKEN='fakerun'
export CLOUDSDK_CORE_PROJECT='demo'
export CLOUDSDK_RUN_REGION='asia-northeast1'
export CLOUDSDK_CORE_DISABLE_PROMPTS='1'
export CLOUDSDK_CORE_SHOULD_PROMPT_TO_ENABLE_API='false'
export CLOUDSDK_CORE_DISABLE_USAGE_REPORTING='true'
export CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK='true'
export CLOUDSDK_SURVEY_DISABLE_PROMPTS='true'
`, stdout.String())
	info, err := os.Stat(dir)
	require.NoError(t, err, "the private configuration directory exists, so gcloud can write to it")
	assert.True(t, info.IsDir())

	err = runGcloudEnv([]string{"extra"}, func(string) string { return "" }, &stdout, &stderr)
	assert.ErrorContains(t, err, "gcloud-env takes no arguments")
}
