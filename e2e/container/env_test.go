package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

const (
	region = "asia-northeast1"
	// waitScale shrinks WAIT stages: the examples' 10s become 100ms.
	waitScale = 0.01
	imageV1   = "us-docker.pkg.dev/cloudrun/container/hello:v1"
	imageV2   = "us-docker.pkg.dev/cloudrun/container/hello:v2"
)

// env is one spec's world: a fakerun container, a plugin process whose deploy target "local" points at it,
// and the piped stand-in driving the plugin.
type env struct {
	fake    *fakerun
	pd      *piped.Piped
	project string

	mu      sync.Mutex
	results []*piped.Result
}

// newEnv starts a fakerun container with the given flags and a plugin pointed at it. Everything stops when
// the spec ends; on failure the fake's state and call log, its output, the stage logs and the plugin's
// output are written to GinkgoWriter.
func newEnv(ctx context.Context, fakerunArgs ...string) *env {
	GinkgoHelper()
	if suite.SkipReason != "" {
		Skip(suite.SkipReason)
	}
	e := &env{fake: startFakerun(ctx, fakerunArgs...), project: "e2e-" + randomHex(6)}
	pd, err := piped.New(ctx,
		piped.WithPluginBinary(suite.PluginBinary),
		piped.WithTimeScale(waitScale),
		piped.WithGracePeriod(5*time.Second),
		piped.WithDeployTargets(piped.DeployTarget{Name: "local", Config: map[string]any{
			"project": e.project, "region": region, "endpoint": e.fake.addr, "insecure": true,
		}}),
	)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(pd.Close)
	e.pd = pd
	DeferCleanup(e.dumpOnFailure, NodeTimeout(time.Minute))
	return e
}

func (e *env) dumpOnFailure(ctx SpecContext) {
	if !CurrentSpecReport().Failed() {
		return
	}
	e.fake.dump(ctx)
	e.mu.Lock()
	results := slices.Clone(e.results)
	e.mu.Unlock()
	for _, r := range results {
		GinkgoWriter.Printf("===== stage logs =====\n%s", r.Report())
	}
	GinkgoWriter.Printf("===== plugin output =====\n%s\n", e.pd.PluginOutput())
}

// serviceName is the full resource name of a service of this spec's project.
func (e *env) serviceName(id string) string {
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", e.project, region, id)
}

// service reads a service from the container, failing the spec when it cannot.
func (e *env) service(ctx context.Context, id string) *runpb.Service {
	GinkgoHelper()
	svc, err := e.fake.service(ctx, e.serviceName(id))
	Expect(err).NotTo(HaveOccurred())
	return svc
}

// deploy runs a deployment to its end and keeps its result for the failure dump.
func (e *env) deploy(ctx context.Context, d piped.Deployment) *piped.Result {
	GinkgoHelper()
	res, err := e.pd.Deploy(ctx, d)
	Expect(err).NotTo(HaveOccurred())
	e.mu.Lock()
	e.results = append(e.results, res)
	e.mu.Unlock()
	return res
}

// deployCanaryV1 quick-syncs the canary example at v1 and returns the revision serving it.
func (e *env) deployCanaryV1(ctx context.Context) string {
	GinkgoHelper()
	res := e.deploy(ctx, piped.Deployment{AppDir: appDir("canary"), Commit: commit(), Files: withImage("canary", imageV1)})
	expectSuccess(res)
	Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
	svc := e.service(ctx, "canary")
	v1 := shortName(svc.GetLatestReadyRevision())
	Expect(traffic(svc.GetTraffic())).To(Equal(entries(entry(v1, 100, ""))))
	return v1
}

// snapshot is the fake's view of a service right after a stage ended.
type snapshot struct {
	stage   piped.StageRecord
	traffic []string // traffic() of the service; nil when it could not be read
	live    []string // liveTraffic() of the service
	err     error    // why the service could not be read
}

// recorder reads one service from the container after every stage.
type recorder struct {
	e         *env
	serviceID string

	mu    sync.Mutex
	snaps []snapshot
}

func (e *env) recorder(serviceID string) *recorder { return &recorder{e: e, serviceID: serviceID} }

// hooks returns hooks that take the snapshots; the extra hooks (fields may be nil) run first, so an
// OnStageEnd that unpauses the fake lets the snapshot be taken.
func (r *recorder) hooks(extra piped.Hooks) piped.Hooks {
	return piped.Hooks{
		OnPlanned:    extra.OnPlanned,
		OnLog:        extra.OnLog,
		OnStageStart: extra.OnStageStart,
		OnStageEnd: func(run *piped.Run, s piped.StageRecord) {
			if extra.OnStageEnd != nil {
				extra.OnStageEnd(run, s)
			}
			snap := snapshot{stage: s}
			svc, err := r.e.fake.service(context.Background(), r.e.serviceName(r.serviceID))
			if err != nil {
				snap.err = err
			} else {
				snap.traffic, snap.live = traffic(svc.GetTraffic()), liveTraffic(svc)
			}
			r.mu.Lock()
			r.snaps = append(r.snaps, snap)
			r.mu.Unlock()
		},
	}
}

func (r *recorder) snapshots() []snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.snaps)
}

// traffic renders a traffic block as sorted "revision percent% tag" strings.
func traffic(targets []*runpb.TrafficTarget) []string {
	out := make([]string, 0, len(targets))
	for _, t := range targets {
		rev := t.GetRevision()
		if t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST {
			rev = "LATEST"
		}
		out = append(out, entry(rev, int(t.GetPercent()), t.GetTag()))
	}
	slices.Sort(out)
	return out
}

// liveTraffic renders the service's traffic statuses like traffic().
func liveTraffic(svc *runpb.Service) []string {
	out := make([]string, 0, len(svc.GetTrafficStatuses()))
	for _, t := range svc.GetTrafficStatuses() {
		out = append(out, entry(t.GetRevision(), int(t.GetPercent()), t.GetTag()))
	}
	slices.Sort(out)
	return out
}

func entry(revision string, percent int, tag string) string {
	return fmt.Sprintf("%s %d%% %s", revision, percent, tag)
}

func entries(es ...string) []string {
	out := slices.Clone(es)
	slices.Sort(out)
	return out
}

func shortName(name string) string { return name[strings.LastIndex(name, "/")+1:] }

func appDir(name string) string { return filepath.Join(suite.ExamplesDir, name) }

// withImage returns deployment files that change only the app's container image.
func withImage(app, image string) map[string]string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(appDir(app), "service.yaml"))
	Expect(err).NotTo(HaveOccurred())
	lines := strings.Split(string(raw), "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "- image:") })
	Expect(i).NotTo(Equal(-1), "no image line in %s/service.yaml", app)
	lines[i] = lines[i][:strings.Index(lines[i], "- image:")] + "- image: " + image
	return map[string]string{"service.yaml": strings.Join(lines, "\n")}
}

// canaryConfig returns the canary example's app.pipecd.yaml with old replaced by new (old must occur).
func canaryConfig(old, new string) map[string]string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(appDir("canary"), "app.pipecd.yaml"))
	Expect(err).NotTo(HaveOccurred())
	Expect(string(raw)).To(ContainSubstring(old))
	return map[string]string{"app.pipecd.yaml": strings.Replace(string(raw), old, new, 1)}
}

// commit returns a random 40-digit commit hash.
func commit() string { return randomHex(40) }

func stageNames(stages []piped.StageRecord) []string {
	out := make([]string, 0, len(stages))
	for _, s := range stages {
		out = append(out, s.Name)
	}
	return out
}

// expectSuccess fails the spec with the stage logs when the deployment did not succeed.
func expectSuccess(res *piped.Result) {
	GinkgoHelper()
	Expect(res.Status).To(Equal(model.DeploymentStatus_DEPLOYMENT_SUCCESS), res.Report())
}

// isNotFound reports a gRPC NOT_FOUND error.
func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }
