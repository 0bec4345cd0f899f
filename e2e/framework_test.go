package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

const (
	region = "asia-northeast1"
	// waitScale shrinks WAIT stages: the examples' 10s become 100ms.
	waitScale = 0.01
)

// env is one spec's world: its own fakerun, a plugin process and the piped stand-in driving it.
type env struct {
	fr      *target.Fakerun
	srv     *fakerun.Server
	pd      *piped.Piped
	project string

	mu      sync.Mutex
	results []*piped.Result
}

// newEnv starts fakerun with opts and a plugin whose deploy target "local" (the default) points at it; a second
// deploy target, "bad-region", names the invalid region "Tokyo". Everything is
// stopped when the spec ends; on failure fakerun's state, its call log, the stage logs and the plugin's output
// are written to GinkgoWriter. Specs using it need fakerun's knobs: they are skipped in real Cloud Run mode
// (see newTargetEnv for specs that run on both).
func newEnv(opts ...fakerun.Option) *env {
	GinkgoHelper()
	if realMode {
		Skip("needs fakerun (its state, call log, fault injection or readiness control): label fakerun-only")
	}
	fr, err := target.NewFakerun(opts...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(fr.Close)
	e := &env{fr: fr, srv: fr.Server(), project: fr.Project()}
	pd, err := piped.New(context.Background(),
		piped.WithPluginBinary(pluginBinary),
		piped.WithTimeScale(waitScale),
		piped.WithGracePeriod(5*time.Second),
		piped.WithDeployTargets(
			piped.DeployTarget{Name: "local", Config: fr.DeployTargetConfig(region)},
			piped.DeployTarget{Name: "bad-region", Config: fr.DeployTargetConfig("Tokyo")},
		),
	)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(pd.Close)
	e.pd = pd
	DeferCleanup(e.dumpOnFailure)
	return e
}

// serviceName returns the full resource name of a service of this spec's project.
func (e *env) serviceName(id string) string {
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", e.project, region, id)
}

// service returns fakerun's copy of a service, failing the spec when it does not exist.
func (e *env) service(id string) *runpb.Service {
	GinkgoHelper()
	svc, err := e.srv.Service(e.serviceName(id))
	Expect(err).NotTo(HaveOccurred())
	return svc
}

// deploy runs a deployment to its end and keeps its result for the failure dump.
func (e *env) deploy(ctx context.Context, d piped.Deployment) *piped.Result {
	GinkgoHelper()
	res, err := e.pd.Deploy(ctx, d)
	Expect(err).NotTo(HaveOccurred())
	e.keep(res)
	return res
}

func (e *env) keep(res *piped.Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.results = append(e.results, res)
}

func (e *env) dumpOnFailure() {
	if !CurrentSpecReport().Failed() {
		return
	}
	state, err := json.MarshalIndent(e.srv.State(), "", "  ")
	if err != nil {
		state = []byte(err.Error())
	}
	var calls, stages strings.Builder
	for _, c := range e.srv.Calls() {
		fmt.Fprintf(&calls, "%s %-16s %s\n", c.Time.Format("15:04:05.000"), c.Method, c.Code)
	}
	e.mu.Lock()
	for _, r := range e.results {
		stages.WriteString(r.Report())
	}
	e.mu.Unlock()
	dumps := []struct{ name, content string }{
		{"fakerun-state.json", string(state)},
		{"fakerun-calls.txt", calls.String()},
		{"stage-logs.txt", stages.String()},
		{"plugin-output.txt", e.pd.PluginOutput()},
	}
	for _, d := range dumps {
		GinkgoWriter.Printf("\n===== %s =====\n%s\n", d.name, d.content)
	}
	if artifactsFolder == "" {
		return
	}
	dir := filepath.Join(artifactsFolder, specDirName(CurrentSpecReport().FullText()))
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	for _, d := range dumps {
		Expect(os.WriteFile(filepath.Join(dir, d.name), []byte(d.content), 0o644)).To(Succeed())
	}
}

// specDirName turns a spec's full text into a directory name.
func specDirName(text string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, text)
	return name[:min(len(name), 120)] + "-" + target.RandomHex(4)
}

// snapshot is fakerun's view of a service right after a stage ended.
type snapshot struct {
	stage     piped.StageRecord
	service   *runpb.Service // nil when the service does not exist
	revisions []*runpb.Revision
	calls     []fakerun.Call // Cloud Run calls made during the stage
}

// recorder captures a snapshot of one service after every stage.
type recorder struct {
	e         *env
	serviceID string

	mu        sync.Mutex
	callsFrom int
	snaps     []snapshot
}

func (e *env) recorder(serviceID string) *recorder { return &recorder{e: e, serviceID: serviceID} }

// hooks returns the hooks that take the snapshots; extra hooks (may be nil) run after them.
func (r *recorder) hooks(extra piped.Hooks) piped.Hooks {
	return piped.Hooks{
		OnPlanned: extra.OnPlanned,
		OnLog:     extra.OnLog,
		OnStageStart: func(run *piped.Run, s piped.StageRecord) {
			r.mu.Lock()
			r.callsFrom = len(r.e.srv.Calls())
			r.mu.Unlock()
			if extra.OnStageStart != nil {
				extra.OnStageStart(run, s)
			}
		},
		OnStageEnd: func(run *piped.Run, s piped.StageRecord) {
			name := r.e.serviceName(r.serviceID)
			svc, err := r.e.srv.Service(name)
			if err != nil {
				svc = nil
			}
			calls := r.e.srv.Calls()
			r.mu.Lock()
			r.snaps = append(r.snaps, snapshot{stage: s, service: svc, revisions: r.e.srv.Revisions(name), calls: calls[min(r.callsFrom, len(calls)):]})
			r.mu.Unlock()
			if extra.OnStageEnd != nil {
				extra.OnStageEnd(run, s)
			}
		},
	}
}

func (r *recorder) snapshots() []snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.snaps)
}

// traffic renders a traffic block as sorted "revision percent% tag" strings, so blocks compare exactly and
// regardless of order.
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

// entry is one element of traffic().
func entry(revision string, percent int, tag string) string {
	return fmt.Sprintf("%s %d%% %s", revision, percent, tag)
}

// entries builds the expected traffic() of a block.
func entries(es ...string) []string {
	out := slices.Clone(es)
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

func shortName(name string) string { return name[strings.LastIndex(name, "/")+1:] }

func revisionNames(revs []*runpb.Revision) []string {
	out := make([]string, 0, len(revs))
	for _, r := range revs {
		out = append(out, shortName(r.GetName()))
	}
	return out
}

func appDir(name string) string { return filepath.Join(examplesDir, name) }

var imageLine = regexp.MustCompile(`(?m)^(\s*-?\s*image:\s*).*$`)

// manifest returns the app's service.yaml with the first container image replaced (when image is not empty).
func manifest(app, image string) string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(appDir(app), "service.yaml"))
	Expect(err).NotTo(HaveOccurred())
	if image == "" {
		return string(raw)
	}
	done := false
	return imageLine.ReplaceAllStringFunc(string(raw), func(line string) string {
		if done {
			return line
		}
		done = true
		return imageLine.ReplaceAllString(line, "${1}"+image)
	})
}

// withImage returns deployment files that change only the app's image.
func withImage(app, image string) map[string]string {
	GinkgoHelper()
	return map[string]string{"service.yaml": manifest(app, image)}
}

// commit returns a random 40-digit commit hash.
func commit() string { return target.RandomHex(40) }

// stageNames lists the names of the stages that ran, in order.
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

// servicesClient returns a Cloud Run client of the spec's fakerun, closed when the spec ends.
func (e *env) servicesClient(ctx context.Context) *run.ServicesClient {
	GinkgoHelper()
	client, err := run.NewServicesClient(ctx, e.srv.ClientOptions()...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(client.Close)
	return client
}

// setTraffic replaces a service's traffic out of band, as someone with gcloud would, and waits for the rollout.
func (e *env) setTraffic(ctx context.Context, id string, targets ...*runpb.TrafficTarget) {
	GinkgoHelper()
	client := e.servicesClient(ctx)
	svc, err := client.GetService(ctx, &runpb.GetServiceRequest{Name: e.serviceName(id)})
	Expect(err).NotTo(HaveOccurred())
	svc.Traffic = targets
	op, err := client.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	Expect(err).NotTo(HaveOccurred())
	_, err = op.Wait(ctx)
	Expect(err).NotTo(HaveOccurred())
}

// revisionTarget is a REVISION traffic target.
func revisionTarget(revision string, percent int32, tag string) *runpb.TrafficTarget {
	return &runpb.TrafficTarget{
		Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: revision, Percent: percent, Tag: tag,
	}
}

// canaryConfig returns the canary example's app.pipecd.yaml with old replaced by new (which must occur).
func canaryConfig(old, new string) map[string]string {
	GinkgoHelper()
	raw, err := os.ReadFile(filepath.Join(appDir("canary"), "app.pipecd.yaml"))
	Expect(err).NotTo(HaveOccurred())
	Expect(string(raw)).To(ContainSubstring(old))
	return map[string]string{"app.pipecd.yaml": strings.Replace(string(raw), old, new, 1)}
}
