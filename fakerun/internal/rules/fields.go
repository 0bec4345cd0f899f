package rules

import (
	"slices"
	"sync"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// writableSet is the fields of one message type that clients may set.
type writableSet struct {
	fields  []protoreflect.FieldDescriptor
	numbers map[protoreflect.FieldNumber]bool
}

// writableByMessage caches the writable fields per message type: reading the field-behaviour annotation
// of every field on every update is slow. A plain map keeps lookups free of allocations.
var (
	writableMu        sync.RWMutex
	writableByMessage = map[protoreflect.FullName]*writableSet{}
)

// writableOf computes, once per message type, the fields clients may set: not OUTPUT_ONLY, and not name
// or etag (which identify and guard the write instead).
func writableOf(md protoreflect.MessageDescriptor) *writableSet {
	writableMu.RLock()
	set := writableByMessage[md.FullName()]
	writableMu.RUnlock()
	if set != nil {
		return set
	}
	set = &writableSet{numbers: map[protoreflect.FieldNumber]bool{}}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Name() == "name" || fd.Name() == "etag" {
			continue
		}
		behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
		if !slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY) {
			set.fields = append(set.fields, fd)
			set.numbers[fd.Number()] = true
		}
	}
	// Scalars first, then lists and maps, then singular messages: SameWritable stops at the first field
	// that differs, so a traffic change is found before the template is compared in depth.
	slices.SortStableFunc(set.fields, func(a, b protoreflect.FieldDescriptor) int { return compareCost(a) - compareCost(b) })
	writableMu.Lock()
	writableByMessage[md.FullName()] = set
	writableMu.Unlock()
	return set
}

// compareCost ranks how much comparing two values of fd may cost.
func compareCost(fd protoreflect.FieldDescriptor) int {
	switch {
	case fd.IsList() || fd.IsMap():
		return 1
	case fd.Message() != nil:
		return 2
	default:
		return 0
	}
}

// Writable reports whether clients may set fd.
func Writable(fd protoreflect.FieldDescriptor) bool {
	return writableOf(fd.ContainingMessage()).numbers[fd.Number()]
}

// ReplaceWritable copies every writable field of src into dst (both of one message type), clearing the
// ones src leaves unset, as an update without a field mask does.
func ReplaceWritable(dst, src proto.Message) {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	for _, fd := range writableOf(d.Descriptor()).fields {
		if s.Has(fd) {
			d.Set(fd, s.Get(fd))
		} else {
			d.Clear(fd)
		}
	}
}

// SameWritable reports whether a and b agree on every writable field.
// Fields are compared in place, without copying the writable fields out.
func SameWritable(a, b proto.Message) bool {
	x, y := a.ProtoReflect(), b.ProtoReflect()
	for _, fd := range writableOf(x.Descriptor()).fields {
		has := x.Has(fd)
		if has != y.Has(fd) || has && !x.Get(fd).Equal(y.Get(fd)) {
			return false
		}
	}
	return true
}
