package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/pipe-cd/piped-plugin-sdk-go/unit"
)

const (
	stageJobSync = "CLOUDRUN_JOB_SYNC"
	stageJobRun  = "CLOUDRUN_JOB_RUN"
)

// DefaultJobRunTimeout is how long CLOUDRUN_JOB_RUN waits for its execution to finish.
const DefaultJobRunTimeout = 30 * time.Minute

// maxTaskCount is Cloud Run's limit on the tasks of one execution.
const maxTaskCount = 10000

// envNamePattern is a valid environment variable name.
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// JobSyncStageOptions are the options of the CLOUDRUN_JOB_SYNC stage.
type JobSyncStageOptions struct {
	// Timeout bounds the wait for Cloud Run to apply the job, written like "30s" or "10m". Default: 10m.
	Timeout unit.Duration `json:"timeout"`
}

// DecodeJobSyncStageOptions strictly decodes the JSON stage config of CLOUDRUN_JOB_SYNC and applies the
// defaults. nil or empty raw yields the defaults.
func DecodeJobSyncStageOptions(raw []byte) (JobSyncStageOptions, error) {
	opts := JobSyncStageOptions{Timeout: unit.Duration(DefaultSyncTimeout)}
	if err := decodeObject(stageJobSync, raw, timeoutField("timeout", &opts.Timeout)); err != nil {
		return JobSyncStageOptions{}, err
	}
	return opts, nil
}

// JobRunStageOptions are the options of the CLOUDRUN_JOB_RUN stage: how long to wait, and what the
// execution overrides in the job's template (only for this execution; the job is not changed).
type JobRunStageOptions struct {
	// Container names the container that Args and Env apply to. Default: the job's only container.
	Container string `json:"container"`
	// Args replace the container's arguments. Default: none (the job's arguments).
	Args []string `json:"args"`
	// Env sets environment variables of the container, by name. Default: none.
	Env map[string]string `json:"env"`
	// TaskCount replaces the job's task count, from 1 to 10000; an explicit 0 is refused. Default: 0 (the
	// job's).
	TaskCount int `json:"taskCount"`
	// TaskTimeout replaces the timeout of each task. Default: 0 (the job's).
	TaskTimeout unit.Duration `json:"taskTimeout"`
	// Timeout bounds the wait for the execution to finish; when it passes, the execution is cancelled and
	// the stage fails. Default: 30m.
	Timeout unit.Duration `json:"timeout"`
}

// DecodeJobRunStageOptions strictly decodes and validates the JSON stage config of CLOUDRUN_JOB_RUN and
// applies the defaults. nil or empty raw yields the defaults: run the job as it is.
func DecodeJobRunStageOptions(raw []byte) (JobRunStageOptions, error) {
	opts := JobRunStageOptions{Timeout: unit.Duration(DefaultJobRunTimeout)}
	if err := decodeObject(stageJobRun, raw, opts.fields()...); err != nil {
		return JobRunStageOptions{}, err
	}
	if err := opts.validate(stageJobRun); err != nil {
		return JobRunStageOptions{}, err
	}
	return opts, nil
}

// fields are the fields of the options, for CLOUDRUN_JOB_RUN and CLOUDRUN_JOB_HOOK.
func (o *JobRunStageOptions) fields() []field {
	return []field{
		stringField("container", &o.Container),
		stringsField("args", &o.Args),
		stringMapField("env", &o.Env),
		rangeField("taskCount", &o.TaskCount, 1, maxTaskCount, "omit it to keep the job's task count"),
		optionalTimeoutField("taskTimeout", &o.TaskTimeout),
		timeoutField("timeout", &o.Timeout),
	}
}

// validate checks the decoded options of stage.
func (o JobRunStageOptions) validate(stage string) error {
	for _, name := range slices.Sorted(maps.Keys(o.Env)) {
		if !envNamePattern.MatchString(name) {
			return fmt.Errorf("%s: field %q: %q is not an environment variable name, allowed letters, digits and \"_\", not starting with a digit",
				stage, "env", name)
		}
	}
	return nil
}

// HasOverrides reports whether the execution changes anything of the job's template.
func (o JobRunStageOptions) HasOverrides() bool {
	return o.Args != nil || len(o.Env) > 0 || o.TaskCount != 0 || o.TaskTimeout != 0
}

// optionalTimeoutField is timeoutField for a duration whose zero default means "not set".
func optionalTimeoutField(name string, dst *unit.Duration) field {
	return field{name, func(o *object) error {
		if o.value(name) == nil {
			return nil
		}
		return timeoutField(name, dst).decode(o)
	}}
}

// stringsField decodes a list of strings.
func stringsField(name string, dst *[]string) field {
	return field{name, func(o *object) error {
		v := o.value(name)
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return o.errorf(name, "%s is not a list of strings, allowed a list such as [\"--dry-run\", \"--limit=10\"]", shorten(v))
		}
		return nil
	}}
}

// stringMapField decodes an object whose values are strings.
func stringMapField(name string, dst *map[string]string) field {
	return field{name, func(o *object) error {
		v := o.value(name)
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return o.errorf(name, "%s is not an object of strings, allowed an object such as {MODE: smoke} (quote numbers and booleans)", shorten(v))
		}
		return nil
	}}
}
