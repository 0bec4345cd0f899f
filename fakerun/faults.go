package fakerun

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
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
	"GetOperation", "ListOperations", "DeleteOperation", "WaitOperation", "CancelOperation",
	"ListTimeSeries", "CreateTimeSeries", "GetMetricDescriptor", "ListMetricDescriptors",
}

// faultState is a registered fault and the calls it still affects.
type faultState struct {
	Fault
	remaining int // calls left; <0 means unlimited
}

func validateFault(method string, f Fault) error {
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

func newFaultState(f Fault) *faultState {
	remaining := f.Times
	if remaining == 0 {
		remaining = -1
	}
	return &faultState{Fault: f, remaining: remaining}
}

// takeFaultLocked returns the fault that applies to the next call of method
// and consumes one use of it. Must be called with s.mu held.
func (s *server) takeFaultLocked(method string) (Fault, bool) {
	queue := s.faults[method]
	if len(queue) == 0 {
		return Fault{}, false
	}
	f := queue[0]
	if f.remaining > 0 {
		f.remaining--
		if f.remaining == 0 {
			s.faults[method] = queue[1:]
		}
	}
	return f.Fault, true
}

// intercept applies faults and records every unary call (REST requests are
// transcoded to gRPC, so they pass here too), except health checks.
func (s *server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, "/"+healthpb.Health_ServiceDesc.ServiceName+"/") {
		return handler(ctx, req)
	}
	method := info.FullMethod[strings.LastIndexByte(info.FullMethod, '/')+1:]
	s.mu.Lock()
	f, faulty := s.takeFaultLocked(method)
	s.mu.Unlock()

	var resp any
	var err error
	if faulty && f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			err = status.FromContextError(ctx.Err()).Err()
		}
	}
	switch {
	case err != nil:
	case faulty && f.Code != codes.OK:
		msg := f.Message
		if msg == "" {
			msg = fmt.Sprintf("fakerun: injected %s fault for %s", f.Code, method)
		}
		err = status.Error(f.Code, msg)
	default:
		resp, err = handler(ctx, req)
	}

	reqCopy, _ := req.(proto.Message)
	if reqCopy != nil {
		reqCopy = proto.Clone(reqCopy)
	}
	s.calls.record(method, reqCopy, status.Code(err), s.now())
	return resp, err
}
