package framework

import (
	"context"
	"fmt"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// Trigger acts at a precise point of a deployment: once fakerun has answered a call to a method made during
// a stage. It waits on fakerun's call log from the stage's start, so a call answered before the waiter runs
// still counts, and nothing sleeps.
type Trigger struct {
	srv    *fakerun.Server
	index  int
	method string
	act    func(r *piped.Run) error
	ctx    context.Context
	cancel context.CancelFunc
	// started is set when the stage started; done is closed when the waiter has ended, err its outcome.
	started atomic.Bool
	done    chan struct{}
	err     error
	call    fakerun.Call
}

// AfterCall returns a trigger that runs act in the background once fakerun answers a call to method during
// the first execution of stage index (not a rollback stage). Use its Hooks in the deployment, then call
// Wait once the deployment has ended.
func AfterCall(ctx context.Context, srv *fakerun.Server, index int, method string, act func(r *piped.Run) error) *Trigger {
	ctx, cancel := context.WithCancel(ctx)
	return &Trigger{srv: srv, index: index, method: method, act: act, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// Hooks returns next with the trigger's OnStageStart run first.
func (t *Trigger) Hooks(next piped.Hooks) piped.Hooks {
	hooks := next
	hooks.OnStageStart = func(r *piped.Run, s piped.StageRecord) {
		if s.Index == t.index && !s.Rollback && t.started.CompareAndSwap(false, true) {
			t.start(r, s)
		}
		if next.OnStageStart != nil {
			next.OnStageStart(r, s)
		}
	}
	return hooks
}

func (t *Trigger) start(r *piped.Run, s piped.StageRecord) {
	mark := t.srv.CallMark()
	go func() {
		defer GinkgoRecover()
		defer close(t.done)
		call, err := t.srv.WaitForCallAfter(t.ctx, mark, t.method)
		if err != nil {
			t.err = fmt.Errorf("no %s call during stage %d %s: %w", t.method, s.Index, s.Name, err)
			return
		}
		t.call = call
		t.err = t.act(r)
	}()
}

// Wait joins the trigger and returns the call that fired it; it fails the spec when the stage did not run,
// the call never came or act failed.
func (t *Trigger) Wait() fakerun.Call {
	GinkgoHelper()
	t.cancel() // ends a waiter still waiting for its call
	Expect(t.started.Load()).To(BeTrue(), "stage %d never started", t.index)
	<-t.done
	Expect(t.err).NotTo(HaveOccurred())
	return t.call
}
