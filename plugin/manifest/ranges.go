package manifest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// fieldRange is Cloud Run's documented range of a number or duration field of a v2 manifest. An explicit
// value outside it is refused before anything is written, zero included: the API reads a 0 as "unset" and
// would silently use its default (a job written with taskCount: 0 runs one task), so an explicit 0 is
// refused wherever the documented minimum is above 0.
type fieldRange struct {
	// path is the field's path; "[]" after a name means every item of that list.
	path string
	// min and max bound the value: a whole number, or a duration in seconds.
	min, max int64
	duration bool
	// unset says what Cloud Run does when the field is omitted (or 0 where 0 is allowed).
	unset string
}

// Ranges of a v2 Service: https://cloud.google.com/run/docs/configuring/request-timeout (1s to 3600s),
// https://cloud.google.com/run/docs/about-concurrency (at most 1000) and the API reference of
// ContainerPort (0 < containerPort < 65536) and Probe (failureThreshold, periodSeconds and timeoutSeconds:
// minimum 1; periodSeconds at most 240 for a startup probe and 3600 for a liveness probe; ports 1 to 65535).
var serviceRanges = append([]fieldRange{
	{path: "template.timeout", min: 1, max: 3600, duration: true, unset: "Cloud Run's request timeout; omit it for 300s"},
	{path: "template.maxInstanceRequestConcurrency", min: 0, max: 1000, unset: "0 or none: Cloud Run's default"},
}, containerRanges("template.containers[]")...)

// Ranges of a v2 Job: https://cloud.google.com/run/docs/create-jobs (up to 10,000 tasks; a task timeout up
// to 168 hours, 10 minutes by default) and https://cloud.google.com/run/docs/configuring/max-retries (0 to
// 10, 3 by default).
var jobRanges = append([]fieldRange{
	{path: "template.taskCount", min: 1, max: maxTaskCount, unset: "omit it for 1 task"},
	{path: "template.parallelism", min: 0, max: maxTaskCount, unset: "0 or none: as many as Cloud Run allows"},
	{path: "template.template.maxRetries", min: 0, max: 10, unset: "omit it for 3"},
	{path: "template.template.timeout", min: 1, max: maxTaskTimeoutSeconds, duration: true, unset: "168 hours; omit it for 600s"},
}, containerRanges("template.template.containers[]")...)

// Ranges of a v2 WorkerPool: those of its containers' ports and probes, as for a service (a pool's
// manualInstanceCount is checked by WorkerPoolManifest.Validate).
var poolRanges = containerRanges("template.containers[]")

// maxTaskCount is Cloud Run's limit on the tasks of one execution.
const maxTaskCount = 10000

// containerRanges are the ranges of the ports and probes of the containers at path.
func containerRanges(path string) []fieldRange {
	out := []fieldRange{{path: path + ".ports[].containerPort", min: 1, max: 65535, unset: "omit the port for 8080"}}
	for _, probe := range []string{"startupProbe", "livenessProbe"} {
		p, maxPeriod := path+"."+probe, int64(3600)
		if probe == "startupProbe" {
			maxPeriod = 240
		}
		out = append(out,
			fieldRange{path: p + ".failureThreshold", min: 1, max: 1<<31 - 1, unset: "omit it for 3"},
			fieldRange{path: p + ".periodSeconds", min: 1, max: maxPeriod, unset: "omit it for 10"},
			fieldRange{path: p + ".timeoutSeconds", min: 1, max: 3600, unset: "omit it for 1"},
		)
		for _, action := range []string{"httpGet", "tcpSocket", "grpc"} {
			out = append(out, fieldRange{path: p + "." + action + ".port", min: 1, max: 65535, unset: "omit it for the container's port"})
		}
	}
	return out
}

// checkRanges reports the first explicit value of obj outside its range, by its full path. A value that is
// not a number (or duration) is left to the type checks.
func checkRanges(obj map[string]any, ranges []fieldRange) error {
	for _, r := range ranges {
		for _, v := range valuesAt(obj, "", strings.Split(r.path, ".")) {
			if err := r.check(v.path, v.value); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r fieldRange) check(path string, v any) error {
	if r.duration {
		s, ok := v.(string)
		d, err := time.ParseDuration(s)
		if !ok || err != nil || (d >= time.Duration(r.min)*time.Second && d <= time.Duration(r.max)*time.Second) {
			return nil
		}
		return fmt.Errorf("field %q: %q is out of range, allowed %ds to %ds (%s)", path, s, r.min, r.max, r.unset)
	}
	var text string
	switch n := v.(type) {
	case json.Number:
		text = n.String()
	case string: // the REST API also takes a quoted integer
		text = n
	default:
		return nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || (n >= r.min && n <= r.max) {
		return nil
	}
	return fmt.Errorf("field %q: %d is out of range, allowed %d to %d (%s)", path, n, r.min, r.max, r.unset)
}

type pathValue struct {
	path  string
	value any
}

// valuesAt returns the values at the path segments below v, whose path so far is at.
func valuesAt(v any, at string, segments []string) []pathValue {
	if len(segments) == 0 {
		if v == nil {
			return nil
		}
		return []pathValue{{at, v}}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	name, list := strings.CutSuffix(segments[0], "[]")
	child := obj[name]
	if !list {
		return valuesAt(child, join(at, name), segments[1:])
	}
	items, _ := child.([]any)
	var out []pathValue
	for i, item := range items {
		out = append(out, valuesAt(item, fmt.Sprintf("%s[%d]", join(at, name), i), segments[1:])...)
	}
	return out
}
