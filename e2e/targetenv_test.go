package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

// sampleImage is Google's public sample image: it exists on real Cloud Run, and fakerun accepts it.
const sampleImage = "us-docker.pkg.dev/cloudrun/container/hello"

// shortCanaryPipeline is the canary example's pipeline without the 10% step and the WAIT: every rollout
// takes tens of seconds on real Cloud Run.
const shortCanaryPipeline = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: %s
  planner:
    autoRollback: true
  pipeline:
    stages:
      - name: CLOUDRUN_SYNC
        with:
          skipTrafficShift: true
          tag: true
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 50
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 100
      - name: CLOUDRUN_CANARY_CLEANUP
        with:
          keepCount: 1
  plugins:
    cloudrun:
      input:
        serviceManifestFile: service.yaml
`

// targetEnv is one spec's world on the suite's target (a fresh fakerun, or the real project of real mode):
// a plugin process with the deploy target "local", the piped stand-in, and Cloud Run clients. The services a
// spec creates have IDs starting with its prefix and are deleted when it ends, failed or interrupted.
type targetEnv struct {
	t         target.Target
	pd        *piped.Piped
	prefix    string
	services  *run.ServicesClient
	revisions *run.RevisionsClient

	mu      sync.Mutex
	results []*piped.Result
}

// newTargetEnv prepares a spec on the suite's target.
func newTargetEnv() *targetEnv {
	GinkgoHelper()
	var t target.Target
	if realMode {
		t = target.NewCloudRun(cloudRun)
	} else {
		fr, err := target.NewFakerun()
		Expect(err).NotTo(HaveOccurred())
		t = fr
	}
	DeferCleanup(t.Close)
	e := &targetEnv{t: t, prefix: runPrefix + target.RandomHex(4) + "-"}
	// Registered before the plugin is started, so it runs after the plugin has stopped.
	DeferCleanup(func(ctx SpecContext) {
		deleted, err := target.Sweep(ctx, t, e.prefix)
		GinkgoWriter.Printf("deleted the spec's services: %v\n", deleted)
		Expect(err).NotTo(HaveOccurred())
	}, NodeTimeout(5*time.Minute))

	ctx := context.Background()
	var err error
	e.services, err = run.NewServicesClient(ctx, t.ClientOptions()...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(e.services.Close)
	e.revisions, err = run.NewRevisionsClient(ctx, t.ClientOptions()...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(e.revisions.Close)

	e.pd, err = piped.New(ctx,
		piped.WithPluginBinary(pluginBinary),
		piped.WithTimeScale(waitScale),
		piped.WithGracePeriod(5*time.Second),
		piped.WithDeployTargets(piped.DeployTarget{Name: "local", Config: t.DeployTargetConfig(t.Region())}),
	)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(e.pd.Close)
	DeferCleanup(e.dumpOnFailure)
	return e
}

// id returns the service ID of this spec for base.
func (e *targetEnv) id(base string) string { return e.prefix + base }

// serviceName returns the full resource name of a service ID.
func (e *targetEnv) serviceName(id string) string {
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", e.t.Project(), e.t.Region(), id)
}

// service reads a service through the Cloud Run client.
func (e *targetEnv) service(ctx context.Context, id string) *runpb.Service {
	GinkgoHelper()
	svc, err := e.services.GetService(ctx, &runpb.GetServiceRequest{Name: e.serviceName(id)})
	Expect(err).NotTo(HaveOccurred())
	return svc
}

// canaryFiles returns the canary example as service id, running sampleImage with GREETING=greeting, with
// shortCanaryPipeline.
func (e *targetEnv) canaryFiles(id, greeting string) map[string]string {
	GinkgoHelper()
	svc := manifest("canary", sampleImage)
	Expect(svc).To(ContainSubstring("\nname: canary\n"))
	Expect(svc).To(ContainSubstring("hello from v2"))
	svc = strings.Replace(svc, "\nname: canary\n", "\nname: "+id+"\n", 1)
	svc = strings.Replace(svc, "hello from v2", greeting, 1)
	return map[string]string{"service.yaml": svc, "app.pipecd.yaml": fmt.Sprintf(shortCanaryPipeline, id)}
}

// deploy runs a deployment to its end and keeps its result for the failure dump.
func (e *targetEnv) deploy(ctx context.Context, d piped.Deployment) *piped.Result {
	GinkgoHelper()
	res, err := e.pd.Deploy(ctx, d)
	Expect(err).NotTo(HaveOccurred())
	e.mu.Lock()
	e.results = append(e.results, res)
	e.mu.Unlock()
	return res
}

func (e *targetEnv) dumpOnFailure() {
	if !CurrentSpecReport().Failed() {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.results {
		GinkgoWriter.Printf("\n===== stage logs =====\n%s\n", r.Report())
	}
	GinkgoWriter.Printf("\n===== plugin output =====\n%s\n", e.pd.PluginOutput())
}
