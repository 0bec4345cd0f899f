package fakerun

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSmoke(t *testing.T) {
	t.Parallel()
	bothTransports(t, func(t *testing.T, srv *Server, c clients) {
		svc := mustCreateService(t, c, "svc", "img:1")
		assert.Equal(t, testSvc, svc.GetName())
		got, err := c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testSvc})
		require.NoError(t, err)
		assert.Equal(t, int64(1), got.GetGeneration())
		svc.Template = template("img:2")
		svc2, err := update(t, c, svc)
		require.NoError(t, err)
		assert.Equal(t, int64(2), svc2.GetGeneration())
		t.Logf("%v", svc2)
		_, err = c.services.GetService(t.Context(), &runpb.GetServiceRequest{Name: testParent + "/services/nope"})
		t.Logf("%v", err)
	})
}
