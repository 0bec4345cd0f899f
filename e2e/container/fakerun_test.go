package container

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"

	dockercontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

// fakerunPort is the port the image listens on.
const fakerunPort = "8080/tcp"

// fakerun is one fakerun container, published on a fixed loopback port so that its address survives a
// restart: the target of a container spec.
type fakerun struct {
	*target.Endpoint
	ctr testcontainers.Container
}

// startFakerun starts a fakerun container with the given flags; it is removed when the spec ends.
func startFakerun(ctx context.Context, args ...string) *fakerun {
	GinkgoHelper()
	hostPort := freePort()
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		Started: true,
		Logger:  GinkgoWriter, // shown only when a spec fails
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        suite.Image,
			Cmd:          args,
			ExposedPorts: []string{fakerunPort},
			HostConfigModifier: func(hc *dockercontainer.HostConfig) {
				hc.PortBindings = network.PortMap{network.MustParsePort(fakerunPort): {{
					HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(hostPort),
				}}}
			},
			// The HTTP wait strategy would dial the address testcontainers guesses for the Docker host; the
			// readiness line is enough, waitHealthy checks the published port.
			WaitingFor: wait.ForLog("fakerun listening on").WithStartupTimeout(IntervalContainerStartup),
		},
	})
	if ctr != nil {
		DeferCleanup(func(ctx SpecContext) {
			_ = exec.CommandContext(ctx, "docker", "unpause", ctr.GetContainerID()).Run() // in case a spec failed while paused
			Expect(ctr.Terminate(ctx)).To(Succeed())
		}, NodeTimeout(IntervalContainerCleanup))
	}
	Expect(err).NotTo(HaveOccurred())

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(hostPort))
	f := &fakerun{Endpoint: target.NewEndpoint(addr, "e2e-"+target.RandomHex(6), target.DefaultRegion), ctr: ctr}
	f.waitHealthy(ctx)
	return f
}

// freePort returns a loopback TCP port that is free right now.
func freePort() int {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// waitHealthy waits until the admin API's healthz answers on the published port.
func (f *fakerun) waitHealthy(ctx context.Context) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		status, body := f.admin(ctx, "healthz")
		g.Expect(status).To(Equal(http.StatusOK), body)
	}).WithContext(ctx).Should(Succeed())
}

// admin GETs an admin API endpoint (path below /_fakerun/) and returns the status code and body.
func (f *fakerun) admin(ctx context.Context, path string) (int, string) {
	return f.adminDo(ctx, http.MethodGet, path, "")
}

// adminPost POSTs a JSON body to an admin API endpoint, failing the spec unless it answers 2xx.
func (f *fakerun) adminPost(ctx context.Context, path, body string) {
	GinkgoHelper()
	status, resp := f.adminDo(ctx, http.MethodPost, path, body)
	Expect(status).To(BeNumerically("<", 300), resp)
}

func (f *fakerun) adminDo(ctx context.Context, method, path, reqBody string) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, IntervalAdmin)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+f.Addr()+"/_fakerun/"+path, strings.NewReader(reqBody))
	if err != nil {
		return 0, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err.Error()
	}
	return resp.StatusCode, string(body)
}

// docker runs a docker CLI command on the container, e.g. "pause".
func (f *fakerun) docker(ctx context.Context, command string) {
	GinkgoHelper()
	out, err := exec.CommandContext(ctx, "docker", command, f.ctr.GetContainerID()).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "docker %s: %s", command, out)
}

// pause freezes every process of the container (docker pause): connections are accepted by the kernel but
// nothing answers until unpause.
func (f *fakerun) pause(ctx context.Context) { f.docker(ctx, "pause") }

// unpause resumes the container after pause.
func (f *fakerun) unpause(ctx context.Context) { f.docker(ctx, "unpause") }

// restart stops the container (SIGTERM) and starts it again: same address, all state gone.
func (f *fakerun) restart(ctx context.Context) {
	GinkgoHelper()
	timeout := IntervalContainerStop
	Expect(f.ctr.Stop(ctx, &timeout)).To(Succeed())
	Expect(f.ctr.Start(ctx)).To(Succeed())
	f.waitHealthy(ctx)
}

// dumps are the fake's state and call log (its admin API) and the container's output.
func (f *fakerun) dumps(ctx context.Context) []Dump {
	var dumps []Dump
	for _, path := range []string{"state", "calls"} {
		_, body := f.admin(ctx, path)
		dumps = append(dumps, Dump{Name: "fakerun-" + path + ".json", Content: body})
	}
	var output string
	if logs, err := f.ctr.Logs(ctx); err != nil {
		output = err.Error()
	} else {
		defer func() { _ = logs.Close() }()
		out, _ := io.ReadAll(logs)
		output = string(out)
	}
	return append(dumps, Dump{Name: "fakerun-container-output.txt", Content: output})
}
