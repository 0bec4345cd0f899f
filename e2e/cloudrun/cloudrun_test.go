package cloudrun

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
)

func TestTrafficTable(t *testing.T) {
	t.Parallel()
	rev := runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
	svc := &runpb.Service{TrafficStatuses: []*runpb.TrafficTargetStatus{
		{Type: rev, Revision: "hello-00001", Percent: 60},
		{Type: rev, Revision: "hello-0b1375a", Percent: 40},
		{Type: rev, Revision: "hello-0b1375a", Tag: "preview-0b1375a"},
	}}
	assert.Equal(t, "REVISION       TRAFFIC          TAG\n"+
		"hello-00001    ██████░░░░  60%\n"+
		"hello-0b1375a  ████░░░░░░  40%\n"+
		"hello-0b1375a  ░░░░░░░░░░   0%  preview-0b1375a\n", TrafficTable(svc))
	assert.Equal(t, "(no traffic)\n", TrafficTable(&runpb.Service{}))
}
