package control

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// defaultWaitTimeout bounds WaitOperation when the request sets no timeout.
const defaultWaitTimeout = 10 * time.Second

// waitPollInterval is how often WaitOperation re-checks a pending operation.
const waitPollInterval = 10 * time.Millisecond

func (s *Server) GetOperation(_ context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.operationLocked(req.GetName())
}

// operationLocked settles and returns the named operation.
// Must be called with s.mu held.
func (s *Server) operationLocked(name string) (*longrunningpb.Operation, error) {
	location, err := rules.ParseOperationName("name", name)
	if err != nil {
		return nil, err
	}
	s.settleLocked()
	op := s.operations[name]
	if op == nil {
		return nil, rules.NotFound("OPERATION", rules.ShortName(name), location)
	}
	return op.op, nil
}

// maxOperationsPageSize is ListOperations' default and largest page size.
const maxOperationsPageSize = 100

// ListOperations lists a location's operations, oldest first, filtered by
// "done:true" or "done:false", the filters Cloud Run documents.
func (s *Server) ListOperations(_ context.Context, req *longrunningpb.ListOperationsRequest) (*longrunningpb.ListOperationsResponse, error) {
	if _, _, err := rules.ParseLocation("name", req.GetName()); err != nil {
		return nil, err
	}
	keep, err := operationsFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	var ops []*operation
	for _, op := range s.sortedOperationsLocked(req.GetName()) {
		if keep(op.op) {
			ops = append(ops, op)
		}
	}
	size := req.GetPageSize()
	if size <= 0 || size > maxOperationsPageSize {
		size = maxOperationsPageSize // "If not set or set to less than or equal to 0, the default page size is 100"
	}
	start, end, next, err := rules.PageBounds(size, req.GetPageToken(), len(ops))
	if err != nil {
		return nil, err
	}
	resp := &longrunningpb.ListOperationsResponse{Operations: make([]*longrunningpb.Operation, 0, end-start), NextPageToken: next}
	for _, op := range ops[start:end] {
		resp.Operations = append(resp.Operations, op.op)
	}
	return resp, nil
}

// operationsFilter parses a ListOperations filter: empty, "done:true" or
// "done:false" (spaces around the colon allowed).
func operationsFilter(filter string) (func(*longrunningpb.Operation) bool, error) {
	field, value, found := strings.Cut(filter, ":")
	switch {
	case strings.TrimSpace(filter) == "":
		return func(*longrunningpb.Operation) bool { return true }, nil
	case found && strings.TrimSpace(field) == "done" && strings.TrimSpace(value) == "true":
		return (*longrunningpb.Operation).GetDone, nil
	case found && strings.TrimSpace(field) == "done" && strings.TrimSpace(value) == "false":
		return func(op *longrunningpb.Operation) bool { return !op.GetDone() }, nil
	}
	return nil, rules.InvalidArgument("filter", fmt.Sprintf("unsupported filter %q; use done:true, done:false or no filter", filter))
}

func (s *Server) DeleteOperation(_ context.Context, req *longrunningpb.DeleteOperationRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.operationLocked(req.GetName()); err != nil {
		return nil, err
	}
	delete(s.operations, req.GetName())
	return &emptypb.Empty{}, nil
}

// WaitOperation waits (in real time) until the operation is done or the
// request's timeout (default 10s) passes, and returns its latest state.
func (s *Server) WaitOperation(ctx context.Context, req *longrunningpb.WaitOperationRequest) (*longrunningpb.Operation, error) {
	timeout := defaultWaitTimeout
	if req.GetTimeout() != nil {
		timeout = req.GetTimeout().AsDuration()
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(waitPollInterval)
	defer tick.Stop()
	for {
		s.mu.Lock()
		op, err := s.operationLocked(req.GetName())
		s.mu.Unlock()
		if err != nil || op.GetDone() {
			return op, err
		}
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-deadline.C:
			return op, nil
		case <-tick.C:
		}
	}
}

// sortedOperationsLocked returns the operations of a location (all when
// location is empty), oldest first. Must be called with s.mu held.
func (s *Server) sortedOperationsLocked(location string) []*operation {
	var ops []*operation
	for _, op := range s.operations {
		if location == "" || op.location == location {
			ops = append(ops, op)
		}
	}
	slices.SortFunc(ops, func(a, b *operation) int {
		return cmp.Compare(a.seq, b.seq)
	})
	return ops
}
