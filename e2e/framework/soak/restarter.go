package soak

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// restarter kills the plugin with SIGKILL and starts it again, one kill at a time. While it does, no stage
// starts (the soak's hooks and deployments wait for it), so that once the new process has connected to both
// deploy targets (a live-state request) its footprint is a quiet baseline for the leak check.
type restarter struct {
	pd *piped.Piped
	// warmUp is the live-state request that connects the new process to both deploy targets.
	warmUp piped.Source

	mu       sync.Mutex
	back     chan struct{} // closed when the plugin runs again; nil when no kill is in progress
	kills    int
	baseline framework.ProcessStats
	err      error
}

// kill kills the plugin, restarts it after a moment (the machine coming back) and measures the new process,
// unless a kill is in progress.
func (r *restarter) kill(ctx context.Context) bool {
	back, ok := r.begin()
	if !ok {
		return false
	}

	r.pd.KillPlugin()
	time.Sleep(300 * time.Millisecond)
	err := r.pd.RestartPlugin(ctx)
	var stats framework.ProcessStats
	if err == nil {
		if _, err = r.pd.Livestate(ctx, r.warmUp); err == nil {
			stats, err = framework.PluginStats(ctx, r.pd)
		}
	}
	r.end(back, stats, err)
	return true
}

// begin marks a kill in progress and returns the channel to close when it is over; false when one is already.
func (r *restarter) begin() (chan struct{}, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.back != nil {
		return nil, false
	}
	r.back = make(chan struct{})
	r.kills++
	return r.back, true
}

// end ends the kill begin marked: the new process's footprint is stats, err what failed in restarting it.
func (r *restarter) end(back chan struct{}, stats framework.ProcessStats, err error) {
	r.mu.Lock()
	r.back, r.baseline, r.err = nil, stats, errors.Join(r.err, err)
	r.mu.Unlock()
	close(back)
}

// wait returns once no kill is in progress.
func (r *restarter) wait() {
	r.mu.Lock()
	back := r.back
	r.mu.Unlock()
	if back != nil {
		<-back
	}
}
