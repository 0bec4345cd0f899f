package config

import (
	"fmt"
	"time"

	"github.com/pipe-cd/piped-plugin-sdk-go/unit"
)

// DefaultSyncTimeout is how long CLOUDRUN_SYNC (and quick sync) wait for the new revision to become ready.
const DefaultSyncTimeout = 10 * time.Minute

const stageSync = "CLOUDRUN_SYNC"

// SyncStageOptions are the options of the CLOUDRUN_SYNC stage (pipeline `with:`).
type SyncStageOptions struct {
	// SkipTrafficShift deploys the new revision with 0% traffic and keeps every existing traffic
	// entry (tags included) exactly as it was: the canary pattern, followed by CLOUDRUN_PROMOTE.
	// When false, the new revision receives 100% and existing tags stay as 0% tag-only entries.
	// Default: false.
	SkipTrafficShift bool `json:"skipTrafficShift"`
	// Prune deletes, after a successful sync, the revisions of the service that serve no traffic
	// and carry no tag (the new revision is always kept). Default: false.
	Prune bool `json:"prune"`
	// Tag gives the new revision a deterministic preview tag (see naming.PreviewTag), so it gets
	// its own URL even while it serves 0%. Default: false.
	Tag bool `json:"tag"`
	// Timeout bounds the wait for the new revision to become ready, written like "30s" or "10m".
	// Default: 10m.
	Timeout unit.Duration `json:"timeout"`
}

// DefaultSyncStageOptions returns the options used when the stage config is empty.
func DefaultSyncStageOptions() SyncStageOptions {
	return SyncStageOptions{Timeout: unit.Duration(DefaultSyncTimeout)}
}

// DecodeSyncStageOptions strictly decodes the JSON stage config of CLOUDRUN_SYNC, applies the
// defaults and validates the result. nil or empty raw (quick sync sends none) yields the defaults.
func DecodeSyncStageOptions(raw []byte) (SyncStageOptions, error) {
	opts := DefaultSyncStageOptions()
	if err := decodeObject(stageSync, raw,
		boolField("skipTrafficShift", &opts.SkipTrafficShift),
		boolField("prune", &opts.Prune),
		boolField("tag", &opts.Tag),
		timeoutField("timeout", &opts.Timeout),
	); err != nil {
		return SyncStageOptions{}, err
	}
	return opts, nil
}

const timeoutAllowed = `a positive duration such as "30s" or "10m"`

// timeoutField decodes a positive duration such as "30s".
func timeoutField(name string, dst *unit.Duration) field {
	return field{name, func(o *object) error {
		d := dst.Duration()
		if err := o.duration(name, &d, timeoutAllowed); err != nil {
			return err
		}
		if d <= 0 {
			return o.errorf(name, "%q is not positive, allowed %s", d.String(), timeoutAllowed)
		}
		*dst = unit.Duration(d)
		return nil
	}}
}

// Validate checks options built in code; decoded options are already valid.
func (o SyncStageOptions) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("%s: field %q: %q is not positive, allowed %s", stageSync, "timeout", o.Timeout.Duration().String(), timeoutAllowed)
	}
	return nil
}

// UnmarshalJSON decodes like DecodeSyncStageOptions.
func (o *SyncStageOptions) UnmarshalJSON(data []byte) error {
	v, err := DecodeSyncStageOptions(data)
	if err != nil {
		return err
	}
	*o = v
	return nil
}
