package control

import (
	"reflect"

	"google.golang.org/protobuf/proto"
)

// shallowCopy returns a new message whose fields are m's: sub-messages, lists and maps are shared, not
// copied. It is for copy-on-write state (service.svc), where the copy only gets top-level fields
// assigned and neither m nor its parts are ever modified; proto.Clone would copy the whole tree on
// every status change. (The copy goes through reflect because go vet rightly flags a plain assignment
// of a message; sharing the internal state of the same message type is safe.)
func shallowCopy[M any, P interface {
	*M
	proto.Message
}](m P) P {
	c := P(new(M))
	reflect.ValueOf(c).Elem().Set(reflect.ValueOf(m).Elem())
	return c
}
