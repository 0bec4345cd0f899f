package fakerun

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// serviceFields describes runpb.Service once.
var serviceFields = (&runpb.Service{}).ProtoReflect().Descriptor().Fields()

// writableFields holds the Service fields clients may set: not OUTPUT_ONLY, and not name or etag (which
// identify and guard the write instead). It is computed once: reading the field-behaviour annotation
// of every field on every update is slow.
var writableFields = func() map[protoreflect.FieldNumber]bool {
	out := map[protoreflect.FieldNumber]bool{}
	for i := range serviceFields.Len() {
		fd := serviceFields.Get(i)
		if fd.Name() == "name" || fd.Name() == "etag" {
			continue
		}
		behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
		if !slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY) {
			out[fd.Number()] = true
		}
	}
	return out
}()

// writable reports whether clients may set fd, a field of Service.
func writable(fd protoreflect.FieldDescriptor) bool {
	return writableFields[fd.Number()]
}

// replaceWritable copies every writable field of src into dst, clearing the
// ones src leaves unset (UpdateService without update_mask).
func replaceWritable(dst, src *runpb.Service) {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	for i := range serviceFields.Len() {
		fd := serviceFields.Get(i)
		if !writable(fd) {
			continue
		}
		if s.Has(fd) {
			d.Set(fd, s.Get(fd))
		} else {
			d.Clear(fd)
		}
	}
}

// applyMask copies the fields named by paths from src into dst. Paths may
// be snake_case or lowerCamelCase; "*" replaces every writable field.
func applyMask(dst, src *runpb.Service, paths []string) error {
	for _, path := range paths {
		if path == "*" {
			replaceWritable(dst, src)
			continue
		}
		segments := strings.Split(path, ".")
		d, s := dst.ProtoReflect(), src.ProtoReflect()
		fields := serviceFields
		for i, seg := range segments {
			fd := fields.ByName(protoreflect.Name(snakeCase(seg)))
			if fd == nil {
				return invalidArgument("update_mask", fmt.Sprintf("unknown field %q in path %q of google.cloud.run.v2.Service", seg, path))
			}
			if i == 0 && !writable(fd) {
				return invalidArgument("update_mask", fmt.Sprintf("field %q is output only or immutable and cannot be updated", seg))
			}
			if i == len(segments)-1 {
				if s.Has(fd) {
					d.Set(fd, s.Get(fd))
				} else {
					d.Clear(fd)
				}
				break
			}
			if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
				return invalidArgument("update_mask", fmt.Sprintf("path %q descends into %q, which is not a singular message field", path, seg))
			}
			if !s.Has(fd) && !d.Has(fd) {
				break // nothing to set or clear below this point
			}
			d, s = d.Mutable(fd).Message(), s.Get(fd).Message()
			fields = fd.Message().Fields()
		}
	}
	return nil
}

// snakeCase turns lowerCamelCase into snake_case; snake_case is unchanged.
func snakeCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
