// Command cloudrun-plugin is the Cloud Run deployment plugin for PipeCD v1. piped starts it as
//
//	cloudrun-plugin start --piped-plugin-service localhost:9087 --config '<plugin config JSON>'
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strings"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/deployment"
	"github.com/pipecd-cloudrun/cloudrun/plugin/livestate"
	"github.com/pipecd-cloudrun/cloudrun/plugin/planpreview"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

func main() {
	// Replaces the SDK's own `version` command, which prints pipecd's build information instead of the plugin's.
	if len(os.Args) == 2 && os.Args[1] == "version" {
		fmt.Println(versionLine())
		return
	}
	config.SetPluginName(pluginNameFromArgs(os.Args[1:]))
	// One Cloud Run client per deploy target, shared by the stages, live state and plan preview.
	registry := provider.NewRegistry()
	plugin, err := sdk.NewPlugin(version,
		sdk.WithDeploymentPlugin[config.PluginConfig, config.RawDeployTargetConfig, config.RawApplicationSpec](deployment.NewPlugin(registry)),
		sdk.WithLivestatePlugin[config.PluginConfig, config.RawDeployTargetConfig, config.RawApplicationSpec](livestate.NewPlugin(registry)),
		sdk.WithPlanPreviewPlugin[config.PluginConfig, config.RawDeployTargetConfig, config.RawApplicationSpec](planpreview.NewPlugin(registry)),
	)
	if err != nil {
		log.Fatalf("failed to create the plugin: %v", err)
	}
	if err := plugin.Run(); err != nil {
		log.Fatalf("failed to run the plugin: %v", err)
	}
}

// pluginNameFromArgs returns the plugin's name (spec.plugins[].name in piped.yaml) from the --config flag
// piped starts the plugin with, or "" without one. Messages about app.pipecd.yaml use it to name the
// plugin's section there; the SDK, which parses the flag too, does not pass the name on.
func pluginNameFromArgs(args []string) string {
	for i, arg := range args {
		value, ok := strings.CutPrefix(arg, "--config=")
		if !ok && arg == "--config" && i+1 < len(args) {
			value, ok = args[i+1], true
		}
		if !ok {
			continue
		}
		var cfg struct {
			Name string `json:"name"`
		}
		if json.Unmarshal([]byte(value), &cfg) == nil {
			return cfg.Name
		}
	}
	return ""
}
