package config

import "sync/atomic"

// DefaultPluginName is the plugin's name in the examples, used in messages until SetPluginName is called.
const DefaultPluginName = "cloudrun"

// pluginName is the plugin's name in piped.yaml (spec.plugins[].name), which is also the key of its section
// under spec.plugins in app.pipecd.yaml.
var pluginName atomic.Pointer[string]

// SetPluginName sets the name that messages about the application config use; main calls it at startup
// with the name piped started the plugin with. An empty name keeps the default.
func SetPluginName(name string) {
	if name != "" {
		pluginName.Store(&name)
	}
}

// PluginName returns the plugin's name in piped.yaml.
func PluginName() string {
	if p := pluginName.Load(); p != nil {
		return *p
	}
	return DefaultPluginName
}

// PluginSection is the path of the plugin's part of app.pipecd.yaml, e.g. "spec.plugins.cloudrun".
func PluginSection() string {
	return "spec.plugins." + PluginName()
}
