package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// object is a JSON object whose fields are decoded one by one, so that every error can name
// the place (where), the field, the bad value and the allowed values.
type object struct {
	where  string
	prefix string // field path prefix for nested objects, e.g. "input."
	fields map[string]json.RawMessage
}

// field is one field of a config object: its name and how its value is decoded into its destination. An
// object allows exactly the fields it decodes (decodeObject), so a field cannot be allowed but dropped.
type field struct {
	name   string
	decode func(o *object) error
}

func boolField(name string, dst *bool) field {
	return field{name, func(o *object) error { return o.bool(name, dst) }}
}

// optionalBoolField decodes a boolean field that may be left out: dst stays nil when it is absent.
func optionalBoolField(name string, dst **bool) field {
	return field{name, func(o *object) error {
		if o.value(name) == nil {
			return nil
		}
		v := new(bool)
		if err := o.bool(name, v); err != nil {
			return err
		}
		*dst = v
		return nil
	}}
}

func stringField(name string, dst *string) field {
	return field{name, func(o *object) error { return o.string(name, dst) }}
}

func intField(name string, dst *int, allowed string) field {
	return field{name, func(o *object) error { return o.int(name, dst, allowed) }}
}

// rangeField decodes an optional integer from lo to hi; dst keeps its value when the field is absent, so an
// explicit value outside the range (0 included) is refused rather than read as "absent". unset says what
// leaving it out does.
func rangeField(name string, dst *int, lo, hi int, unset string) field {
	allowed := fmt.Sprintf("an integer from %d to %d (%s)", lo, hi, unset)
	return field{name, func(o *object) error {
		if o.value(name) == nil {
			return nil
		}
		var n int
		if err := o.int(name, &n, allowed); err != nil {
			return err
		}
		if n < lo || n > hi {
			return o.errorf(name, "%d is out of range, allowed %s", n, allowed)
		}
		*dst = n
		return nil
	}}
}

// objectField decodes a nested object with its own fields; an absent one leaves them as they are.
func objectField(name string, fields ...field) field {
	return field{name, func(o *object) error {
		n, err := o.nested(name, fieldNames(fields))
		if err != nil {
			return err
		}
		return n.decode(fields)
	}}
}

// decodeObject decodes raw, a JSON object, field by field; a field outside fields is an error, and nil,
// empty or null raw is an empty object. where names the config in error messages.
func decodeObject(where string, raw []byte, fields ...field) error {
	o, err := parseObject(where, raw, fieldNames(fields))
	if err != nil {
		return err
	}
	return o.decode(fields)
}

func (o *object) decode(fields []field) error {
	for _, f := range fields {
		if err := f.decode(o); err != nil {
			return err
		}
	}
	return nil
}

func fieldNames(fields []field) []string {
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		names = append(names, f.name)
	}
	slices.Sort(names)
	return names
}

// parseObject decodes raw as a JSON object and rejects fields outside allowed.
// nil, empty or null input yields an empty object.
func parseObject(where string, raw []byte, allowed []string) (*object, error) {
	return parseNested(where, "", raw, allowed)
}

func parseNested(where, prefix string, raw []byte, allowed []string) (*object, error) {
	o := &object{where: where, prefix: prefix, fields: map[string]json.RawMessage{}}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return o, nil
	}
	if raw[0] != '{' {
		if prefix == "" {
			return nil, fmt.Errorf("%s: must be an object, got %s", where, shorten(raw))
		}
		return nil, fmt.Errorf("%s: field %q: must be an object, got %s", where, strings.TrimSuffix(prefix, "."), shorten(raw))
	}
	if err := json.Unmarshal(raw, &o.fields); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", where, err)
	}
	for _, name := range sortedKeys(o.fields) {
		if slices.Contains(allowed, name) {
			continue
		}
		if len(allowed) == 0 {
			return nil, fmt.Errorf("%s: unknown field %q, no fields are allowed", where, prefix+name)
		}
		return nil, fmt.Errorf("%s: unknown field %q, allowed fields: %s", where, prefix+name, strings.Join(allowed, ", "))
	}
	return o, nil
}

// value returns the raw value of a field, or nil when the field is absent or null.
func (o *object) value(name string) json.RawMessage {
	v, ok := o.fields[name]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return nil
	}
	return v
}

func (o *object) errorf(name string, format string, args ...any) error {
	return fmt.Errorf("%s: field %q: %s", o.where, o.prefix+name, fmt.Sprintf(format, args...))
}

// nested decodes an object-valued field; an absent field yields an empty object.
func (o *object) nested(name string, allowed []string) (*object, error) {
	return parseNested(o.where, o.prefix+name+".", o.value(name), allowed)
}

// bool decodes a boolean field into dst; dst keeps its value when the field is absent.
func (o *object) bool(name string, dst *bool) error {
	v := o.value(name)
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return o.errorf(name, "%s is not a boolean, allowed true or false", shorten(v))
	}
	return nil
}

// string decodes a string field into dst; dst keeps its value when the field is absent.
func (o *object) string(name string, dst *string) error {
	v := o.value(name)
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return o.errorf(name, "%s is not a string", shorten(v))
	}
	return nil
}

// int decodes an integer field into dst; dst keeps its value when the field is absent.
func (o *object) int(name string, dst *int, allowed string) error {
	v := o.value(name)
	if v == nil {
		return nil
	}
	n, ok := parseInteger(v)
	if !ok {
		return o.errorf(name, "%s is not an integer, allowed %s", shorten(v), allowed)
	}
	*dst = n
	return nil
}

// duration decodes a Go duration string such as "30s" into dst; dst keeps its value when the field is absent.
// Bare numbers are rejected: `timeout: 30` would otherwise silently mean 30 nanoseconds.
func (o *object) duration(name string, dst *time.Duration, allowed string) error {
	v := o.value(name)
	if v == nil {
		return nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return o.errorf(name, "%s is not a duration, allowed %s", shorten(v), allowed)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return o.errorf(name, "%q is not a duration, allowed %s", s, allowed)
	}
	*dst = d
	return nil
}

// parseInteger accepts a JSON number without fraction or exponent that fits an int32-ish range.
func parseInteger(v json.RawMessage) (int, bool) {
	s := string(bytes.TrimSpace(v))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
		return 0, false
	}
	return int(n), true
}

// shorten renders a raw JSON value for an error message, cut to a readable length.
func shorten(v []byte) string {
	const limit = 40
	r := []rune(string(bytes.TrimSpace(v)))
	if len(r) > limit {
		return string(r[:limit]) + "..."
	}
	return string(r)
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
