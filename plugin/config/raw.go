package config

import (
	"encoding/json"
	"fmt"
)

// The types piped's SDK decodes its messages into. They keep piped's JSON as it is and are decoded late,
// by the stage, live state or plan preview that uses them, so that a mistake in piped.yaml or
// app.pipecd.yaml is reported where the user reads it instead of stopping the plugin.

// rawJSON is a JSON value kept exactly as it was sent.
type rawJSON struct {
	raw json.RawMessage
}

// UnmarshalJSON keeps the raw value.
func (r *rawJSON) UnmarshalJSON(data []byte) error {
	r.raw = append(r.raw[:0], data...)
	return nil
}

// MarshalJSON returns the value as it was sent, or null when nothing was.
func (r rawJSON) MarshalJSON() ([]byte, error) {
	if len(r.raw) == 0 {
		return []byte("null"), nil
	}
	return r.raw, nil
}

// RawDeployTargetConfig is a deploy target's config exactly as piped sent it. It is decoded with
// DecodeDeployTargetConfig when a stage uses the target, so that a mistake in piped.yaml fails the
// stages of that target with a message in the stage log, instead of stopping the plugin at startup.
type RawDeployTargetConfig struct{ rawJSON }

// Decode decodes and validates the config (see DecodeDeployTargetConfig).
func (c RawDeployTargetConfig) Decode() (DeployTargetConfig, error) {
	return DecodeDeployTargetConfig(c.raw)
}

// RawApplicationSpec is the plugin's part of app.pipecd.yaml exactly as written. It is decoded into
// ApplicationSpec by the stages, so that a mistake fails the stage with a message in the stage log
// rather than an opaque RPC error.
type RawApplicationSpec struct{ rawJSON }

// Decode decodes and validates the spec; file is the application config file name, for error messages.
func (s RawApplicationSpec) Decode(file string) (ApplicationSpec, error) {
	raw := s.raw
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	var spec ApplicationSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return ApplicationSpec{}, fmt.Errorf("%s: %w", file, err)
	}
	if err := spec.Validate(); err != nil {
		return ApplicationSpec{}, fmt.Errorf("%s: %w", file, err)
	}
	return spec, nil
}
