package provider

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

func TestClient_ListTimeSeries(t *testing.T) {
	t.Parallel()
	c, srv := newTestClient(t)
	assert.Nil(t, c.metrics, "the Monitoring client is created on first use only")

	end := time.Now()
	series, err := c.ListTimeSeries(t.Context(), "p", `metric.type = "run.googleapis.com/request_count"`, end.Add(-time.Minute), end)
	require.NoError(t, err)
	assert.Empty(t, series, "no request was served")
	assert.Equal(t, 1, countCalls(srv, "ListTimeSeries"))

	_, err = c.ListTimeSeries(t.Context(), "p", `resource.type = "cloud_run_revision"`, end.Add(-time.Minute), end)
	var pe *Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, codes.InvalidArgument, pe.Code)
	assert.Contains(t, err.Error(), "failed to list the time series of projects/p: invalid argument: ")
	assert.Contains(t, err.Error(), "fix the filter of the metric in the CLOUDRUN_ANALYSIS stage options")

	srv.InjectFault("ListTimeSeries", fakerun.Fault{Code: codes.PermissionDenied, Times: 1})
	_, err = c.ListTimeSeries(t.Context(), "p", `metric.type = "run.googleapis.com/request_count"`, end.Add(-time.Minute), end)
	assert.Contains(t, err.Error(), "roles/monitoring.viewer")

	srv.InjectFault("ListTimeSeries", fakerun.Fault{Code: codes.Unavailable})
	_, err = c.ListTimeSeries(t.Context(), "p", `metric.type = "run.googleapis.com/request_count"`, end.Add(-time.Minute), end)
	assert.True(t, errors.Is(err, ErrTransient), err)
	assert.Contains(t, err.Error(), "Cloud Monitoring is unavailable")
}
