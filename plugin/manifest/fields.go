package manifest

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// checkFields walks a decoded JSON value next to the message descriptor it should fill and
// reports the first field the message does not have, or a field Cloud Run sets by itself
// (OUTPUT_ONLY), by its full path such as "template.containers[0].imag".
// Type mistakes are left to protojson, which names the field.
func checkFields(v any, md protoreflect.MessageDescriptor, path string) error {
	if md.FullName().Parent() == "google.protobuf" {
		return nil // well-known types (Duration, Timestamp, ...) have their own JSON forms
	}
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
		if fd.Message() == nil || obj[k] == nil {
			continue
		}
		if err := checkValue(obj[k], fd, p); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(v any, fd protoreflect.FieldDescriptor, path string) error {
	switch {
	case fd.IsMap():
		m, ok := v.(map[string]any)
		if !ok || fd.MapValue().Message() == nil {
			return nil
		}
		for k, e := range m {
			if err := checkFields(e, fd.MapValue().Message(), fmt.Sprintf("%s[%q]", path, k)); err != nil {
				return err
			}
		}
	case fd.IsList():
		l, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, e := range l {
			if err := checkFields(e, fd.Message(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		return checkFields(v, fd.Message(), path)
	}
	return nil
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
		msg += "; this looks like a Knative serving.knative.dev/v1 manifest, which is not supported yet: " +
			"write a Cloud Run Admin API v2 Service (name, template.containers[].image, ...)"
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
