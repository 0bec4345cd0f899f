package behavior

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// taskBehaviorJSON is TaskBehavior's JSON form, under "task" in a Behavior.
type taskBehaviorJSON struct {
	Duration     string  `json:"duration,omitempty"`
	ExitCode     int     `json:"exitCode,omitempty"`
	FailTasks    []int   `json:"failTasks,omitempty"`
	FailAttempts int     `json:"failAttempts,omitempty"`
	FailureRate  float64 `json:"failureRate,omitempty"`
}

func (t TaskBehavior) Validate() error {
	switch {
	case t.Duration < 0:
		return fmt.Errorf("field %q: must not be negative, got %s", "task.duration", t.Duration)
	case t.ExitCode < 0 || t.ExitCode > 255:
		return fmt.Errorf("field %q: must be an exit code from 0 to 255, got %d", "task.exitCode", t.ExitCode)
	case t.FailAttempts < 0:
		return fmt.Errorf("field %q: must not be negative, got %d", "task.failAttempts", t.FailAttempts)
	case t.FailureRate < 0 || t.FailureRate > 1:
		return fmt.Errorf("field %q: must be between 0 and 1, got %v", "task.failureRate", t.FailureRate)
	}
	for _, i := range t.FailTasks {
		if i < 0 {
			return fmt.Errorf("field %q: task indexes start at 0, got %d", "task.failTasks", i)
		}
	}
	return nil
}

// toJSON returns the JSON form, nil for the zero value.
func (t TaskBehavior) toJSON() *taskBehaviorJSON {
	if t.Duration == 0 && t.ExitCode == 0 && len(t.FailTasks) == 0 && t.FailAttempts == 0 && t.FailureRate == 0 {
		return nil
	}
	out := &taskBehaviorJSON{ExitCode: t.ExitCode, FailTasks: t.FailTasks, FailAttempts: t.FailAttempts, FailureRate: t.FailureRate}
	if t.Duration > 0 {
		out.Duration = t.Duration.String()
	}
	return out
}

// parse reads the JSON form; nil is the zero value.
func (in *taskBehaviorJSON) parse() (TaskBehavior, error) {
	if in == nil {
		return TaskBehavior{}, nil
	}
	d, err := ParseDuration("task.duration", in.Duration)
	if err != nil {
		return TaskBehavior{}, err
	}
	return TaskBehavior{Duration: d, ExitCode: in.ExitCode, FailTasks: in.FailTasks, FailAttempts: in.FailAttempts, FailureRate: in.FailureRate}, nil
}

// AttemptExitCode is the exit code of attempt (0-based) of task index: 0
// when it succeeds. rng draws FailureRate.
func (t TaskBehavior) AttemptExitCode(index, attempt int, rng *rand.Rand) int32 {
	code := int32(t.ExitCode)
	if code == 0 {
		code = 1
	}
	if t.FailureRate > 0 && rng.Float64() < t.FailureRate {
		return code
	}
	if t.ExitCode == 0 && len(t.FailTasks) == 0 {
		return 0
	}
	if len(t.FailTasks) > 0 && !slices.Contains(t.FailTasks, index) {
		return 0
	}
	if t.FailAttempts > 0 && attempt >= t.FailAttempts {
		return 0
	}
	return code
}
