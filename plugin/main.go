// Command cloudrun-plugin is the Cloud Run deployment plugin for PipeCD v1. piped starts it as
//
//	cloudrun-plugin start --piped-plugin-service localhost:9087 --config '<plugin config JSON>'
package main

import (
	"fmt"
	"log"
	"os"

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
