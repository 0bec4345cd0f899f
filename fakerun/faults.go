package fakerun

import (
	"context"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/faults"
)

// Methods lists the RPC short names the fake answers; they are the valid
// method names for faults and the Method values in Calls.
var Methods = faults.Methods

// Fault makes calls to one RPC fail or slow down: Code (codes.OK only applies Delay), Message (a default
// naming the method when empty), Times (how many calls it affects; 0 means every call) and Delay (real
// latency added before the call is answered).
type Fault = faults.Fault

// Call is one RPC received by the fake, over gRPC or REST: Method (short name, e.g. "UpdateService"),
// Request (a copy), Code (the code it was answered with), Time (server clock when answered) and Seq (its
// number among all the calls answered since the server started, from 1; ResetCalls does not rewind it).
type Call = faults.Call

// InjectFault makes calls to method (an RPC short name from Methods) fail or
// slow down; faults for one method apply in the order they were added.
// An unknown method name is ignored, since it could never match a call.
func (s *Server) InjectFault(method string, f Fault) {
	if faults.Validate(method, f) != nil {
		return
	}
	s.faults.Add(method, f)
}

// ClearFaults removes every fault, including those given by WithFault.
func (s *Server) ClearFaults() {
	s.faults.Reset(nil)
}

// Faults returns the registered faults by method, each method's in the order
// they apply. Times is the number of calls a fault still affects (0: every call).
func (s *Server) Faults() map[string][]Fault {
	return s.faults.Snapshot()
}

// Calls returns the RPCs received so far (the most recent ones, at least
// 10,000), oldest first, over gRPC and REST alike.
func (s *Server) Calls() []Call {
	return s.calls.Snapshot()
}

// ResetCalls empties the call log. Call.Seq keeps counting.
func (s *Server) ResetCalls() {
	s.calls.Reset()
}

// CallMark returns the Seq of the last call answered so far (0 before the first): pass it to
// WaitForCallAfter to wait for a call that comes after this point.
func (s *Server) CallMark() uint64 {
	return s.calls.Mark()
}

// WaitForCall returns the oldest call to method (an RPC short name from Methods) in the call log,
// blocking until one is answered when there is none yet. It returns ctx's error when ctx ends first.
func (s *Server) WaitForCall(ctx context.Context, method string) (Call, error) {
	return s.calls.Wait(ctx, method, 0)
}

// WaitForCallAfter returns the first call to method whose Seq is above after (a CallMark, or the Seq of
// a call already seen), blocking until one is answered. A call answered before WaitForCallAfter was
// called counts, so "mark, act, wait" cannot miss it; waiting again with the returned call's Seq waits
// for the next one. It returns ctx's error when ctx ends first.
func (s *Server) WaitForCallAfter(ctx context.Context, after uint64, method string) (Call, error) {
	return s.calls.Wait(ctx, method, after)
}
