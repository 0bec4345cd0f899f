package fakerun

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// The benchmarks below are run by `make bench` and print, beside each
// figure, the target the fake is held to on 2 cores (in the unit, e.g.
// "x-bare-grpc(≥0.8)"): GetService at ≥ 0.8× and a traffic UpdateService
// (its operation included) at ≥ 0.6× the rate of the same call to a bare
// gRPC server answering the same messages, measured interleaved, as call
// rates and ("cpu-" figures) as CPU time per call; allocs/op and the
// allocations beyond the bare call's beside them, which are stable where
// timings on a shared machine are not; a full list of 1,000
// revisions in ≤ 10 ms; ≤ 4 KiB of heap per revision at 1,000 services ×
// 100 revisions. Calls go over loopback gRPC through the generated
// stubs (the baseline's client stack) or the official
// cloud.google.com/go/run/apiv2 client, as each benchmark says; seeding
// calls the RPC handlers directly. scaling_bench_test.go holds the fake
// flat as a project grows.

// benchCallers is the number of concurrent callers in throughput benchmarks.
const benchCallers = 8

// newBenchFake starts a server and a gRPC ServicesClient and RevisionsClient for it.
func newBenchFake(b *testing.B, opts ...Option) (*Server, *run.ServicesClient, *run.RevisionsClient) {
	b.Helper()
	srv, err := NewServer(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	services, err := run.NewServicesClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = services.Close() })
	revisions, err := run.NewRevisionsClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = revisions.Close() })
	return srv, services, revisions
}

// seedService creates service id with the given number of revisions by
// calling the RPC handlers directly (no network), as fast as the fake allows.
func seedService(b *testing.B, srv *Server, id string, revisions int) string {
	b.Helper()
	ctx := context.Background()
	name := testParent + "/services/" + id
	image := "us-docker.pkg.dev/project/repo/" + id + ":v"
	if _, err := srv.control.CreateService(ctx, &runpb.CreateServiceRequest{
		Parent: testParent, ServiceId: id, Service: &runpb.Service{Template: template(image + "0")},
	}); err != nil {
		b.Fatal(err)
	}
	for i := 1; i < revisions; i++ {
		if _, err := srv.control.UpdateService(ctx, &runpb.UpdateServiceRequest{
			Service: &runpb.Service{Name: name, Template: template(image + fmt.Sprint(i))},
		}); err != nil {
			b.Fatal(err)
		}
	}
	return name
}

// runCallers shares b.N calls of call among callers goroutines and reports
// the achieved rate as ops/s. call gets the caller's index.
func runCallers(b *testing.B, callers int, call func(caller int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	b.ResetTimer()
	for i := range callers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := call(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// bareGRPC is a plain gRPC connection to a fake with the generated stubs,
// the client stack of the baseline: a ratio over it measures the fake's
// handling of a call, not the official client's own per-call work (gax
// retries and headers; its generated GetService compiles a routing regexp
// on every call).
type bareGRPC struct {
	health     healthpb.HealthClient
	services   runpb.ServicesClient
	operations longrunningpb.OperationsClient
}

// newBareGRPC connects the generated stubs to srv.
func newBareGRPC(b *testing.B, srv *Server) bareGRPC {
	b.Helper()
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return bareGRPC{
		health:     healthpb.NewHealthClient(conn),
		services:   runpb.NewServicesClient(conn),
		operations: longrunningpb.NewOperationsClient(conn),
	}
}

// check is the baseline call: a grpc.health.v1 Check, which the server's
// standard health service answers SERVING without touching the fake's
// state, its lock, faults or call log.
func (g bareGRPC) check(int) error {
	resp, err := g.health.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("baseline health check: %v, %w", resp.GetStatus(), err)
	}
	return nil
}

// callRate makes calls with benchCallers concurrent callers for d of real
// time and returns the calls per second and the process CPU time (user and
// system) per call. call gets the caller's index.
func callRate(b *testing.B, d time.Duration, call func(caller int) error) (rate float64, cpuPerCall time.Duration) {
	b.Helper()
	var calls atomic.Int64
	var wg sync.WaitGroup
	cpu := processCPU(b)
	deadline := time.Now().Add(d)
	start := time.Now()
	for i := range benchCallers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := call(i); err != nil {
					b.Error(err)
					return
				}
				calls.Add(1)
			}
		})
	}
	wg.Wait()
	n := max(calls.Load(), 1)
	return float64(n) / time.Since(start).Seconds(), (processCPU(b) - cpu) / time.Duration(n)
}

// processCPU returns the CPU time the process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ratioRounds and ratioWindow size rateRatio's measurement.
const (
	ratioRounds = 11
	ratioWindow = 100 * time.Millisecond
)

// ratio compares a target's calls to a baseline's, measured in the same
// run: wall is the target's call rate over the baseline's; cpu is the
// baseline's CPU time per call over the target's (client and server, both
// in this process), the same ratio on a machine where the calls have the
// cores to themselves, which on a shared one leaves out the time spent
// waiting for a core.
type ratio struct{ wall, cpu float64 }

// rateRatio measures target against baseline, both with benchCallers
// callers: the medians of ratioRounds rounds, each measuring baseline then
// target for ratioWindow, so that both see the same load on a shared machine.
func rateRatio(b *testing.B, baseline, target func(caller int) error) ratio {
	b.Helper()
	walls, cpus := make([]float64, ratioRounds), make([]float64, ratioRounds)
	for i := range walls {
		baseRate, baseCPU := callRate(b, ratioWindow, baseline)
		rate, cpu := callRate(b, ratioWindow, target)
		walls[i], cpus[i] = rate/baseRate, float64(baseCPU)/float64(max(cpu, 1))
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	return ratio{wall: walls[len(walls)/2], cpu: cpus[len(cpus)/2]}
}

// inverse returns the baseline's ratio to the target's (an overhead).
func (r ratio) inverse() ratio { return ratio{wall: 1 / r.wall, cpu: 1 / r.cpu} }

// report reports r's wall-clock ratio as unit and its CPU ratio as
// "cpu-"+unit.
func (r ratio) report(b *testing.B, unit string) {
	b.ReportMetric(r.wall, unit)
	b.ReportMetric(r.cpu, "cpu-"+unit)
}

// seedBenchServices seeds benchCallers services with the given number of
// revisions each and returns their names.
func seedBenchServices(b *testing.B, srv *Server, revisions int) []string {
	b.Helper()
	var names []string
	for i := range benchCallers {
		names = append(names, seedService(b, srv, fmt.Sprintf("svc%d", i), revisions))
	}
	return names
}

// BenchmarkBareGRPC: the baseline alone, a grpc.health.v1 Check with 8
// concurrent callers: its allocs/op are the transport's share (client and
// server) of every call below.
func BenchmarkBareGRPC(b *testing.B) {
	srv, _, _ := newBenchFake(b)
	runCallers(b, benchCallers, newBareGRPC(b, srv).check)
}

// benchAgainstBare runs b.N calls with benchCallers callers, then reports
// their rate over the same call's to bare (baseline) as unit, and the
// allocations each call makes beyond the baseline's as "allocs-over-bare"
// with the given target.
func benchAgainstBare(b *testing.B, unit, allocTarget string, baseline, call func(caller int) error) {
	b.Helper()
	runCallers(b, benchCallers, call)
	rateRatio(b, baseline, call).report(b, unit)
	b.ReportMetric(allocsPerCall(b, call)-allocsPerCall(b, baseline), "allocs-over-bare"+allocTarget)
}

// allocsPerCallRuns is how many calls allocsPerCall averages over.
const allocsPerCallRuns = 500

// allocsPerCall returns the heap allocations of the whole process (client
// and server) per call, made one at a time by caller 0.
func allocsPerCall(b *testing.B, call func(caller int) error) float64 {
	b.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range allocsPerCallRuns {
		if err := call(0); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / allocsPerCallRuns
}

// bareServices is the baseline's Cloud Run Services API: a plain gRPC
// server (no interceptor, state, lock, faults or call log) answering
// GetService and UpdateService with messages recorded from the fake, so
// that a ratio over it compares the same messages over the same transport
// and client stack, and measures the fake's own handling of a call.
type bareServices struct {
	runpb.UnimplementedServicesServer
	services map[string]*runpb.Service               // by name
	updates  map[bareUpdate]*longrunningpb.Operation // the fake's done operations
}

// bareUpdate keys an update answer: the service and the tag its traffic sets.
type bareUpdate struct{ name, tag string }

func (s *bareServices) GetService(_ context.Context, req *runpb.GetServiceRequest) (*runpb.Service, error) {
	if svc := s.services[req.GetName()]; svc != nil {
		return svc, nil
	}
	return nil, status.Errorf(codes.NotFound, "bare: no recorded service %s", req.GetName())
}

func (s *bareServices) UpdateService(_ context.Context, req *runpb.UpdateServiceRequest) (*longrunningpb.Operation, error) {
	key := bareUpdate{req.GetService().GetName(), req.GetService().GetTraffic()[0].GetTag()}
	if op := s.updates[key]; op != nil {
		return op, nil
	}
	return nil, status.Errorf(codes.NotFound, "bare: no recorded update of %s to tag %q", key.name, key.tag)
}

// newBareServices serves answers on a plain gRPC server on loopback and
// returns a stub connection to it.
func newBareServices(b *testing.B, answers *bareServices) bareGRPC {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer()
	runpb.RegisterServicesServer(gs, answers)
	go func() { _ = gs.Serve(l) }()
	b.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return bareGRPC{services: runpb.NewServicesClient(conn), operations: longrunningpb.NewOperationsClient(conn)}
}

// BenchmarkGetService: GetService/s with 8 concurrent callers on 8 services,
// the ratio to the same call to bare gRPC answering the same services
// (bareServices), measured interleaved (target ≥ 0.8), and the
// allocations per call beyond the bare call's (target ≤ 100). "stub" calls
// through the generated stub, the baseline's client stack; "official-client"
// through run.ServicesClient, for what a user's code pays (its ratio is to
// the bare call through the stub).
func BenchmarkGetService(b *testing.B) {
	srv, services, _ := newBenchFake(b)
	names := seedBenchServices(b, srv, 3)
	stub := newBareGRPC(b, srv)
	answers := &bareServices{services: map[string]*runpb.Service{}}
	for _, name := range names {
		svc, err := stub.services.GetService(context.Background(), &runpb.GetServiceRequest{Name: name})
		if err != nil {
			b.Fatal(err)
		}
		answers.services[name] = svc
	}
	bare := newBareServices(b, answers)
	getter := func(g bareGRPC) func(caller int) error {
		return func(caller int) error {
			_, err := g.services.GetService(context.Background(), &runpb.GetServiceRequest{Name: names[caller]})
			return err
		}
	}
	b.Run("stub", func(b *testing.B) {
		benchAgainstBare(b, "x-bare-grpc(≥0.8)", "(≤100)", getter(bare), getter(stub))
	})
	b.Run("official-client", func(b *testing.B) {
		benchAgainstBare(b, "x-bare-grpc", "", getter(bare), func(caller int) error {
			_, err := services.GetService(context.Background(), &runpb.GetServiceRequest{Name: names[caller]})
			return err
		})
	})
}

// trafficFlipper makes traffic-only updates that move the latest
// revision's tag between two tags, so every update is a real change.
type trafficFlipper struct{ flips [benchCallers]int }

// next returns caller's next update of service name and the tag it sets.
func (f *trafficFlipper) next(caller int, name string) (*runpb.UpdateServiceRequest, string) {
	f.flips[caller]++
	tag := fmt.Sprintf("tag%d", f.flips[caller]%2)
	return &runpb.UpdateServiceRequest{
		Service: &runpb.Service{Name: name, Traffic: []*runpb.TrafficTarget{{
			Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100, Tag: tag,
		}}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"traffic"}},
	}, tag
}

// checkTag fails unless svc's first traffic target has tag.
func checkTag(svc *runpb.Service, tag string) error {
	if got := svc.GetTraffic()[0].GetTag(); got != tag {
		return fmt.Errorf("traffic tag is %q after the update, want %q", got, tag)
	}
	return nil
}

// updateByStub sends req through the generated stubs, waits for its
// operation and returns the service it answers.
func (g bareGRPC) updateByStub(req *runpb.UpdateServiceRequest) (*runpb.Service, error) {
	op, err := g.services.UpdateService(context.Background(), req)
	if err != nil {
		return nil, err
	}
	if !op.GetDone() {
		if op, err = g.operations.WaitOperation(context.Background(), &longrunningpb.WaitOperationRequest{Name: op.GetName()}); err != nil {
			return nil, err
		}
	}
	var svc runpb.Service
	if err := op.GetResponse().UnmarshalTo(&svc); err != nil {
		return nil, fmt.Errorf("operation %s: %w (error %v)", op.GetName(), err, op.GetError())
	}
	return &svc, nil
}

// recordUpdates makes, through stub, the two traffic updates
// trafficFlipper alternates between on each of names and records the done
// operations the fake answers as a bare server's answers.
func recordUpdates(b *testing.B, stub bareGRPC, names []string) *bareServices {
	b.Helper()
	answers := &bareServices{updates: map[bareUpdate]*longrunningpb.Operation{}}
	var flipper trafficFlipper
	for caller, name := range names {
		for range 2 {
			req, tag := flipper.next(caller, name)
			op, err := stub.services.UpdateService(context.Background(), req)
			if err == nil && !op.GetDone() {
				op, err = stub.operations.WaitOperation(context.Background(), &longrunningpb.WaitOperationRequest{Name: op.GetName()})
			}
			if err != nil {
				b.Fatal(err)
			}
			answers.updates[bareUpdate{name, tag}] = op
		}
	}
	return answers
}

// BenchmarkUpdateTraffic: traffic-only UpdateService/s, 8 concurrent
// callers each on its own service, waiting for each operation and reading
// the service it answers; the ratio to the same calls to bare gRPC answering
// the fake's recorded operations (bareServices), measured interleaved
// (target ≥ 0.6), and the allocations per call beyond the bare call's.
// "stub" and "official-client" as in BenchmarkGetService.
func BenchmarkUpdateTraffic(b *testing.B) {
	srv, services, _ := newBenchFake(b)
	names := seedBenchServices(b, srv, 2)
	stub := newBareGRPC(b, srv)
	bare := newBareServices(b, recordUpdates(b, stub, names))
	updater := func(g bareGRPC) func(caller int) error {
		var flipper trafficFlipper
		return func(caller int) error {
			req, tag := flipper.next(caller, names[caller])
			svc, err := g.updateByStub(req)
			if err != nil {
				return err
			}
			return checkTag(svc, tag)
		}
	}
	b.Run("stub", func(b *testing.B) {
		benchAgainstBare(b, "x-bare-grpc(≥0.6)", "", updater(bare), updater(stub))
	})
	b.Run("official-client", func(b *testing.B) {
		var flipper trafficFlipper
		benchAgainstBare(b, "x-bare-grpc", "", updater(bare), func(caller int) error {
			req, tag := flipper.next(caller, names[caller])
			op, err := services.UpdateService(context.Background(), req)
			if err != nil {
				return err
			}
			svc, err := op.Wait(context.Background())
			if err != nil {
				return err
			}
			return checkTag(svc, tag)
		})
	})
}

// BenchmarkListRevisions: one full listing of a service's 1,000 revisions
// through the official client, following next_page_token, with the default
// (largest) page size and with pages of 100 (target ≤ 10 ms).
func BenchmarkListRevisions(b *testing.B) {
	srv, _, revisions := newBenchFake(b)
	name := seedService(b, srv, "svc", 1000)
	for _, pageSize := range []int32{0, 100} {
		b.Run(fmt.Sprintf("page=%d", pageSize), func(b *testing.B) {
			for b.Loop() {
				it := revisions.ListRevisions(context.Background(), &runpb.ListRevisionsRequest{Parent: name, PageSize: pageSize})
				n := 0
				for _, err := range it.All() {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != 1000 {
					b.Fatalf("listed %d revisions, want 1000", n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/list(≤10)")
		})
	}
}

// BenchmarkHeapPerRevision: heap held per revision once 1,000 services × 100
// revisions are stored (including the operations that created them), after
// GC. Each iteration seeds a fresh server; ns/op is the time to seed it.
func BenchmarkHeapPerRevision(b *testing.B) {
	const services, perService = 1000, 100
	var bytesPerRevision float64
	for b.Loop() {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		srv, err := NewServer()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i := range services {
			seedService(b, srv, fmt.Sprintf("svc%04d", i), perService)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if n := len(srv.Revisions(testParent + "/services/svc0999")); n != perService {
			b.Fatalf("service svc0999 has %d revisions, want %d", n, perService)
		}
		bytesPerRevision = float64(after.HeapAlloc-before.HeapAlloc) / (services * perService)
		runtime.KeepAlive(srv)
		_ = srv.Close()
		b.StartTimer()
	}
	b.ReportMetric(bytesPerRevision, "heap-B/revision(≤4096)")
}
