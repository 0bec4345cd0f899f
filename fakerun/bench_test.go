package fakerun

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// The benchmarks below are run by `make bench` and print the figures the
// fake is held to on 2 cores: ≥10,000 GetService/s and ≥3,000 traffic
// updates/s with 8 concurrent callers, a full list of 1,000 revisions in
// ≤20 ms, and ≤4 KiB of heap per revision at 1,000 services × 100 revisions.
// Every call goes through the official cloud.google.com/go/run/apiv2 client
// over loopback gRPC, except seeding, which calls the RPC handlers directly.

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

// baselineRate measures bare gRPC round trips per second to srv with the
// same number of callers, for ratios: a grpc.health.v1 Check, which the
// server's standard health service answers SERVING without touching the
// fake's state, its lock, faults or call log.
func baselineRate(b *testing.B, srv *Server, d time.Duration) float64 {
	b.Helper()
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	health := healthpb.NewHealthClient(conn)
	return callRate(b, d, func() error {
		resp, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("baseline health check: %v, %w", resp.GetStatus(), err)
		}
		return nil
	})
}

// callRate makes calls with benchCallers concurrent callers for d of real
// time and returns the calls per second.
func callRate(b *testing.B, d time.Duration, call func() error) float64 {
	b.Helper()
	var calls atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for range benchCallers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
				calls.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(calls.Load()) / time.Since(start).Seconds()
}

// BenchmarkGetService: GetService/s with 8 concurrent callers on 8 services,
// and the ratio to bare gRPC round trips on the same server.
func BenchmarkGetService(b *testing.B) {
	srv, services, _ := newBenchFake(b)
	var names []string
	for i := range benchCallers {
		names = append(names, seedService(b, srv, fmt.Sprintf("svc%d", i), 3))
	}
	baseline := baselineRate(b, srv, 300*time.Millisecond)
	runCallers(b, benchCallers, func(caller int) error {
		_, err := services.GetService(context.Background(), &runpb.GetServiceRequest{Name: names[caller]})
		return err
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/baseline, "x-bare-grpc")
}

// BenchmarkUpdateTraffic: traffic-only UpdateService/s (each call moves the
// latest revision's tag, so every update is a real change), 8 concurrent
// callers each on its own service, waiting for each operation.
func BenchmarkUpdateTraffic(b *testing.B) {
	srv, services, _ := newBenchFake(b)
	var names []string
	for i := range benchCallers {
		names = append(names, seedService(b, srv, fmt.Sprintf("svc%d", i), 2))
	}
	baseline := baselineRate(b, srv, 300*time.Millisecond)
	var flips [benchCallers]int
	runCallers(b, benchCallers, func(caller int) error {
		flips[caller]++
		tag := fmt.Sprintf("tag%d", flips[caller]%2)
		op, err := services.UpdateService(context.Background(), &runpb.UpdateServiceRequest{
			Service: &runpb.Service{Name: names[caller], Traffic: []*runpb.TrafficTarget{{
				Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Percent: 100, Tag: tag,
			}}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"traffic"}},
		})
		if err != nil {
			return err
		}
		svc, err := op.Wait(context.Background())
		if err != nil {
			return err
		}
		if got := svc.GetTraffic()[0].GetTag(); got != tag {
			return fmt.Errorf("traffic tag is %q after the update, want %q", got, tag)
		}
		return nil
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/baseline, "x-bare-grpc")
}

// BenchmarkListRevisions: one full listing of a service's 1,000 revisions,
// following next_page_token, with the default (largest) page size and with
// pages of 100.
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
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/list")
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
	b.ReportMetric(bytesPerRevision, "heap-B/revision")
}
