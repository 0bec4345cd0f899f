package framework

import (
	"context"
	"slices"
	"sync"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// Snapshot is a service as it was right after a stage ended.
type Snapshot struct {
	Stage piped.StageRecord
	// Service is nil when the service could not be read (Err says why) or nothing reads it.
	Service *runpb.Service
	// Revisions are the service's revisions, newest first; only on an in-process fakerun.
	Revisions []*runpb.Revision
	// Calls are the Cloud Run calls fakerun received during the stage; only on an in-process fakerun.
	Calls []fakerun.Call
	// Err is why the service could not be read.
	Err error
}

// RecorderInput is what a Recorder reads after each stage.
type RecorderInput struct {
	// Read reads the service and its revisions; nil reads nothing.
	Read func(ctx context.Context) (*runpb.Service, []*runpb.Revision, error)
	// Calls returns fakerun's call log so far; nil records no calls.
	Calls func() []fakerun.Call
}

// Recorder takes a Snapshot of one service after every stage of the deployments whose hooks it gives.
type Recorder struct {
	in RecorderInput

	mu        sync.Mutex
	callsFrom int
	snaps     []Snapshot
}

// NewRecorder returns a recorder reading what in says.
func NewRecorder(in RecorderInput) *Recorder { return &Recorder{in: in} }

// Recorder returns a recorder of the service id: from an in-process fakerun's state with its revisions and
// the calls of each stage, else through the Cloud Run API (service only).
func (e *Environment) Recorder(id string) *Recorder {
	if e.Fakerun != nil {
		name := e.ServiceName(id)
		return NewRecorder(RecorderInput{
			Read: func(context.Context) (*runpb.Service, []*runpb.Revision, error) {
				svc, err := e.Fakerun.Service(name)
				return svc, e.Fakerun.Revisions(name), err
			},
			Calls: e.Fakerun.Calls,
		})
	}
	return NewRecorder(RecorderInput{Read: func(ctx context.Context) (*runpb.Service, []*runpb.Revision, error) {
		svc, err := e.GetService(ctx, id)
		return svc, nil, err
	}})
}

// Hooks returns the hooks that take the snapshots. The extra hooks (fields may be nil) run after the
// recorder has noted where a stage's calls start, and before the snapshot is taken, so that an OnStageEnd
// that unpauses the target lets the snapshot be read.
func (r *Recorder) Hooks(extra piped.Hooks) piped.Hooks {
	return piped.Hooks{
		OnPlanned: extra.OnPlanned,
		OnLog:     extra.OnLog,
		OnStageStart: func(run *piped.Run, s piped.StageRecord) {
			if r.in.Calls != nil {
				from := len(r.in.Calls())
				r.mu.Lock()
				r.callsFrom = from
				r.mu.Unlock()
			}
			if extra.OnStageStart != nil {
				extra.OnStageStart(run, s)
			}
		},
		OnStageEnd: func(run *piped.Run, s piped.StageRecord) {
			if extra.OnStageEnd != nil {
				extra.OnStageEnd(run, s)
			}
			snap := Snapshot{Stage: s}
			if r.in.Read != nil {
				svc, revs, err := r.in.Read(context.Background())
				if err != nil {
					svc = nil
				}
				snap.Service, snap.Revisions, snap.Err = svc, revs, err
			}
			if r.in.Calls != nil {
				calls := r.in.Calls()
				r.mu.Lock()
				snap.Calls = calls[min(r.callsFrom, len(calls)):]
				r.mu.Unlock()
			}
			r.mu.Lock()
			r.snaps = append(r.snaps, snap)
			r.mu.Unlock()
		},
	}
}

// Snapshots returns the snapshots taken so far, in order.
func (r *Recorder) Snapshots() []Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.snaps)
}
