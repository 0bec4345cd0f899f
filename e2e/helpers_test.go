package e2e

// Helpers shared by several spec files.

import (
	"context"
	"strconv"
	"sync"
	"syscall"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/livestate"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// prepareTaggedV1 runs v1 by quick sync and tags it "stable" out of band; it returns the pre-deploy block.
func prepareTaggedV1(ctx context.Context, e *Environment) (v1 string, before []string) {
	GinkgoHelper()
	By("running v1 by quick sync and tagging it stable out of band")
	v1 = e.DeployCanaryV1(ctx)
	e.SetTraffic(ctx, "canary", RevisionTarget(v1, 100, ""), RevisionTarget(v1, 0, "stable"))
	before = Traffic(e.Service(ctx, "canary").GetTraffic())
	Expect(before).To(Equal(Routes(Route(v1, 100, ""), Route(v1, 0, "stable"))))
	return v1, before
}

// expectRolledBack checks that the deployment ended with status, ran CLOUDRUN_ROLLBACK successfully and that
// the service is v1 again: its template (image and revision name, so no revision was created) and the
// pre-deploy traffic block.
func expectRolledBack(ctx context.Context, e *Environment, res *piped.Result, status model.DeploymentStatus, before []string) {
	GinkgoHelper()
	By("checking that CLOUDRUN_ROLLBACK brought back v1 and the pre-deploy traffic")
	Expect(res.Status).To(Equal(status), "%s", res.Report())
	executed := res.Executed()
	last := executed[len(executed)-1]
	Expect(last.Name).To(Equal("CLOUDRUN_ROLLBACK"), "%s", res.Report())
	Expect(last.Rollback).To(BeTrue())
	Expect(last.Status).To(Equal(model.StageStatus_STAGE_SUCCESS), "%s", res.Report())
	svc := e.Service(ctx, "canary")
	Expect(Traffic(svc.GetTraffic())).To(Equal(before), "the pre-deploy traffic block comes back exactly")
	Expect(LiveTraffic(svc)).To(Equal(before))
	Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV1), "the pre-deploy template comes back")
	Expect(before).To(ContainElement(Route(svc.GetTemplate().GetRevision(), 100, "")), "the template is v1's, under its revision name")
}

// failAt returns hooks that make every Cloud Run call fail once with PERMISSION_DENIED while stage index runs.
func failAt(e *Environment, index int) piped.Hooks {
	return piped.Hooks{
		OnStageStart: func(_ *piped.Run, s piped.StageRecord) {
			if s.Index == index && !s.Rollback {
				for _, m := range fakerun.Methods {
					e.Fakerun.InjectFault(m, fakerun.Fault{Code: codes.PermissionDenied, Message: "injected: permission denied", Times: 1})
				}
			}
		},
		OnStageEnd: func(_ *piped.Run, s piped.StageRecord) {
			if s.Index == index && !s.Rollback {
				e.Fakerun.ClearFaults()
			}
		},
	}
}

// expectPluginAlive checks that the plugin process still runs and answers.
func expectPluginAlive(e *Environment) {
	GinkgoHelper()
	Expect(syscall.Kill(e.Piped.PluginPID(), 0)).To(Succeed(), "the plugin process is still running")
}

// expectDeploymentRefused checks that a deployment of bad input failed with each of wantInLog in its
// message: in err when piped refused it while planning, before any stage, else in the log of its first
// failed stage that is not a rollback.
func expectDeploymentRefused(e *Environment, res *piped.Result, err error, wantInLog []string) {
	GinkgoHelper()
	if err != nil {
		for _, w := range wantInLog {
			Expect(err.Error()).To(ContainSubstring(w))
		}
		return
	}
	e.Keep(res)
	Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_FAILURE), "%s", res.Report())
	var failed *piped.StageRecord
	for _, s := range res.Executed() {
		if s.Status == model.StageStatus_STAGE_FAILURE && !s.Rollback {
			failed = &s
			break
		}
	}
	Expect(failed).NotTo(BeNil(), "%s", res.Report())
	for _, w := range wantInLog {
		Expect(failed.LogText()).To(ContainSubstring(w), "%s", res.Report())
	}
}

// resourcesByName indexes a live state's resources by name.
func resourcesByName(res *livestate.GetLivestateResponse) map[string]*model.ResourceState {
	out := map[string]*model.ResourceState{}
	for _, r := range res.GetApplicationLiveState().GetResources() {
		out[r.GetName()] = r
	}
	return out
}

// sampleService is a minimal service running sampleImage.
func sampleService(greeting string) *runpb.Service {
	return &runpb.Service{Template: &runpb.RevisionTemplate{Containers: []*runpb.Container{{
		Image: sampleImage, Env: []*runpb.EnvVar{{Name: "GREETING", Values: &runpb.EnvVar_Value{Value: greeting}}},
	}}}}
}

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
