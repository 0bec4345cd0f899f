package e2e

import (
	"context"
	"strconv"
	"sync"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	. "github.com/onsi/gomega"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/protobuf/types/known/timestamppb"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// checkoutFailures is the user-defined metric the custom threshold spec writes through CreateTimeSeries.
const checkoutFailures = "custom.googleapis.com/checkout_failures"

// The writer sends a point every writeEvery, rotating over failureSeries time series (metric label
// "writer"), so that each series gets one point each 5 s, the most Cloud Monitoring takes
// (https://cloud.google.com/monitoring/quotas).
const (
	writeEvery    = 200 * time.Millisecond
	failureSeries = int64(5 * time.Second / writeEvery)
)

// deployWritingFailures deploys files and, from the start of CLOUDRUN_ANALYSIS until the deployment ends,
// writes n checkout failures of the new revision every writeEvery to fakerun's Cloud Monitoring with the
// official client. It returns the result and how many points were written; a failed write fails the spec.
func deployWritingFailures(ctx context.Context, e *Environment, files map[string]string, n int64) (*piped.Result, int) {
	mc, err := monitoring.NewMetricClient(ctx, e.Fakerun.ClientOptions()...)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = mc.Close() }()
	writing, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg       sync.WaitGroup
		written  int
		writeErr error
	)
	hooks := piped.Hooks{OnStageStart: func(_ *piped.Run, s piped.StageRecord) {
		if s.Name != "CLOUDRUN_ANALYSIS" {
			return
		}
		svc, err := e.Fakerun.Service(naming.ServiceName(e.Target.Project(), region, AnalysisExample))
		Expect(err).NotTo(HaveOccurred())
		name := ShortName(svc.GetName())
		res := &monitoredres.MonitoredResource{Type: "cloud_run_revision", Labels: map[string]string{
			"project_id": e.Target.Project(), "location": region, "service_name": name, "configuration_name": name,
			"revision_name": ShortName(svc.GetLatestCreatedRevision()),
		}}
		wg.Go(func() { written, writeErr = writeFailures(writing, mc, e.Target.Project(), res, n) })
	}}
	result := e.Deploy(ctx, DeployInput{App: AnalysisExample, Files: files, Hooks: hooks})
	stop()
	wg.Wait()
	Expect(writeErr).NotTo(HaveOccurred())
	return result, written
}

// writeFailures writes n checkout failures of res every writeEvery, each point ending on a multiple of
// writeEvery, until ctx ends; it returns how many points it wrote and the first error.
func writeFailures(ctx context.Context, mc *monitoring.MetricClient, project string, res *monitoredres.MonitoredResource, n int64) (int, error) {
	tick := time.NewTicker(writeEvery / 4)
	defer tick.Stop()
	written, last := 0, int64(0)
	for {
		select {
		case <-ctx.Done():
			return written, nil
		case now := <-tick.C:
			slot := now.UnixNano() / int64(writeEvery)
			if slot == last {
				continue
			}
			last = slot
			err := mc.CreateTimeSeries(ctx, &monitoringpb.CreateTimeSeriesRequest{Name: "projects/" + project, TimeSeries: []*monitoringpb.TimeSeries{{
				Metric:   &metric.Metric{Type: checkoutFailures, Labels: map[string]string{"writer": strconv.FormatInt(slot%failureSeries, 10)}},
				Resource: res,
				Points: []*monitoringpb.Point{{
					Interval: &monitoringpb.TimeInterval{EndTime: timestamppb.New(time.Unix(0, slot*int64(writeEvery)))},
					Value:    &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: n}},
				}},
			}}})
			if ctx.Err() != nil {
				return written, nil
			}
			if err != nil {
				return written, err
			}
			written++
		}
	}
}
