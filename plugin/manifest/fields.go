package manifest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// checkFields walks a decoded JSON value next to the message descriptor it should fill and
// reports, by its full path such as "template.containers[0].imag", the first field the message
// does not have, a field Cloud Run sets by itself (OUTPUT_ONLY), or a value of the wrong type.
func checkFields(v any, md protoreflect.MessageDescriptor, path string) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := join(path, k)
		fd := fieldByName(md, k)
		if fd == nil {
			return unknownField(md, p, k)
		}
		if outputOnly(fd) {
			return fmt.Errorf("field %q is output only: Cloud Run sets it, remove it from the manifest", p)
		}
		if err := checkValue(obj[k], fd, p); err != nil {
			return err
		}
	}
	return nil
}

// checkValue checks the JSON type of a field's value; null means unset and is always fine.
func checkValue(v any, fd protoreflect.FieldDescriptor, path string) error {
	switch {
	case v == nil:
		return nil
	case fd.IsMap():
		m, ok := v.(map[string]any)
		if !ok {
			return typeError(path, v, "an object")
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if err := checkSingle(m[k], fd.MapValue(), fmt.Sprintf("%s[%q]", path, k)); err != nil {
				return err
			}
		}
		return nil
	case fd.IsList():
		l, ok := v.([]any)
		if !ok {
			return typeError(path, v, "a list")
		}
		for i, e := range l {
			if err := checkSingle(e, fd, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	return checkSingle(v, fd, path)
}

// checkSingle checks one (non-list, non-map) value against the field's kind.
func checkSingle(v any, fd protoreflect.FieldDescriptor, path string) error {
	if v == nil {
		return nil
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		md := fd.Message()
		if md.FullName() == "google.protobuf.Duration" {
			if s, ok := v.(string); !ok || !durationPattern.MatchString(s) {
				return typeError(path, v, `a duration in seconds with an "s" suffix, such as "300s" or "1.5s"`)
			}
			return nil
		}
		if md.FullName().Parent() == "google.protobuf" {
			return nil // other well-known types have their own JSON forms; protojson checks them
		}
		if _, ok := v.(map[string]any); !ok {
			return typeError(path, v, "an object")
		}
		return checkFields(v, md, path)
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			return typeError(path, v, "a string (quote the value in YAML)")
		}
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			return typeError(path, v, "true or false")
		}
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		names := make([]string, 0, values.Len())
		for i := range values.Len() {
			names = append(names, string(values.Get(i).Name()))
		}
		if s, ok := v.(string); !ok || !slices.Contains(names, s) {
			return typeError(path, v, "one of "+strings.Join(names, ", "))
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if !isNumber(v, false) {
			return typeError(path, v, "a number")
		}
	default: // integers
		if !isNumber(v, true) {
			return typeError(path, v, "an integer")
		}
	}
	return nil
}

var durationPattern = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?s$`)

// isNumber accepts JSON numbers and numeric strings, as protojson does.
func isNumber(v any, integer bool) bool {
	var f float64
	switch n := v.(type) {
	case json.Number:
		parsed, err := n.Float64()
		if err != nil {
			return false
		}
		f = parsed
	case string:
		parsed, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return false
		}
		f = parsed
	default:
		return false
	}
	return !integer || f == math.Trunc(f)
}

func typeError(path string, v any, allowed string) error {
	b, _ := json.Marshal(v)
	r := []rune(string(b))
	if len(r) > 60 {
		r = append(r[:60], []rune("...")...)
	}
	return fmt.Errorf("field %q: %s is invalid, allowed %s", path, string(r), allowed)
}

// fieldByName finds a field by its JSON (camelCase) or proto (snake_case) name, as protojson does.
func fieldByName(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	if fd := md.Fields().ByJSONName(name); fd != nil {
		return fd
	}
	return md.Fields().ByTextName(name)
}

func outputOnly(fd protoreflect.FieldDescriptor) bool {
	behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY)
}

func unknownField(md protoreflect.MessageDescriptor, path, name string) error {
	msg := fmt.Sprintf("unknown field %q", path)
	if s := suggest(md, name); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	if !strings.Contains(path, ".") && (name == "spec" || name == "metadata") {
		msg += "; this looks like a Knative Service: start it with \"apiVersion: serving.knative.dev/v1\" and \"kind: Service\""
	}
	return fmt.Errorf("%s", msg)
}

// suggest returns the field name closest to name, if it is a likely typo.
func suggest(md protoreflect.MessageDescriptor, name string) string {
	best, bestDistance := "", 3
	fields := md.Fields()
	for i := range fields.Len() {
		candidate := fields.Get(i).JSONName()
		if d := distance(strings.ToLower(name), strings.ToLower(candidate)); d < bestDistance {
			best, bestDistance = candidate, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
