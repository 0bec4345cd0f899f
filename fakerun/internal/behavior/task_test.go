package behavior

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTaskBehaviorJSON(t *testing.T) {
	t.Parallel()
	bs, err := Parse([]byte(`{"images":{"migrate:v3":{"task":{"duration":"30s","exitCode":7,"failTasks":[0,2],"failAttempts":1,"failureRate":0.5}}}}`))
	require.NoError(t, err)
	want := TaskBehavior{Duration: 30 * time.Second, ExitCode: 7, FailTasks: []int{0, 2}, FailAttempts: 1, FailureRate: 0.5}
	assert.Equal(t, want, bs.Images["migrate:v3"].Task)

	out, err := json.Marshal(bs)
	require.NoError(t, err)
	assert.JSONEq(t, `{"images":{"migrate:v3":{"task":{"duration":"30s","exitCode":7,"failTasks":[0,2],"failAttempts":1,"failureRate":0.5}}}}`, string(out))

	testcases := []struct {
		name    string
		json    string
		wantErr string
	}{
		{name: "fail: unknown task field", json: `{"images":{"x":{"task":{"code":1}}}}`, wantErr: `unknown field "code"`},
		{name: "fail: bad duration", json: `{"images":{"x":{"task":{"duration":"soon"}}}}`, wantErr: `field "task.duration": invalid duration "soon"`},
		{name: "fail: exit code out of range", json: `{"images":{"x":{"task":{"exitCode":256}}}}`, wantErr: `images["x"]: field "task.exitCode": must be an exit code from 0 to 255, got 256`},
		{name: "fail: negative index", json: `{"images":{"x":{"task":{"failTasks":[-1]}}}}`, wantErr: `field "task.failTasks": task indexes start at 0, got -1`},
		{name: "fail: rate above 1", json: `{"images":{"x":{"task":{"failureRate":1.5}}}}`, wantErr: `field "task.failureRate": must be between 0 and 1, got 1.5`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.json))
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestTaskBehaviorAttempts(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name         string
		behavior     TaskBehavior
		index, try   int
		wantExitCode int32
	}{
		{name: "success: zero value succeeds", behavior: TaskBehavior{}, wantExitCode: 0},
		{name: "success: exit code fails every attempt", behavior: TaskBehavior{ExitCode: 4}, index: 3, try: 5, wantExitCode: 4},
		{name: "success: fail tasks alone exit 1", behavior: TaskBehavior{FailTasks: []int{1}}, index: 1, wantExitCode: 1},
		{name: "success: other tasks succeed", behavior: TaskBehavior{ExitCode: 4, FailTasks: []int{1}}, index: 0, wantExitCode: 0},
		{name: "success: later attempts succeed", behavior: TaskBehavior{ExitCode: 4, FailAttempts: 2}, try: 2, wantExitCode: 0},
		{name: "success: first attempts fail", behavior: TaskBehavior{ExitCode: 4, FailAttempts: 2}, try: 1, wantExitCode: 4},
		{name: "success: failure rate 1 always fails", behavior: TaskBehavior{FailureRate: 1}, wantExitCode: 1},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, 0x5e7e)) // the server's serving generator under the default seed
			assert.Equal(t, tc.wantExitCode, tc.behavior.AttemptExitCode(tc.index, tc.try, rng))
		})
	}
}

// TestTaskBehaviorJSONOneField: a task behaviour that sets one field keeps it through a round trip, and the
// zero value writes no "task".
func TestTaskBehaviorJSONOneField(t *testing.T) {
	t.Parallel()
	for _, task := range []TaskBehavior{
		{Duration: time.Second}, {ExitCode: 3}, {FailTasks: []int{1}}, {FailAttempts: 2}, {FailureRate: 0.25},
	} {
		out, err := json.Marshal(Behavior{Task: task})
		require.NoError(t, err)
		var back Behavior
		require.NoError(t, json.Unmarshal(out, &back), "%s", out)
		assert.Equal(t, task, back.Task, "%s", out)
	}
	out, err := json.Marshal(Behavior{})
	require.NoError(t, err)
	assert.JSONEq(t, `{}`, string(out))
}
