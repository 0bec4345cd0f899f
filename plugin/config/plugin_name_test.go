package config

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSetPluginName: the application's errors name the plugin's section by the name piped started it with.
// Not parallel: the name is the process's, and the parallel tests expect the default.
func TestSetPluginName(t *testing.T) {
	t.Cleanup(func() { SetPluginName(DefaultPluginName) })
	assert.Equal(t, "spec.plugins.cloudrun", PluginSection())
	SetPluginName("run-tokyo")
	SetPluginName("")
	assert.Equal(t, "run-tokyo", PluginName(), "an empty name keeps the one set")
	var spec ApplicationSpec
	err := json.Unmarshal([]byte(`{"inputs": {}}`), &spec)
	assert.ErrorContains(t, err, `application spec.plugins.run-tokyo: unknown field "inputs"`)
}
