package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
)

// gcloudProject and gcloudRegion are where the gcloud specs deploy.
const (
	gcloudProject = "gcloud-project"
	gcloudRegion  = "us-central1"
	gcloudImage   = "us-docker.pkg.dev/cloudrun/container/hello"
)

// gcloudFake is a fakerun that the installed gcloud CLI talks to (through fakerun gcloud-env's
// environment), with a v2 client to read back what gcloud did.
type gcloudFake struct {
	srv      *fakerun.Server
	env      []string
	services *run.ServicesClient
}

// requireGcloud skips the spec where gcloud is not installed, and fails it on CI, where gcloud must be.
func requireGcloud() {
	GinkgoHelper()
	if _, err := exec.LookPath("gcloud"); err != nil {
		if os.Getenv("CI") == "true" {
			Fail("the gcloud specs need the Google Cloud CLI on CI: " + err.Error())
		}
		Skip("the gcloud CLI is not installed (" + err.Error() + "); install google-cloud-cli to run the gcloud specs")
	}
}

// newGcloudFake starts a fakerun for one spec, or skips the spec where gcloud is not installed.
func newGcloudFake(opts ...fakerun.Option) *gcloudFake {
	GinkgoHelper()
	requireGcloud()
	srv, err := fakerun.NewServer(append([]fakerun.Option{fakerun.WithReadinessDelay(0)}, opts...)...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(srv.Close)
	return gcloudAt(srv, gcloudProject, gcloudRegion)
}

// gcloudAt points gcloud at srv, for project and region (a private configuration directory per spec).
func gcloudAt(srv *fakerun.Server, project, region string) *gcloudFake {
	GinkgoHelper()
	services, err := run.NewServicesClient(context.Background(), srv.ClientOptions()...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(services.Close)
	env := append(os.Environ(), fakerun.GcloudEnv(srv.Addr(), GinkgoT().TempDir(), project, region)...)
	env = append(env, "TERM=dumb", "CLOUDSDK_CORE_DISABLE_COLOR=true")
	return &gcloudFake{srv: srv, env: env, services: services}
}

// gcloud runs the installed gcloud with args and returns its stdout and stderr; it fails the spec
// unless the exit status is the one wanted (0: success).
func (g *gcloudFake) gcloud(ctx context.Context, wantFail bool, args ...string) (string, string) {
	GinkgoHelper()
	cmd := exec.CommandContext(ctx, "gcloud", args...)
	cmd.Env = g.env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if wantFail {
		Expect(err).To(HaveOccurred(), "gcloud %s should fail\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
	} else {
		Expect(err).NotTo(HaveOccurred(), "gcloud %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

func (g *gcloudFake) ok(ctx context.Context, args ...string) (string, string) {
	GinkgoHelper()
	return g.gcloud(ctx, false, args...)
}

func (g *gcloudFake) service(ctx context.Context, id string) *runpb.Service {
	GinkgoHelper()
	svc, err := g.services.GetService(ctx, &runpb.GetServiceRequest{Name: g.serviceName(id)})
	Expect(err).NotTo(HaveOccurred())
	return svc
}

func (g *gcloudFake) serviceName(id string) string {
	return "projects/" + gcloudProject + "/locations/" + gcloudRegion + "/services/" + id
}

// revisionNames are the short names of a service's revisions, newest first, read through v2.
func (g *gcloudFake) revisionNames(ctx context.Context, id string) []string {
	GinkgoHelper()
	revs, err := run.NewRevisionsClient(ctx, g.srv.ClientOptions()...)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = revs.Close() }()
	var names []string
	for r, err := range revs.ListRevisions(ctx, &runpb.ListRevisionsRequest{Parent: g.serviceName(id)}).All() {
		Expect(err).NotTo(HaveOccurred())
		names = append(names, ShortName(r.GetName()))
	}
	return names
}

// deployed is the revision a `gcloud run deploy` says it deployed.
func deployed(stderr string) string {
	GinkgoHelper()
	_, after, ok := strings.Cut(stderr, "] revision [")
	Expect(ok).To(BeTrue(), "gcloud names the revision it deployed:\n%s", stderr)
	rev, _, _ := strings.Cut(after, "]")
	return rev
}

// The suite's longest specs (every gcloud command starts Python): scheduled first, so that none is left running
// alone at the end of a parallel run.
var _ = Describe("gcloud CLI [gcloud]", Label("gcloud", "fakerun-only"), SpecPriority(1), func() {
	It("deploys, tags, updates a service and moves its traffic as gcloud users do", func(ctx SpecContext) {
		g := newGcloudFake()

		By("gcloud run deploy creating the service")
		_, stderr := g.ok(ctx, "run", "deploy", "web", "--image="+gcloudImage+":v1")
		first := deployed(stderr)
		Expect(stderr).To(ContainSubstring("Service [web] revision [" + first + "] has been deployed and is serving 100 percent of traffic."))
		svc := g.service(ctx, "web")
		Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(gcloudImage + ":v1"))
		Expect(Traffic(svc.GetTraffic())).To(Equal(Routes(Route("LATEST", 100, ""))), "LATEST takes all the traffic")
		Expect(stderr).To(ContainSubstring("Service URL: " + svc.GetUri()))

		By("gcloud run deploy --no-traffic --tag: a new revision, tagged, with no traffic")
		_, stderr = g.ok(ctx, "run", "deploy", "web", "--image="+gcloudImage+":v2", "--no-traffic", "--tag=green")
		green := deployed(stderr)
		Expect(stderr).To(ContainSubstring("is serving 0 percent of traffic"))
		svc = g.service(ctx, "web")
		Expect(Traffic(svc.GetTraffic())).To(Equal(Routes(Route(first, 100, ""), Route(green, 0, "green"))))
		Expect(g.revisionNames(ctx, "web")).To(Equal([]string{green, first}))

		By("gcloud run services update --update-env-vars: a third revision, the pinned traffic stays")
		g.ok(ctx, "run", "services", "update", "web", "--update-env-vars=GREETING=hi")
		svc = g.service(ctx, "web")
		Expect(svc.GetTemplate().GetContainers()[0].GetEnv()).To(HaveLen(1))
		Expect(svc.GetTemplate().GetContainers()[0].GetEnv()[0].GetName()).To(Equal("GREETING"))
		Expect(svc.GetTemplate().GetContainers()[0].GetEnv()[0].GetValue()).To(Equal("hi"))
		revs := g.revisionNames(ctx, "web")
		Expect(revs).To(HaveLen(3))
		third := revs[0]
		Expect(Traffic(svc.GetTraffic())).To(Equal(Routes(Route(first, 100, ""), Route(green, 0, "green"))))

		By("gcloud run services update-traffic --to-revisions")
		stdout, _ := g.ok(ctx, "run", "services", "update-traffic", "web", "--to-revisions="+first+"=60,"+green+"=40")
		Expect(stdout).To(ContainSubstring("60% " + first))
		// gcloud keeps a tag in an entry of its own, as it writes traffic on Cloud Run.
		Expect(Traffic(g.service(ctx, "web").GetTraffic())).To(Equal(Routes(Route(first, 60, ""), Route(green, 40, ""), Route(green, 0, "green"))))

		By("gcloud run services update-traffic --update-tags and --remove-tags")
		g.ok(ctx, "run", "services", "update-traffic", "web", "--update-tags=stable="+first)
		Expect(Traffic(g.service(ctx, "web").GetTraffic())).To(Equal(Routes(Route(first, 60, ""), Route(green, 40, ""), Route(green, 0, "green"), Route(first, 0, "stable"))))
		g.ok(ctx, "run", "services", "update-traffic", "web", "--remove-tags=green")
		Expect(Traffic(g.service(ctx, "web").GetTraffic())).To(Equal(Routes(Route(first, 60, ""), Route(green, 40, ""), Route(first, 0, "stable"))))

		By("gcloud run services update-traffic --to-latest")
		stdout, _ = g.ok(ctx, "run", "services", "update-traffic", "web", "--to-latest")
		Expect(stdout).To(ContainSubstring("100% LATEST (currently " + third + ")"))
		svc = g.service(ctx, "web")
		Expect(Traffic(svc.GetTraffic())).To(Equal(Routes(Route("LATEST", 100, ""), Route(first, 0, "stable"))))
		Expect(ShortName(svc.GetLatestReadyRevision())).To(Equal(third))
	})

	It("lists, describes, exports, replaces and deletes as gcloud users do", func(ctx SpecContext) {
		g := newGcloudFake()
		_, stderr := g.ok(ctx, "run", "deploy", "api", "--image="+gcloudImage+":v1", "--max-instances=5")
		first := deployed(stderr)
		_, stderr = g.ok(ctx, "run", "deploy", "api", "--image="+gcloudImage+":v2")
		second := deployed(stderr)

		By("gcloud run services list and describe")
		stdout, _ := g.ok(ctx, "run", "services", "list", "--format=value(metadata.name,status.url)")
		svc := g.service(ctx, "api")
		Expect(stdout).To(Equal("api\t" + svc.GetUri() + "\n"))
		stdout, _ = g.ok(ctx, "run", "services", "describe", "api")
		Expect(stdout).To(ContainSubstring("100% LATEST (currently " + second + ")"))
		Expect(stdout).To(ContainSubstring("Image:"))

		By("gcloud run revisions list, describe and delete")
		stdout, _ = g.ok(ctx, "run", "revisions", "list", "--service=api", "--format=value(metadata.name,status.conditions[0].type)")
		Expect(stdout).To(Equal(second + "\tReady\n" + first + "\tReady\n"))
		stdout, _ = g.ok(ctx, "run", "revisions", "describe", first, "--format=value(spec.containers[0].image)")
		Expect(stdout).To(Equal(gcloudImage + ":v1\n"))
		g.ok(ctx, "run", "revisions", "delete", first)
		Expect(g.revisionNames(ctx, "api")).To(Equal([]string{second}))

		By("gcloud run services replace with an edited export")
		export, _ := g.ok(ctx, "run", "services", "describe", "api", "--format=export")
		var manifest map[string]any
		Expect(yaml.Unmarshal([]byte(export), &manifest)).To(Succeed())
		tmplMeta := manifest["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)
		Expect(tmplMeta["annotations"]).To(HaveKeyWithValue("autoscaling.knative.dev/maxScale", "5"))
		tmplMeta["annotations"].(map[string]any)["autoscaling.knative.dev/maxScale"] = "9"
		edited, err := yaml.Marshal(manifest)
		Expect(err).NotTo(HaveOccurred())
		file := filepath.Join(GinkgoT().TempDir(), "service.yaml")
		Expect(os.WriteFile(file, edited, 0o600)).To(Succeed())
		_, stderr = g.ok(ctx, "run", "services", "replace", file)
		Expect(stderr).To(ContainSubstring("New configuration has been applied to service [api]."))
		svc = g.service(ctx, "api")
		Expect(svc.GetTemplate().GetScaling().GetMaxInstanceCount()).To(Equal(int32(9)))
		Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(gcloudImage + ":v2"))

		By("gcloud run regions list")
		stdout, _ = g.ok(ctx, "run", "regions", "list", "--format=value(locationId)")
		Expect(strings.Fields(stdout)).To(ContainElements("us-central1", "asia-northeast1", "europe-west1"))

		By("gcloud run services delete")
		g.ok(ctx, "run", "services", "delete", "api")
		_, err = g.services.GetService(ctx, &runpb.GetServiceRequest{Name: g.serviceName("api")})
		Expect(status.Code(err)).To(Equal(codes.NotFound))
	})

	It("binds and reads IAM policies with gcloud, in the store the v2 API reads", func(ctx SpecContext) {
		g := newGcloudFake()
		g.ok(ctx, "run", "deploy", "iam", "--image="+gcloudImage)
		_, stderr := g.ok(ctx, "run", "services", "add-iam-policy-binding", "iam", "--member=allUsers", "--role=roles/run.invoker")
		Expect(stderr).To(ContainSubstring("Updated IAM policy for service [iam]."))
		policy, err := g.services.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: g.serviceName("iam")})
		Expect(err).NotTo(HaveOccurred())
		Expect(policy.GetBindings()).To(HaveLen(1))
		Expect(policy.GetBindings()[0].GetRole()).To(Equal("roles/run.invoker"))
		Expect(policy.GetBindings()[0].GetMembers()).To(Equal([]string{"allUsers"}))
		stdout, _ := g.ok(ctx, "run", "services", "get-iam-policy", "iam", "--format=value(bindings[0].members[0],bindings[0].role)")
		Expect(stdout).To(Equal("allUsers\troles/run.invoker\n"))
	})

	It("answers bad input with Cloud Run's error and leaves the service exactly as it was", func(ctx SpecContext) {
		g := newGcloudFake()
		_, stderr := g.ok(ctx, "run", "deploy", "bad", "--image="+gcloudImage+":v1")
		first := deployed(stderr)
		before := g.service(ctx, "bad")
		unchanged := func(what string) {
			GinkgoHelper()
			after := g.service(ctx, "bad")
			Expect(after.GetEtag()).To(Equal(before.GetEtag()), "%s left the service as it was", what)
			Expect(g.revisionNames(ctx, "bad")).To(Equal([]string{first}), "%s created no revision", what)
		}

		By("a malformed image")
		_, stderr = g.gcloud(ctx, true, "run", "deploy", "bad", "--image=Not An Image")
		Expect(stderr).To(ContainSubstring("Expected an image path like [host/]repo-path[:tag and/or @digest]"))
		unchanged("a malformed image")

		By("traffic to a revision that does not exist")
		_, stderr = g.gcloud(ctx, true, "run", "services", "update-traffic", "bad", "--to-revisions=bad-nope=100")
		Expect(stderr).To(ContainSubstring("Revision 'bad-nope' does not exist or is deleted."))
		unchanged("an unknown revision")

		By("a replaced service whose traffic does not add up to 100")
		export, _ := g.ok(ctx, "run", "services", "describe", "bad", "--format=export")
		broken := strings.Replace(export, "percent: 100", "percent: 90", 1)
		Expect(broken).NotTo(Equal(export))
		file := filepath.Join(GinkgoT().TempDir(), "service.yaml")
		Expect(os.WriteFile(file, []byte(broken), 0o600)).To(Succeed())
		_, stderr = g.gcloud(ctx, true, "run", "services", "replace", file)
		Expect(stderr).To(ContainSubstring("INVALID_ARGUMENT"))
		Expect(stderr).To(ContainSubstring("100"))
		unchanged("traffic that does not add up")
	})

	It("creates, executes, describes and deletes a job with gcloud", func(ctx SpecContext) {
		g := newGcloudFake()
		jobs, err := run.NewJobsClient(ctx, g.srv.ClientOptions()...)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(jobs.Close)
		executions, err := run.NewExecutionsClient(ctx, g.srv.ClientOptions()...)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(executions.Close)
		jobName := "projects/" + gcloudProject + "/locations/" + gcloudRegion + "/jobs/batch"

		By("gcloud run jobs create")
		_, stderr := g.ok(ctx, "run", "jobs", "create", "batch", "--image="+gcloudImage+"-job", "--tasks=2", "--max-retries=1")
		Expect(stderr).To(ContainSubstring("Job [batch] has successfully been created."))
		job, err := jobs.GetJob(ctx, &runpb.GetJobRequest{Name: jobName})
		Expect(err).NotTo(HaveOccurred())
		Expect(job.GetTemplate().GetTaskCount()).To(Equal(int32(2)))
		Expect(job.GetTemplate().GetTemplate().GetMaxRetries()).To(Equal(int32(1)))
		Expect(job.GetTemplate().GetTemplate().GetContainers()[0].GetImage()).To(Equal(gcloudImage + "-job"))

		By("gcloud run jobs execute --wait")
		_, stderr = g.ok(ctx, "run", "jobs", "execute", "batch", "--wait")
		var execs []*runpb.Execution
		for e, err := range executions.ListExecutions(ctx, &runpb.ListExecutionsRequest{Parent: jobName}).All() {
			Expect(err).NotTo(HaveOccurred())
			execs = append(execs, e)
		}
		Expect(execs).To(HaveLen(1))
		exec := ShortName(execs[0].GetName())
		Expect(stderr).To(ContainSubstring("Execution [" + exec + "] has successfully completed."))
		Expect(execs[0].GetSucceededCount()).To(Equal(int32(2)))

		By("gcloud run jobs executions list and describe, and the tasks")
		stdout, _ := g.ok(ctx, "run", "jobs", "executions", "list", "--job=batch", "--format=value(metadata.name)")
		Expect(stdout).To(Equal(exec + "\n"))
		stdout, _ = g.ok(ctx, "run", "jobs", "executions", "describe", exec, "--format=value(status.succeededCount,spec.taskCount)")
		Expect(stdout).To(Equal("2\t2\n"))
		stdout, _ = g.ok(ctx, "run", "jobs", "executions", "tasks", "list", "--execution="+exec,
			"--format=value(metadata.name,metadata.labels['run.googleapis.com/runningState'])")
		Expect(stdout).To(Equal(exec + "-task0\tSucceeded\n" + exec + "-task1\tSucceeded\n"))
		stdout, _ = g.ok(ctx, "run", "jobs", "describe", "batch", "--format=value(status.executionCount,status.latestCreatedExecution.name)")
		Expect(stdout).To(Equal("1\t" + exec + "\n"))

		By("gcloud run jobs delete")
		g.ok(ctx, "run", "jobs", "delete", "batch")
		_, err = jobs.GetJob(ctx, &runpb.GetJobRequest{Name: jobName})
		Expect(status.Code(err)).To(Equal(codes.NotFound))
	})

	It("lists and describes worker pools with gcloud beta, as the v2 API has them", func(ctx SpecContext) {
		g := newGcloudFake()
		pools, err := run.NewWorkerPoolsClient(ctx, g.srv.ClientOptions()...)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(pools.Close)
		template := func(rev string) *runpb.WorkerPoolRevisionTemplate {
			return &runpb.WorkerPoolRevisionTemplate{Revision: rev, Containers: []*runpb.Container{{Image: gcloudImage}}}
		}
		op, err := pools.CreateWorkerPool(ctx, &runpb.CreateWorkerPoolRequest{
			Parent: "projects/" + gcloudProject + "/locations/" + gcloudRegion, WorkerPoolId: "consumer",
			WorkerPool: &runpb.WorkerPool{Template: template("consumer-v1"), Scaling: &runpb.WorkerPoolScaling{ManualInstanceCount: proto.Int32(4)}},
		})
		Expect(err).NotTo(HaveOccurred())
		wp, err := op.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())
		wp.Template = template("consumer-v2")
		wp.InstanceSplits = []*runpb.InstanceSplit{
			{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: "consumer-v2", Percent: 25},
			{Type: runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION, Revision: "consumer-v1", Percent: 75},
		}
		uop, err := pools.UpdateWorkerPool(ctx, &runpb.UpdateWorkerPoolRequest{WorkerPool: wp})
		Expect(err).NotTo(HaveOccurred())
		_, err = uop.Wait(ctx)
		Expect(err).NotTo(HaveOccurred())

		By("gcloud beta run worker-pools list, in the region and across regions")
		stdout, _ := g.ok(ctx, "beta", "run", "worker-pools", "list", "--region="+gcloudRegion, "--format=value(metadata.name,region)")
		Expect(stdout).To(Equal("consumer\t" + gcloudRegion + "\n"))
		global := &gcloudFake{srv: g.srv, env: slices.DeleteFunc(slices.Clone(g.env), func(kv string) bool { return strings.HasPrefix(kv, "CLOUDSDK_RUN_REGION=") })}
		stdout, _ = global.ok(ctx, "beta", "run", "worker-pools", "list", "--format=value(metadata.name,region)")
		Expect(stdout).To(Equal("consumer\t" + gcloudRegion + "\n"))

		By("gcloud beta run worker-pools describe: the split, the applied split and the instance count")
		stdout, _ = g.ok(ctx, "beta", "run", "worker-pools", "describe", "consumer",
			"--format=value(status.latestReadyRevisionName,status.instanceSplits.map().extract(revisionName,percent).flatten(),metadata.annotations['run.googleapis.com/manualInstanceCount'])")
		Expect(stdout).To(Equal("consumer-v2\tconsumer-v2,25,consumer-v1,75\t4\n"))
		stdout, _ = g.ok(ctx, "beta", "run", "worker-pools", "describe", "consumer")
		Expect(stdout).To(ContainSubstring("Scaling: Manual (Instances: 4)"))
		Expect(stdout).To(MatchRegexp(`25%\s+consumer-v2`))
		Expect(stdout).To(MatchRegexp(`75%\s+consumer-v1`))

		By("a pool that does not exist is gcloud's NOT_FOUND")
		_, stderr := g.gcloud(ctx, true, "beta", "run", "worker-pools", "describe", "nope")
		Expect(stderr).To(ContainSubstring("nope"))
	})

	It("hands a gcloud-deployed service to the plugin through its export, and gcloud reads the plugin's deployments", func(ctx SpecContext) {
		requireGcloud()
		e := newEnv()
		name := strings.Split(e.ServiceName("canary"), "/") // projects/P/locations/R/services/canary
		g := gcloudAt(e.Fakerun, name[1], name[3])

		By("deploying the service with gcloud and exporting it")
		_, stderr := g.ok(ctx, "run", "deploy", "canary", "--image="+ImageV1)
		byGcloud := deployed(stderr)
		export, _ := g.ok(ctx, "run", "services", "describe", "canary", "--format=export")

		By("deploying the export, as the canary application's Knative manifest: the first deployment is a quick sync")
		first := DeployInput{App: "canary", Files: map[string]string{"service.yaml": export}}
		res := e.Deploy(ctx, first)
		ExpectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_QUICK_SYNC))
		svc := e.Service(ctx, "canary")
		v1 := ShortName(svc.GetLatestReadyRevision())
		Expect(v1).NotTo(Equal(byGcloud))
		Expect(svc.GetTemplate().GetContainers()[0].GetImage()).To(Equal(ImageV1))
		Expect(LiveTraffic(svc)).To(Equal(Routes(Route(v1, 100, ""))))
		ls := e.Livestate(ctx, first.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), "no spurious diff: %s", ls.GetSyncState().GetReason())

		By("reading the plugin's deployment back with gcloud")
		stdout, _ := g.ok(ctx, "run", "services", "describe", "canary",
			"--format=value(status.latestReadyRevisionName,status.traffic[0].revisionName,status.traffic[0].percent,spec.template.spec.containers[0].image)")
		Expect(stdout).To(Equal(v1 + "\t" + v1 + "\t100\t" + ImageV1 + "\n"))

		By("running the canary pipeline on the export with a new image")
		Expect(export).To(ContainSubstring(ImageV1))
		second := DeployInput{App: "canary", Commit: Commit(), Files: map[string]string{"service.yaml": strings.ReplaceAll(export, ImageV1, ImageV2)}}
		res = e.Deploy(ctx, second)
		ExpectSuccess(res)
		Expect(res.Strategy).To(Equal(model.SyncStrategy_PIPELINE))
		svc = e.Service(ctx, "canary")
		v2 := ShortName(svc.GetLatestReadyRevision())
		Expect(v2).NotTo(Equal(v1))
		ls = e.Livestate(ctx, second.Source())
		Expect(ls.GetSyncState().GetStatus()).To(Equal(model.ApplicationSyncStatus_SYNCED), "no spurious diff: %s", ls.GetSyncState().GetReason())

		By("reading the canary's result back with gcloud")
		stdout, _ = g.ok(ctx, "run", "services", "describe", "canary")
		Expect(stdout).To(ContainSubstring("100% " + v2))
		stdout, _ = g.ok(ctx, "run", "revisions", "describe", v2, "--format=value(spec.containers[0].image)")
		Expect(stdout).To(Equal(ImageV2 + "\n"))
	})
})
