// Package faults is the fake's test hooks on its RPCs: the faults tests inject (errors and delays, per
// method, in order) and the call log of every answered RPC, which tests read or wait on. Interceptor applies
// both to every unary gRPC call, which REST requests become once transcoded.
package faults

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
)

// Methods lists the RPC short names the fake answers; they are the valid
// method names for faults and the Method values in Calls.
var Methods = []string{
	"CreateService", "GetService", "ListServices", "UpdateService", "DeleteService",
	"GetIamPolicy", "SetIamPolicy", "TestIamPermissions",
	"GetRevision", "ListRevisions", "DeleteRevision",
	"CreateJob", "GetJob", "ListJobs", "UpdateJob", "DeleteJob", "RunJob",
	"GetExecution", "ListExecutions", "DeleteExecution", "CancelExecution",
	"GetTask", "ListTasks",
	"CreateWorkerPool", "GetWorkerPool", "ListWorkerPools", "UpdateWorkerPool", "DeleteWorkerPool",
	"GetOperation", "ListOperations", "DeleteOperation", "WaitOperation", "CancelOperation",
	"ListTimeSeries", "CreateTimeSeries", "GetMetricDescriptor", "ListMetricDescriptors",
}

// Fault makes calls to one RPC fail or slow down.
type Fault struct {
	// Code is the gRPC code returned; codes.OK only applies Delay.
	Code codes.Code
	// Message is the error message; a default naming the method is used when empty.
	Message string
	// Times is how many calls the fault affects; 0 means every call.
	Times int
	// Delay is real (wall-clock) latency added before the call is answered.
	Delay time.Duration
}

// Validate checks a fault for method (a name from Methods).
func Validate(method string, f Fault) error {
	if !slices.Contains(Methods, method) {
		return fmt.Errorf("unknown method %q; allowed: %s", method, strings.Join(Methods, ", "))
	}
	if f.Times < 0 {
		return fmt.Errorf("fault for %s: Times must be >= 0 (0 = every call), got %d", method, f.Times)
	}
	if f.Delay < 0 {
		return fmt.Errorf("fault for %s: Delay must not be negative, got %s", method, f.Delay)
	}
	return nil
}

// queued is a registered fault and the calls it still affects.
type queued struct {
	Fault
	remaining int // calls left; <0 means unlimited
}

func newQueued(f Fault) *queued {
	remaining := f.Times
	if remaining == 0 {
		remaining = -1
	}
	return &queued{Fault: f, remaining: remaining}
}

// Injector holds the registered faults, per method in the order they apply. It is safe for concurrent use.
type Injector struct {
	mu     sync.Mutex
	queues map[string][]*queued
}

// NewInjector returns an injector holding initial (already validated).
func NewInjector(initial map[string][]Fault) *Injector {
	inj := &Injector{}
	inj.Reset(initial)
	return inj
}

// Add queues a validated fault for method after the ones already there.
func (inj *Injector) Add(method string, f Fault) {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	inj.queues[method] = append(inj.queues[method], newQueued(f))
}

// Reset replaces every fault by initial.
func (inj *Injector) Reset(initial map[string][]Fault) {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	inj.queues = map[string][]*queued{}
	for m, fs := range initial {
		for _, f := range fs {
			inj.queues[m] = append(inj.queues[m], newQueued(f))
		}
	}
}

// Snapshot returns the registered faults by method, each method's in the order they apply, with Times the
// number of calls a fault still affects (0: every call).
func (inj *Injector) Snapshot() map[string][]Fault {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	out := map[string][]Fault{}
	for method, queue := range inj.queues {
		for _, f := range queue {
			fault := f.Fault
			fault.Times = max(f.remaining, 0)
			out[method] = append(out[method], fault)
		}
	}
	return out
}

// take returns the fault that applies to the next call of method and consumes one use of it.
func (inj *Injector) take(method string) (Fault, bool) {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	queue := inj.queues[method]
	if len(queue) == 0 {
		return Fault{}, false
	}
	f := queue[0]
	if f.remaining > 0 {
		f.remaining--
		if f.remaining == 0 {
			inj.queues[method] = queue[1:]
		}
	}
	return f.Fault, true
}
