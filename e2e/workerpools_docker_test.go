package e2e

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// poolWorker is the worker pool instance the docker spec builds: it listens on nothing and runs until it is
// stopped, like a queue consumer.
const poolWorker = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
`

// buildWorkerImages builds poolWorker statically FROM scratch (nothing pulled) under the tags "v1" and "v2"
// of a fresh repository, removed when the spec ends. Without a Docker engine the spec is skipped, except
// when CI=true, where that is a failure.
func buildWorkerImages(ctx context.Context) (v1, v2 string) {
	GinkgoHelper()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			Fail("the docker mode spec needs a Docker engine on CI: " + strings.TrimSpace(string(out)))
		}
		Skip("no Docker engine (" + strings.TrimSpace(string(out)) + "); the docker mode spec needs one")
	}
	dir := GinkgoT().TempDir()
	Expect(os.WriteFile(filepath.Join(dir, "main.go"), []byte(poolWorker), 0o600)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module worker\n\ngo 1.26\n"), 0o600)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY worker /worker\nENTRYPOINT [\"/worker\"]\n"), 0o600)).To(Succeed())
	build := exec.CommandContext(ctx, "go", "build", "-o", "worker", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOWORK=off", "GOFLAGS=")
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build: %s", out)
	repo := "fakerun-e2e-worker-" + target.RandomHex(8)
	v1, v2 = repo+":v1", repo+":v2"
	out, err = exec.CommandContext(ctx, "docker", "build", "--tag", v1, "--tag", v2, dir).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "docker build: %s", out)
	DeferCleanup(func(ctx SpecContext) {
		out, err := exec.CommandContext(ctx, "docker", "rmi", "--force", v1, v2).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "docker rmi: %s", out)
	})
	return v1, v2
}

// poolContainers counts the running containers of each revision (short name) of the pool named name, by
// the fakerun.revision label fakerun gives them.
func poolContainers(ctx context.Context, name string) (map[string]int32, error) {
	out, err := exec.CommandContext(ctx, "docker", "ps", "--filter", "label=fakerun.revision",
		"--format", `{{.Label "fakerun.revision"}}`).Output()
	if err != nil {
		return nil, err
	}
	counts := map[string]int32{}
	for _, rev := range strings.Fields(string(out)) {
		if short, ok := strings.CutPrefix(rev, name+"/revisions/"); ok {
			counts[short]++
		}
	}
	return counts, nil
}

// settledContainers waits until the containers of the pool match want, and returns the last count (which
// differs from want when they never matched within the timeout).
func settledContainers(ctx context.Context, name string, want map[string]int32) map[string]int32 {
	deadline := time.Now().Add(IntervalEventually)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := poolContainers(ctx, name)
		if err == nil && maps.Equal(got, want) || time.Now().After(deadline) {
			return got
		}
		select {
		case <-ctx.Done():
			return got
		case <-tick.C:
		}
	}
}

var _ = Describe("Worker pools in docker mode [workerpools]", Label("workerpools", "fakerun-only"), func() {
	It("moves the pool's containers between revisions as a canary by instance split promotes", func(ctx SpecContext) {
		imageV1, imageV2 := buildWorkerImages(ctx)
		e := newEnv(fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{imageV1: {Docker: true}, imageV2: {Docker: true}}}))
		p := newPoolState(e)

		By("deploying v1: ten containers of its revision")
		res := e.Deploy(ctx, DeployInput{App: poolApp, Files: poolFiles(imageV1)})
		ExpectSuccess(res)
		v1 := ShortName(p.pool().GetLatestReadyRevision())
		Expect(settledContainers(ctx, p.name, map[string]int32{v1: 10})).To(Equal(map[string]int32{v1: 10}))

		By("running the pipeline of v2, counting the containers per revision after every stage")
		type record struct {
			stage                 string
			instances, containers map[string]int32
		}
		var mu sync.Mutex
		var records []record
		hooks := piped.Hooks{OnStageEnd: func(_ *piped.Run, s piped.StageRecord) {
			n, err := e.Fakerun.Instances(p.name)
			if err != nil {
				return
			}
			got := settledContainers(ctx, p.name, n)
			mu.Lock()
			records = append(records, record{stage: s.Name, instances: n, containers: got})
			mu.Unlock()
		}}
		res = e.Deploy(ctx, DeployInput{App: poolApp, Commit: Commit(), Files: poolFiles(imageV2), Hooks: hooks})
		ExpectSuccess(res)
		v2 := ShortName(p.pool().GetLatestCreatedRevision())
		Expect(v2).NotTo(Equal(v1))

		mu.Lock()
		defer mu.Unlock()
		want := []map[string]int32{
			{v1: 10},       // CLOUDRUN_SYNC
			{v1: 9, v2: 1}, // CLOUDRUN_PROMOTE 10
			{v1: 5, v2: 5}, // CLOUDRUN_PROMOTE 50
			{v2: 10},       // CLOUDRUN_PROMOTE 100
			{v2: 10},       // CLOUDRUN_CANARY_CLEANUP
		}
		Expect(records).To(HaveLen(len(want)))
		for i, r := range records {
			Expect(r.instances).To(Equal(want[i]), "instances after stage %d %s", i, r.stage)
			Expect(r.containers).To(Equal(want[i]), "containers after stage %d %s", i, r.stage)
		}

		By("closing fakerun: every container is removed")
		Expect(e.Fakerun.Close()).To(Succeed())
		Expect(poolContainers(ctx, p.name)).To(BeEmpty())
	})
})
