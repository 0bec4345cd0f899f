// Package framework is what the end-to-end suites share, in the style of cluster-api's e2e framework: one
// Environment per spec (a target, the plugin process and the piped stand-in driving it), DeployInput to run
// a deployment, the stage Recorder, failure dumps, traffic helpers, the example applications and the named
// intervals (intervals.go).
//
// A spec reads as the user's story, one By step per thing the user does or checks:
//
//	e := newEnv() // the suite's framework.NewEnvironment
//	By("running v1 by quick sync")
//	v1 := e.DeployCanaryV1(ctx)
//	By("running the canary pipeline for v2")
//	rec := e.Recorder("canary")
//	res := e.Deploy(ctx, DeployInput{App: "canary", Hooks: rec.Hooks(piped.Hooks{})})
//	ExpectSuccess(res)
//
// The package fails the running spec with Gomega, so it is used from Ginkgo specs (bench uses the parts
// that do not: PipedOptions, NewRecorder, PeakRSS).
package framework

import (
	"context"
	"errors"
	"sync"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/livestate"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/planpreview"
	"google.golang.org/api/iterator"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// LocalDeployTarget is the name of the deploy target an Environment gives the plugin by default.
const LocalDeployTarget = "local"

// EnvironmentInput is what NewEnvironment needs.
type EnvironmentInput struct {
	// Target is where the spec deploys. Required. It is closed when the spec ends.
	Target target.Target
	// PluginBinary is the plugin to run. Default: piped.BuildPlugin.
	PluginBinary string
	// DeployTargets are the plugin's deploy targets. Default: LocalDeployTarget, the target at its region.
	DeployTargets []piped.DeployTarget
	// ServicePrefix starts the ID of every service the spec creates (see Environment.ID). When set, the
	// services of the prefix are deleted when the spec ends, passed, failed or interrupted.
	ServicePrefix string
	// ArtifactsFolder receives the failure dumps as files too, one folder per failed spec, when set.
	ArtifactsFolder string
	// Dumps adds the target's own failure dumps (e.g. a container's output). Optional; an in-process
	// fakerun's state and call log are dumped without it.
	Dumps func(ctx context.Context) []Dump
}

// Environment is one spec's world: its target, a plugin process whose deploy targets point at it, the piped
// stand-in driving the plugin, and Cloud Run clients of the target.
type Environment struct {
	// Target is where the spec deploys.
	Target target.Target
	// Fakerun is the target's fakerun server when it runs in process, with its knobs (fault injection,
	// readiness control, state, call log); nil otherwise.
	Fakerun *fakerun.Server
	// Piped is the stand-in driving the plugin.
	Piped *piped.Piped
	// ServicesClient and RevisionsClient are Cloud Run clients of the target.
	ServicesClient  *run.ServicesClient
	RevisionsClient *run.RevisionsClient

	input   EnvironmentInput
	mu      sync.Mutex
	results []*piped.Result
}

// PipedOptions are the stand-in's options every suite uses: the plugin binary (empty: built), WAIT stages
// scaled by WaitScale, IntervalPluginGrace to stop, and the deploy targets.
func PipedOptions(pluginBinary string, deployTargets ...piped.DeployTarget) []piped.Option {
	return []piped.Option{
		piped.WithPluginBinary(pluginBinary),
		piped.WithTimeScale(WaitScale),
		piped.WithGracePeriod(IntervalPluginGrace),
		piped.WithDeployTargets(deployTargets...),
	}
}

// SetDefaultIntervals sets Eventually's default timeout (IntervalEventually) and polling period.
func SetDefaultIntervals(polling time.Duration) {
	SetDefaultEventuallyTimeout(IntervalEventually)
	SetDefaultEventuallyPollingInterval(polling)
}

// NewEnvironment starts the plugin and the stand-in on in.Target; ctx bounds the start only. Everything
// stops when the spec ends; on failure the dumps (see Dump) go to GinkgoWriter and in.ArtifactsFolder.
func NewEnvironment(ctx context.Context, in EnvironmentInput) *Environment {
	GinkgoHelper()
	Expect(in.Target).NotTo(BeNil(), "EnvironmentInput.Target is required")
	t := in.Target
	DeferCleanup(t.Close)
	e := &Environment{Target: t, input: in}
	if fr, ok := t.(*target.Fakerun); ok {
		e.Fakerun = fr.Server()
	}
	if in.ServicePrefix != "" {
		// Registered before the plugin is started, so it runs after the plugin has stopped.
		DeferCleanup(func(ctx SpecContext) {
			deleted, err := target.Sweep(ctx, t, in.ServicePrefix)
			GinkgoWriter.Printf("deleted the spec's services: %v\n", deleted)
			Expect(err).NotTo(HaveOccurred())
		}, NodeTimeout(IntervalSpecCleanup))
	}

	var err error
	e.ServicesClient, err = run.NewServicesClient(ctx, t.ClientOptions()...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(e.ServicesClient.Close)
	e.RevisionsClient, err = run.NewRevisionsClient(ctx, t.ClientOptions()...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(e.RevisionsClient.Close)

	dts := in.DeployTargets
	if len(dts) == 0 {
		dts = []piped.DeployTarget{{Name: LocalDeployTarget, Config: t.DeployTargetConfig(t.Region())}}
	}
	e.Piped, err = piped.New(ctx, PipedOptions(in.PluginBinary, dts...)...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(e.Piped.Close)
	DeferCleanup(e.dumpOnFailure, NodeTimeout(IntervalDump))
	return e
}

// ID returns the service ID of this spec for base: base behind the spec's ServicePrefix.
func (e *Environment) ID(base string) string { return e.input.ServicePrefix + base }

// Prefix is the spec's ServicePrefix.
func (e *Environment) Prefix() string { return e.input.ServicePrefix }

// ServiceName returns the full resource name of a service ID of the target's project and region.
func (e *Environment) ServiceName(id string) string {
	return naming.ServiceName(e.Target.Project(), e.Target.Region(), id)
}

// GetService reads a service: from an in-process fakerun's state (so that reading adds no call to its log
// and meets no injected fault), else through the Cloud Run API within IntervalRead.
func (e *Environment) GetService(ctx context.Context, id string) (*runpb.Service, error) {
	if e.Fakerun != nil {
		return e.Fakerun.Service(e.ServiceName(id))
	}
	ctx, cancel := context.WithTimeout(ctx, IntervalRead)
	defer cancel()
	return e.ServicesClient.GetService(ctx, &runpb.GetServiceRequest{Name: e.ServiceName(id)})
}

// Service is GetService failing the spec when the service cannot be read.
func (e *Environment) Service(ctx context.Context, id string) *runpb.Service {
	GinkgoHelper()
	svc, err := e.GetService(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	return svc
}

// Revisions lists a service's revisions, newest first on fakerun, read like GetService.
func (e *Environment) Revisions(ctx context.Context, id string) []*runpb.Revision {
	GinkgoHelper()
	revs, err := e.listRevisions(ctx, id)
	Expect(err).NotTo(HaveOccurred())
	return revs
}

func (e *Environment) listRevisions(ctx context.Context, id string) ([]*runpb.Revision, error) {
	if e.Fakerun != nil {
		return e.Fakerun.Revisions(e.ServiceName(id)), nil
	}
	ctx, cancel := context.WithTimeout(ctx, IntervalRead)
	defer cancel()
	var out []*runpb.Revision
	it := e.RevisionsClient.ListRevisions(ctx, &runpb.ListRevisionsRequest{Parent: e.ServiceName(id)})
	for {
		rev, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rev)
	}
}

// UpdateService changes a service out of band, as someone with gcloud would, and waits for the rollout.
func (e *Environment) UpdateService(ctx context.Context, id string, change func(*runpb.Service)) {
	GinkgoHelper()
	svc, err := e.ServicesClient.GetService(ctx, &runpb.GetServiceRequest{Name: e.ServiceName(id)})
	Expect(err).NotTo(HaveOccurred())
	change(svc)
	op, err := e.ServicesClient.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	Expect(err).NotTo(HaveOccurred())
	_, err = op.Wait(ctx)
	Expect(err).NotTo(HaveOccurred())
}

// SetTraffic replaces a service's traffic out of band, as someone with gcloud would, and waits for the rollout.
func (e *Environment) SetTraffic(ctx context.Context, id string, targets ...*runpb.TrafficTarget) {
	GinkgoHelper()
	e.UpdateService(ctx, id, func(svc *runpb.Service) { svc.Traffic = targets })
}

// Livestate asks the plugin for the live state of an application at a source, as piped's livestate
// reporter does for the head commit.
func (e *Environment) Livestate(ctx context.Context, src piped.Source) *livestate.GetLivestateResponse {
	GinkgoHelper()
	res, err := e.Piped.Livestate(ctx, src)
	Expect(err).NotTo(HaveOccurred())
	return res
}

// PlanPreview asks the plugin for the plan preview of a source, as piped's plan-preview builder does for a
// pull request's merged commit, and returns its only result.
func (e *Environment) PlanPreview(ctx context.Context, src piped.Source) *planpreview.PlanPreviewResult {
	GinkgoHelper()
	res, err := e.Piped.PlanPreview(ctx, src)
	Expect(err).NotTo(HaveOccurred())
	Expect(res.GetResults()).To(HaveLen(1))
	return res.GetResults()[0]
}
