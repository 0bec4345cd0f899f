package faults

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// Call is one RPC received by the fake, over gRPC or REST.
type Call struct {
	Method  string        // short name, e.g. "UpdateService"
	Request proto.Message // a copy of the request
	Code    codes.Code    // the code the call was answered with
	Time    time.Time     // server clock when the call was answered
	// Seq numbers the calls the server has answered since it started, from 1; emptying the log (ResetCalls,
	// Reset) does not rewind it, so a Seq (or CallMark) stays a valid point to wait from.
	Seq uint64
}

// callLogLimit bounds memory: the log keeps at least the last callLogLimit calls.
const callLogLimit = 10000

// Log is the log of answered calls, safe for concurrent use. Waiters block on changed, which the next record closes and
// replaces, so a wait that found nothing under mu cannot miss the call that comes next.
type Log struct {
	mu      sync.Mutex
	calls   []Call
	seq     uint64        // Seq of the last recorded call
	changed chan struct{} // closed when a call is recorded, if watched
	watched bool          // a Wait holds changed
}

// NewLog returns an empty log.
func NewLog() *Log {
	return &Log{changed: make(chan struct{})}
}

// Record appends a call; req must already be a copy.
func (l *Log) Record(method string, req proto.Message, code codes.Code, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) >= 2*callLogLimit {
		l.calls = append(l.calls[:0], l.calls[len(l.calls)-callLogLimit:]...)
	}
	l.seq++
	l.calls = append(l.calls, Call{Method: method, Request: req, Code: code, Time: at, Seq: l.seq})
	if l.watched { // else nobody waits on changed: keep it
		close(l.changed)
		l.changed, l.watched = make(chan struct{}), false
	}
}

// Snapshot returns copies of the logged calls, oldest first.
func (l *Log) Snapshot() []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Call, len(l.calls))
	for i, c := range l.calls {
		out[i] = copyCall(c)
	}
	return out
}

// Reset empties the log; Seq keeps counting.
func (l *Log) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = nil
}

// Mark returns the Seq of the last recorded call (0 before the first).
func (l *Log) Mark() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// Wait returns the first logged call to method with a Seq above after, blocking until one is recorded
// or ctx ends.
func (l *Log) Wait(ctx context.Context, method string, after uint64) (Call, error) {
	for {
		l.mu.Lock()
		for _, c := range l.calls {
			if c.Seq > after && c.Method == method {
				l.mu.Unlock()
				return copyCall(c), nil
			}
		}
		changed := l.changed
		l.watched = true
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return Call{}, context.Cause(ctx)
		}
	}
}

func copyCall(c Call) Call {
	if c.Request != nil {
		c.Request = proto.Clone(c.Request)
	}
	return c
}
