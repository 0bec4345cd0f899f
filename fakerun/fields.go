package fakerun

import (
	"slices"
	"sync"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// writableByMessage caches, per message type, the fields clients may set:
// not OUTPUT_ONLY, and not name or etag (which identify and guard the write).
var writableByMessage sync.Map // protoreflect.FullName -> []protoreflect.FieldDescriptor

// writableFieldsOf returns the writable fields of md.
func writableFieldsOf(md protoreflect.MessageDescriptor) []protoreflect.FieldDescriptor {
	if v, ok := writableByMessage.Load(md.FullName()); ok {
		return v.([]protoreflect.FieldDescriptor)
	}
	var out []protoreflect.FieldDescriptor
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Name() == "name" || fd.Name() == "etag" {
			continue
		}
		behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
		if !slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY) {
			out = append(out, fd)
		}
	}
	writableByMessage.Store(md.FullName(), out)
	return out
}

// replaceWritableFields copies every writable field of src into dst (both of
// one message type), clearing the ones src leaves unset, as an update
// without a field mask does.
func replaceWritableFields(dst, src proto.Message) {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	for _, fd := range writableFieldsOf(d.Descriptor()) {
		if s.Has(fd) {
			d.Set(fd, s.Get(fd))
		} else {
			d.Clear(fd)
		}
	}
}

// sameWritableFields reports whether a and b agree on every writable field.
func sameWritableFields(a, b proto.Message) bool {
	x, y := a.ProtoReflect().New().Interface(), b.ProtoReflect().New().Interface()
	replaceWritableFields(x, a)
	replaceWritableFields(y, b)
	return proto.Equal(x, y)
}
