package rules

import (
	"fmt"
	"strings"
	"unicode"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ApplyMask copies the fields named by paths from src into dst, two messages of one type (a Service or a
// WorkerPool). Paths may be snake_case or lowerCamelCase; "*" replaces every writable field.
func ApplyMask(dst, src proto.Message, paths []string) error {
	md := dst.ProtoReflect().Descriptor()
	for _, path := range paths {
		if path == "*" {
			ReplaceWritable(dst, src)
			continue
		}
		segments := strings.Split(path, ".")
		d, s := dst.ProtoReflect(), src.ProtoReflect()
		fields := md.Fields()
		for i, seg := range segments {
			fd := fields.ByName(protoreflect.Name(SnakeCase(seg)))
			if fd == nil {
				return InvalidArgument("update_mask", fmt.Sprintf("unknown field %q in path %q of %s", seg, path, md.FullName()))
			}
			if i == 0 && !Writable(fd) {
				return InvalidArgument("update_mask", fmt.Sprintf("field %q is output only or immutable and cannot be updated", seg))
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
				return InvalidArgument("update_mask", fmt.Sprintf("path %q descends into %q, which is not a singular message field", path, seg))
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
func SnakeCase(s string) string {
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
