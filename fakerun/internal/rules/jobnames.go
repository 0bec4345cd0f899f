package rules

import (
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// jobIDPattern is the rule for job ids: lowercase letters, digits and
// hyphens, starting with a letter, not ending with a hyphen, at most 63
// characters (a DNS label).
var jobIDPattern = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func ValidateJobID(field, id string) error {
	if !jobIDPattern.MatchString(id) {
		return InvalidArgument(field, fmt.Sprintf("job id %q must use only lowercase letters, digits and hyphens, begin with a letter, not end with a hyphen, and have at most 63 characters", id))
	}
	return nil
}

// parseJobName splits "projects/{p}/locations/{l}/jobs/{j}".
func ParseJobName(field, name string) (project, location, id string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "jobs" ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return "", "", "", InvalidArgument(field, fmt.Sprintf("%q is not a job name of the form projects/{project}/locations/{location}/jobs/{job}", name))
	}
	return parts[1], parts[3], parts[5], nil
}

// parseExecutionName splits ".../jobs/{j}/executions/{e}" into the full job
// name and the execution id.
func ParseExecutionName(field, name string) (jobName, id string, err error) {
	jobName, id, ok := strings.Cut(name, "/executions/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", "", InvalidArgument(field, fmt.Sprintf("%q is not an execution name of the form projects/{project}/locations/{location}/jobs/{job}/executions/{execution}", name))
	}
	if _, _, _, err := ParseJobName(field, jobName); err != nil {
		return "", "", InvalidArgument(field, fmt.Sprintf("%q is not an execution name of the form projects/{project}/locations/{location}/jobs/{job}/executions/{execution}", name))
	}
	return jobName, id, nil
}

// parseTaskName splits ".../executions/{e}/tasks/{t}" into the full
// execution name and the task id.
func ParseTaskName(field, name string) (executionName, id string, err error) {
	executionName, id, ok := strings.Cut(name, "/tasks/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", "", InvalidArgument(field, fmt.Sprintf("%q is not a task name of the form projects/{project}/locations/{location}/jobs/{job}/executions/{execution}/tasks/{task}", name))
	}
	if _, _, err := ParseExecutionName(field, executionName); err != nil {
		return "", "", InvalidArgument(field, fmt.Sprintf("%q is not a task name of the form projects/{project}/locations/{location}/jobs/{job}/executions/{execution}/tasks/{task}", name))
	}
	return executionName, id, nil
}

// jobLocation returns projects/{p}/locations/{l} of a name below a job.
func JobLocation(name string) string {
	location, _, _ := strings.Cut(name, "/jobs/")
	return location
}

// jobNotFound, executionNotFound and taskNotFound report a missing resource
// by its full name, in Cloud Run's NOT_FOUND wording.
func JobNotFound(name string) error {
	return NotFound("JOB", ShortName(name), JobLocation(name))
}

func ExecutionNotFound(name string) error {
	return NotFound("EXECUTION", ShortName(name), JobLocation(name))
}

func TaskNotFound(name string) error {
	return NotFound("TASK", ShortName(name), JobLocation(name))
}

// CheckEtag answers a stale etag, given by a client, on a resource of a kind ("service", "revision", "job",
// "execution") whose etag is current, with the code mismatch; an empty etag matches any.
func CheckEtag(mismatch codes.Code, kind, given, current, id string) error {
	if given == "" || given == current {
		return nil
	}
	return status.Errorf(mismatch, "The etag %s does not match the current etag %s of %s '%s'; read the %s again and retry.", given, current, kind, id, kind)
}

// failedPrecondition is a FAILED_PRECONDITION status.
func FailedPrecondition(format string, args ...any) error {
	return status.Errorf(codes.FailedPrecondition, format, args...)
}
