package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// monitoringClient returns the Cloud Monitoring client of the deploy target, creating it on first use, so
// that targets that never run an analysis never connect to Monitoring. It reaches the same endpoint with
// the same credentials as the Cloud Run client: Google's endpoint when the deploy target sets none.
func (c *Client) monitoringClient() (*monitoring.MetricClient, error) {
	c.metricsMu.Lock()
	defer c.metricsMu.Unlock()
	if c.metrics != nil {
		return c.metrics, nil
	}
	m, err := monitoring.NewMetricClient(context.Background(), c.clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("failed to create the Cloud Monitoring client: %w", err)
	}
	// Retries and per-attempt timeouts are the plugin's own (see do), as for the Cloud Run clients.
	m.CallOptions = &monitoring.MetricCallOptions{}
	c.metrics = m
	return m, nil
}

// ListTimeSeries returns the raw points (no aligner, so no alignment period, which Cloud Monitoring
// requires to be at least 60 s) of the time series of project that match filter and end in (start, end].
// Errors are translated and transient ones retried like those of the Cloud Run calls.
func (c *Client) ListTimeSeries(ctx context.Context, project, filter string, start, end time.Time) ([]*monitoringpb.TimeSeries, error) {
	m, err := c.monitoringClient()
	if err != nil {
		return nil, err
	}
	req := &monitoringpb.ListTimeSeriesRequest{
		Name:     "projects/" + project,
		Filter:   filter,
		Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)},
		View:     monitoringpb.ListTimeSeriesRequest_FULL,
	}
	var series []*monitoringpb.TimeSeries
	err = c.send(ctx, "Cloud Monitoring", c.readTimeout, "list the time series of", req.Name, func(ctx context.Context) (err error) {
		series, err = collect(m.ListTimeSeries(ctx, req), 0)
		return err
	})
	return series, monitoringHint(err)
}

// monitoringHint replaces the Cloud Run hints of a translated error by what to fix for Cloud Monitoring.
func monitoringHint(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case codes.PermissionDenied:
		e.Hint = "grant the deploy target's service account roles/monitoring.viewer on the project"
	case codes.InvalidArgument:
		e.Hint = "fix the filter of the metric in the CLOUDRUN_ANALYSIS stage options according to the message"
	case codes.NotFound:
		e.Hint = "check the project of the deploy target"
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		e.Hint = "Cloud Monitoring is unavailable or rate limiting requests; the plugin retried with backoff"
	case codes.Unimplemented:
		e.Hint = "the endpoint of the deploy target does not serve the Cloud Monitoring API v3"
	}
	return err
}
