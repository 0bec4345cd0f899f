package config

import (
	"fmt"
	"regexp"
)

const stageRollback = "CLOUDRUN_ROLLBACK"

// revisionNamePattern is Cloud Run's rule for revision names: a DNS label of at most 63 characters
// starting with a letter.
var revisionNamePattern = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// RollbackStageOptions are the options of the CLOUDRUN_ROLLBACK stage.
type RollbackStageOptions struct {
	// Revision is the short name of a revision of the service that should get 100% of the traffic.
	// Empty (the default) restores the traffic block recorded before this deployment started.
	Revision string `json:"revision"`
}

// DecodeRollbackStageOptions strictly decodes and validates the JSON stage config of CLOUDRUN_ROLLBACK.
// nil or empty raw yields the defaults (restore the pre-deploy state).
func DecodeRollbackStageOptions(raw []byte) (RollbackStageOptions, error) {
	var opts RollbackStageOptions
	if err := decodeObject(stageRollback, raw, stringField("revision", &opts.Revision)); err != nil {
		return RollbackStageOptions{}, err
	}
	if err := opts.Validate(); err != nil {
		return RollbackStageOptions{}, err
	}
	return opts, nil
}

// Validate checks the revision name format.
func (o RollbackStageOptions) Validate() error {
	if o.Revision != "" && !revisionNamePattern.MatchString(o.Revision) {
		return fmt.Errorf("%s: field %q: %q is not a revision name, allowed a short revision name "+
			"(lowercase letters, digits and hyphens, starting with a letter, at most 63 characters) or empty", stageRollback, "revision", o.Revision)
	}
	return nil
}

// UnmarshalJSON decodes like DecodeRollbackStageOptions.
func (o *RollbackStageOptions) UnmarshalJSON(data []byte) error {
	v, err := DecodeRollbackStageOptions(data)
	if err != nil {
		return err
	}
	*o = v
	return nil
}
