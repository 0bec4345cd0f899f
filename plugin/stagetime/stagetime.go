// Package stagetime measures where a stage's time goes: in calls to Google Cloud, asleep between polls and
// retries, and the rest, the plugin's own work. It is off unless the plugin runs with EnvVar set; then the
// deployment plugin ends every stage with one Message line in the plugin's log (not the stage log). The
// figures come from monotonic clock readings, so they are exact to the microsecond.
package stagetime

import (
	"context"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// EnvVar turns the measurement on when set to a non-empty value in the plugin's environment.
const EnvVar = "CLOUDRUN_PLUGIN_STAGE_TIMING"

// Message is the log message of a stage's figures; its fields are named by the Field constants.
const Message = "stage timing"

// The fields of a Message line. Durations are in milliseconds.
const (
	FieldStage      = "stage"
	FieldStageIndex = "stage_index"
	FieldDeployment = "deployment"
	FieldTotal      = "total_ms"
	FieldRPC        = "rpc_ms"
	FieldRPCs       = "rpcs"
	FieldWait       = "wait_ms"
	FieldOwn        = "own_ms"
)

// Span accumulates the time of one stage. A nil *Span records nothing, so code that may run outside a
// measured stage calls its methods without checking.
type Span struct {
	start time.Time
	rpc   atomic.Int64 // nanoseconds inside calls
	rpcs  atomic.Int64 // calls (attempts) made
	wait  atomic.Int64 // nanoseconds asleep
}

type spanKey struct{}

// Start begins a span and returns a context that carries it.
func Start(ctx context.Context) (context.Context, *Span) {
	s := &Span{start: time.Now()}
	return context.WithValue(ctx, spanKey{}, s), s
}

// From returns the span ctx carries, or nil.
func From(ctx context.Context) *Span {
	s, _ := ctx.Value(spanKey{}).(*Span)
	return s
}

// Now returns the time to pass to EndCall after a call, or the zero time when s is nil.
func (s *Span) Now() time.Time {
	if s == nil {
		return time.Time{}
	}
	return time.Now()
}

// EndCall counts one call that started at start (from Now).
func (s *Span) EndCall(start time.Time) {
	if s == nil {
		return
	}
	s.rpc.Add(int64(time.Since(start)))
	s.rpcs.Add(1)
}

// Sleep waits for d or until ctx ends, returning the cause; the time asleep counts as waiting in the span
// ctx carries.
func Sleep(ctx context.Context, d time.Duration) error {
	s := From(ctx)
	start := s.Now()
	defer func() {
		if s != nil {
			s.wait.Add(int64(time.Since(start)))
		}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Figures are a stage's times. Calls and waits on several deploy targets run concurrently and are summed,
// so with more than one target Own understates the plugin's own time.
type Figures struct {
	Total, RPC, Wait time.Duration
	RPCs             int64
}

// Own is the time neither in calls nor asleep.
func (f Figures) Own() time.Duration { return f.Total - f.RPC - f.Wait }

// End returns the figures from the span's start until now.
func (s *Span) End() Figures {
	return Figures{Total: time.Since(s.start), RPC: time.Duration(s.rpc.Load()), Wait: time.Duration(s.wait.Load()), RPCs: s.rpcs.Load()}
}

// Fields returns the figures as the fields of a Message line.
func (f Figures) Fields() []zap.Field {
	return []zap.Field{
		zap.Float64(FieldTotal, ms(f.Total)),
		zap.Float64(FieldRPC, ms(f.RPC)),
		zap.Int64(FieldRPCs, f.RPCs),
		zap.Float64(FieldWait, ms(f.Wait)),
		zap.Float64(FieldOwn, ms(f.Own())),
	}
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
