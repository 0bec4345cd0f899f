package stagetime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

func TestNoSpanRecordsNothing(t *testing.T) {
	ctx := context.Background()
	span := From(ctx)
	require.Nil(t, span)
	assert.True(t, span.Now().IsZero(), "Now of a nil span reads no clock")
	span.EndCall(time.Now()) // must not panic
	require.NoError(t, Sleep(ctx, time.Millisecond))
}

func TestSpanSumsCallsAndSleeps(t *testing.T) {
	ctx, span := Start(context.Background())
	require.Same(t, span, From(ctx))
	for range 2 {
		began := span.Now()
		time.Sleep(3 * time.Millisecond)
		span.EndCall(began)
	}
	require.NoError(t, Sleep(ctx, 5*time.Millisecond))
	f := span.End()
	assert.Equal(t, int64(2), f.RPCs)
	assert.GreaterOrEqual(t, f.RPC, 6*time.Millisecond)
	assert.GreaterOrEqual(t, f.Wait, 5*time.Millisecond)
	assert.GreaterOrEqual(t, f.Total, f.RPC+f.Wait)
	assert.Equal(t, f.Total-f.RPC-f.Wait, f.Own())
}

func TestSleepEndsWithTheContextAndCountsTheTimeAsleep(t *testing.T) {
	cause := errors.New("stage cancelled")
	ctx, cancel := context.WithCancelCause(context.Background())
	ctx, span := Start(ctx)
	time.AfterFunc(5*time.Millisecond, func() { cancel(cause) })
	start := time.Now()
	err := Sleep(ctx, time.Minute)
	require.ErrorIs(t, err, cause)
	f := span.End()
	assert.GreaterOrEqual(t, f.Wait, 5*time.Millisecond)
	assert.LessOrEqual(t, f.Wait, time.Since(start))
}

func TestFieldsAreMillisecondsToTheMicrosecond(t *testing.T) {
	f := Figures{Total: 25*time.Millisecond + 1500*time.Nanosecond, RPC: 10 * time.Millisecond, Wait: 4 * time.Millisecond, RPCs: 3}
	enc := zapcore.NewMapObjectEncoder()
	for _, field := range f.Fields() {
		field.AddTo(enc)
	}
	assert.Equal(t, map[string]any{
		FieldTotal: 25.001,
		FieldRPC:   10.0,
		FieldRPCs:  int64(3),
		FieldWait:  4.0,
		FieldOwn:   11.001,
	}, enc.Fields)
}
