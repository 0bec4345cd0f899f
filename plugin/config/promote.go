package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/pipe-cd/piped-plugin-sdk-go/unit"
)

const stagePromote = "CLOUDRUN_PROMOTE"

const percentAllowed = "0-100 (an integer, optionally with a % suffix)"

// PromoteStageOptions are the options of the CLOUDRUN_PROMOTE stage.
type PromoteStageOptions struct {
	// Percent is the share of the traffic owned by this deployment that the new revision gets,
	// written `10` or "10%". The rest stays with the revisions that served before the deployment,
	// in their original proportions. Required, 0-100.
	Percent unit.Percentage `json:"percent"`
}

// DecodePromoteStageOptions strictly decodes and validates the JSON stage config of CLOUDRUN_PROMOTE.
// The percent field is required, so nil or empty raw is an error.
func DecodePromoteStageOptions(raw []byte) (PromoteStageOptions, error) {
	var opts PromoteStageOptions
	err := decodeObject(stagePromote, raw, field{"percent", func(o *object) error {
		v := o.value("percent")
		if v == nil {
			return fmt.Errorf("%s: field %q is required, allowed %s", stagePromote, "percent", percentAllowed)
		}
		p, err := parsePercent(v)
		if err != nil {
			return o.errorf("percent", "%s", err)
		}
		opts.Percent = p
		return nil
	}})
	if err != nil {
		return PromoteStageOptions{}, err
	}
	return opts, nil
}

// parsePercent accepts 10, "10" and "10%" within 0-100.
func parsePercent(v json.RawMessage) (unit.Percentage, error) {
	// v is a valid JSON value (the object was parsed already): a string or a bare number.
	text := strings.TrimSpace(string(v))
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		text = s
	}
	p := unit.Percentage{}
	num := text
	if strings.HasSuffix(num, "%") {
		p.HasSuffix = true
		num = strings.TrimSuffix(num, "%")
	}
	n, err := strconv.Atoi(num)
	if err != nil || strings.HasPrefix(num, "+") {
		return unit.Percentage{}, fmt.Errorf("%s is not a percentage, allowed %s", shorten(v), percentAllowed)
	}
	if n < 0 || n > 100 {
		return unit.Percentage{}, fmt.Errorf("%s is out of range, allowed %s", shorten(v), percentAllowed)
	}
	p.Number = n
	return p, nil
}

// Validate checks options built in code; decoded options are already valid.
func (o PromoteStageOptions) Validate() error {
	if o.Percent.Number < 0 || o.Percent.Number > 100 {
		return fmt.Errorf("%s: field %q: %d is out of range, allowed %s", stagePromote, "percent", o.Percent.Number, percentAllowed)
	}
	return nil
}

// UnmarshalJSON decodes like DecodePromoteStageOptions.
func (o *PromoteStageOptions) UnmarshalJSON(data []byte) error {
	v, err := DecodePromoteStageOptions(data)
	if err != nil {
		return err
	}
	*o = v
	return nil
}
