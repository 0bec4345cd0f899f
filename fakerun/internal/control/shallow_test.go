package control

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
)

func TestShallowCopySharesPartsAndLeavesTheOriginal(t *testing.T) {
	orig := &runpb.Service{Name: "projects/p/locations/l/services/s", Generation: 3,
		Template: &runpb.RevisionTemplate{Revision: "s-v1"},
		Traffic:  []*runpb.TrafficTarget{{Revision: "s-v1", Percent: 100}}}
	want := proto.Clone(orig)

	c := shallowCopy(orig)
	if !proto.Equal(c, orig) {
		t.Fatalf("copy %v differs from the original %v", c, orig)
	}
	if c.Template != orig.Template {
		t.Error("the copy does not share the template")
	}
	c.Reconciling = true
	c.Traffic = nil
	if !proto.Equal(orig, want) {
		t.Errorf("assigning the copy's fields changed the original: %v, want %v", orig, want)
	}
}
