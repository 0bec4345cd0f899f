package fakerun

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
)

// The scaling benchmarks, run by `make bench`, hold the control plane flat
// as a project grows: GetService and traffic UpdateService with 1,000 and
// 10,000 services (10 revisions each) within 1.5× of their latency with
// one service, ListServices of 1,000 services in one page in ≤ 20 ms, and
// 10,000 services × 10 revisions in ≤ 512 MiB of heap.

// scalingRevisions is the number of revisions of every seeded service.
const scalingRevisions = 10

// scaledFake is a server seeded with a number of services and the names of
// the services its callers use, spread over the whole project.
type scaledFake struct {
	srv   *Server
	bare  bareGRPC
	names [benchCallers]string
	heap  uint64 // heap held by the seeded state after GC, in bytes
}

// newScaledFake starts a server and seeds it with services services of
// scalingRevisions revisions each.
func newScaledFake(b *testing.B, services int) *scaledFake {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	srv, _, _ := newBenchFake(b)
	f := &scaledFake{srv: srv, bare: newBareGRPC(b, srv)}
	for i := range services {
		seedService(b, srv, fmt.Sprintf("svc%05d", i), scalingRevisions)
	}
	for caller := range f.names {
		f.names[caller] = fmt.Sprintf("%s/services/svc%05d", testParent, caller*services/benchCallers)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	f.heap = after.HeapAlloc - before.HeapAlloc
	return f
}

// get gets the caller's service.
func (f *scaledFake) get(caller int) error {
	_, err := f.bare.services.GetService(context.Background(), &runpb.GetServiceRequest{Name: f.names[caller]})
	return err
}

// updater returns a call that makes a traffic update of the caller's
// service and waits for its operation.
func (f *scaledFake) updater() func(caller int) error {
	var flipper trafficFlipper
	return func(caller int) error {
		req, tag := flipper.next(caller, f.names[caller])
		svc, err := f.bare.updateByStub(req)
		if err != nil {
			return err
		}
		return checkTag(svc, tag)
	}
}

// BenchmarkScaling: GetService and traffic UpdateService (8 callers, the
// generated stubs) on projects of 1,000 and 10,000 services, with their
// latency over the same call's on a project of one service, measured
// interleaved (target ≤ 1.5×), and the heap the seeded project holds, in
// all (10,000 services: target ≤ 512 MiB), per service and per revision
// (operations included).
func BenchmarkScaling(b *testing.B) {
	one := newScaledFake(b, 1)
	for _, services := range []int{1000, 10000} {
		many := newScaledFake(b, services)
		b.Run(fmt.Sprintf("services=%d/GetService", services), func(b *testing.B) {
			runCallers(b, benchCallers, many.get)
			rateRatio(b, many.get, one.get).report(b, "latency-x-1-service(≤1.5)")
			b.ReportMetric(float64(many.heap)/(1<<20), "heap-MiB(≤512)")
			b.ReportMetric(float64(many.heap)/float64(services), "heap-B/service")
			b.ReportMetric(float64(many.heap)/float64(services*scalingRevisions), "heap-B/revision")
		})
		b.Run(fmt.Sprintf("services=%d/UpdateService", services), func(b *testing.B) {
			runCallers(b, benchCallers, many.updater())
			rateRatio(b, many.updater(), one.updater()).report(b, "latency-x-1-service(≤1.5)")
		})
	}
}

// BenchmarkListServices: one ListServices of a location's 1,000 services in
// one page through the generated stub (target ≤ 20 ms), in wall-clock time
// and in the process's CPU time (client and server), which on a shared
// machine leaves out the time spent waiting for a core.
func BenchmarkListServices(b *testing.B) {
	const services = 1000
	f := newScaledFake(b, services)
	cpu := processCPU(b)
	for b.Loop() {
		resp, err := f.bare.services.ListServices(context.Background(), &runpb.ListServicesRequest{Parent: testParent, PageSize: services})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(resp.GetServices()); n != services || resp.GetNextPageToken() != "" {
			b.Fatalf("listed %d services and next page %q, want %d in one page", n, resp.GetNextPageToken(), services)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/list(≤20)")
	b.ReportMetric(float64((processCPU(b)-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/list(≤20)")
}
