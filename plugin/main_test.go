package main

import (
	"encoding/json"
	"testing"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

func TestPluginNameFromArgs(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name string
		args []string
		want string
	}{
		{name: "flag and value", args: []string{"start", "--piped-plugin-service", "localhost:9087", "--config", `{"name":"run-tokyo","port":7001}`}, want: "run-tokyo"},
		{name: "flag=value", args: []string{"start", `--config={"name":"cr"}`}, want: "cr"},
		{name: "no config", args: []string{"start"}, want: ""},
		{name: "config that is not JSON", args: []string{"start", "--config", "{"}, want: ""},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := pluginNameFromArgs(tc.args); got != tc.want {
				t.Errorf("pluginNameFromArgs(%q) = %q, want %q", tc.args, got, tc.want)
			}
		})
	}
}

// TestApplicationConfigErrorsNameThePlugin checks that an app.pipecd.yaml mistake names the plugin's section
// by the name piped started the plugin with, not a placeholder.
func TestApplicationConfigErrorsNameThePlugin(t *testing.T) {
	config.SetPluginName(pluginNameFromArgs([]string{"start", "--config", `{"name":"run-tokyo"}`}))
	var spec config.RawApplicationSpec
	if err := json.Unmarshal([]byte(`{"inputs": {}}`), &spec); err != nil {
		t.Fatal(err)
	}
	_, err := spec.Decode("app.pipecd.yaml")
	want := `app.pipecd.yaml: application spec.plugins.run-tokyo: unknown field "inputs", allowed fields: access, input, quickSync`
	if err == nil || err.Error() != want {
		t.Errorf("Decode error = %v, want %s", err, want)
	}
}
