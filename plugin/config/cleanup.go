package config

import "fmt"

const stageCleanup = "CLOUDRUN_CANARY_CLEANUP"

// DefaultCleanupKeepCount is how many revisions CLOUDRUN_CANARY_CLEANUP keeps by default.
const DefaultCleanupKeepCount = 5

const keepCountAllowed = "an integer >= 1"

// CleanupStageOptions are the options of the CLOUDRUN_CANARY_CLEANUP stage, which deletes old
// revisions of the service. Revisions that serve traffic or carry a tag are never deleted.
type CleanupStageOptions struct {
	// KeepCount is how many of the newest revisions are kept besides those serving traffic
	// or tagged. Default: 5, at least 1.
	KeepCount int `json:"keepCount"`
	// KeepLatest keeps the newest revision (the one this deployment created) even if it serves
	// no traffic. Default: true.
	KeepLatest bool `json:"keepLatest"`
}

// DefaultCleanupStageOptions returns the options used when the stage config is empty.
func DefaultCleanupStageOptions() CleanupStageOptions {
	return CleanupStageOptions{KeepCount: DefaultCleanupKeepCount, KeepLatest: true}
}

// DecodeCleanupStageOptions strictly decodes the JSON stage config of CLOUDRUN_CANARY_CLEANUP,
// applies the defaults and validates the result. nil or empty raw yields the defaults.
func DecodeCleanupStageOptions(raw []byte) (CleanupStageOptions, error) {
	opts := DefaultCleanupStageOptions()
	if err := decodeObject(stageCleanup, raw,
		intField("keepCount", &opts.KeepCount, keepCountAllowed),
		boolField("keepLatest", &opts.KeepLatest),
	); err != nil {
		return CleanupStageOptions{}, err
	}
	if err := opts.Validate(); err != nil {
		return CleanupStageOptions{}, err
	}
	return opts, nil
}

// Validate checks the ranges of the options.
func (o CleanupStageOptions) Validate() error {
	if o.KeepCount < 1 {
		return fmt.Errorf("%s: field %q: %d is out of range, allowed %s", stageCleanup, "keepCount", o.KeepCount, keepCountAllowed)
	}
	return nil
}

// UnmarshalJSON decodes like DecodeCleanupStageOptions.
func (o *CleanupStageOptions) UnmarshalJSON(data []byte) error {
	v, err := DecodeCleanupStageOptions(data)
	if err != nil {
		return err
	}
	*o = v
	return nil
}
