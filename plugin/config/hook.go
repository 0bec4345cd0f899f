package config

import (
	"fmt"
	"path"
	"strings"

	"github.com/pipe-cd/piped-plugin-sdk-go/unit"
)

const stageJobHook = "CLOUDRUN_JOB_HOOK"

// Placeholders that CLOUDRUN_JOB_HOOK replaces in args and env values with what CLOUDRUN_SYNC deployed.
const (
	PlaceholderRevision   = "${CLOUDRUN_REVISION}"
	PlaceholderTagURL     = "${CLOUDRUN_TAG_URL}"
	PlaceholderServiceURL = "${CLOUDRUN_SERVICE_URL}"
)

// Placeholders are every placeholder of a hook's args and env values.
var Placeholders = []string{PlaceholderRevision, PlaceholderTagURL, PlaceholderServiceURL}

// JobHookStageOptions are the options of CLOUDRUN_JOB_HOOK, which runs a Cloud Run job as a step of a
// service's pipeline (a migration before CLOUDRUN_SYNC, a smoke test against the tag URL after it) and
// fails when the execution fails: an existing job (Job), or a job manifest of the application
// (JobManifestFile), created or updated first. The execution's overrides are those of CLOUDRUN_JOB_RUN.
type JobHookStageOptions struct {
	// Job is the short name of an existing job of the deploy target's project and region.
	Job string
	// JobManifestFile is a job manifest in the application directory.
	JobManifestFile string
	// Run are the overrides and the timeout of the execution.
	Run JobRunStageOptions
}

// DecodeJobHookStageOptions strictly decodes and validates the JSON stage config of CLOUDRUN_JOB_HOOK:
// exactly one of job and jobManifestFile is required.
func DecodeJobHookStageOptions(raw []byte) (JobHookStageOptions, error) {
	opts := JobHookStageOptions{Run: JobRunStageOptions{Timeout: unit.Duration(DefaultJobRunTimeout)}}
	fields := append(opts.Run.fields(), stringField("job", &opts.Job), stringField("jobManifestFile", &opts.JobManifestFile))
	if err := decodeObject(stageJobHook, raw, fields...); err != nil {
		return JobHookStageOptions{}, err
	}
	if err := opts.Run.validate(stageJobHook); err != nil {
		return JobHookStageOptions{}, err
	}
	fail := func(name, format string, args ...any) (JobHookStageOptions, error) {
		return JobHookStageOptions{}, fmt.Errorf("%s: field %q: %s", stageJobHook, name, fmt.Sprintf(format, args...))
	}
	switch {
	case opts.Job == "" && opts.JobManifestFile == "":
		return fail("job", "is required unless jobManifestFile is set, allowed the name of a Cloud Run job of the deploy target's project and region")
	case opts.Job != "" && opts.JobManifestFile != "":
		return fail("jobManifestFile", "is set with job, allowed one of them: job runs an existing job, jobManifestFile applies the application's job manifest and runs it")
	case opts.Job != "" && strings.Contains(opts.Job, "/"):
		return fail("job", "%q is not a job name, allowed the short name of a job such as \"migrate\"", opts.Job)
	case opts.JobManifestFile != "" && (path.IsAbs(opts.JobManifestFile) || strings.HasPrefix(path.Clean(opts.JobManifestFile), "..")):
		return fail("jobManifestFile", "%q is outside the application directory, allowed a path relative to it such as \"migrate.job.yaml\"", opts.JobManifestFile)
	}
	return opts, nil
}

// Uses reports whether args or env values name placeholder, or any placeholder when it is empty.
func (o JobHookStageOptions) Uses(placeholder string) bool {
	texts := append([]string{}, o.Run.Args...)
	for _, v := range o.Run.Env {
		texts = append(texts, v)
	}
	for _, t := range texts {
		for _, p := range Placeholders {
			if (placeholder == "" || p == placeholder) && strings.Contains(t, p) {
				return true
			}
		}
	}
	return false
}

// Expand returns the options with the placeholders of args and env values replaced by their values.
func (o JobHookStageOptions) Expand(revision, tagURL, serviceURL string) JobRunStageOptions {
	r := strings.NewReplacer(PlaceholderRevision, revision, PlaceholderTagURL, tagURL, PlaceholderServiceURL, serviceURL)
	out := o.Run
	if o.Run.Args != nil {
		out.Args = make([]string, len(o.Run.Args))
		for i, a := range o.Run.Args {
			out.Args[i] = r.Replace(a)
		}
	}
	if o.Run.Env != nil {
		out.Env = make(map[string]string, len(o.Run.Env))
		for k, v := range o.Run.Env {
			out.Env[k] = r.Replace(v)
		}
	}
	return out
}
