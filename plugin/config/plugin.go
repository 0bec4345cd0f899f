// Package config holds the typed configuration of the Cloud Run plugin: the plugin-wide config,
// the deploy target config (piped.yaml), the application spec (app.pipecd.yaml spec.plugins.<plugin>)
// and the options of every stage. Every decoder is strict: unknown fields are errors, and every
// error names where the value came from, the field, the bad value and the allowed values.
package config

import "encoding/json"

// PluginConfig is the plugin-wide config (piped.yaml spec.plugins[].config).
// The plugin has no plugin-wide settings yet; an empty object (or nothing) is accepted.
type PluginConfig struct{}

// UnmarshalJSON rejects any field, so that a typo in piped.yaml is not silently ignored.
func (c *PluginConfig) UnmarshalJSON(data []byte) error {
	return decodeObject("plugin config", data)
}

// MarshalJSON encodes the (empty) plugin config.
func (c PluginConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct{}{})
}
