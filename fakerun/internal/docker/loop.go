package docker

import (
	"sync"
	"time"
)

// loop runs a reconcile function every reconcileEvery until halted.
type loop struct {
	stop chan struct{}
	done chan struct{}
}

// startLoop starts calling reconcile every reconcileEvery.
func startLoop(reconcile func()) *loop {
	l := &loop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(reconcileEvery)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				reconcile()
			}
		}
	}()
	return l
}

// halt stops the loop and waits until a reconcile under way has returned. Call it once.
func (l *loop) halt() {
	close(l.stop)
	<-l.done
}

// removeAll removes the containers cs in parallel and waits for all of them.
func (m *Engine) removeAll(cs []*container) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { m.remove(c) })
	}
	wg.Wait()
}
