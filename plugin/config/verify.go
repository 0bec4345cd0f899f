package config

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const stageVerify = "CLOUDRUN_VERIFY"

// Defaults of CLOUDRUN_VERIFY.
const (
	// DefaultVerifyRequests is how many requests the stage sends when neither requests nor rate is set.
	DefaultVerifyRequests = 10
	// DefaultVerifyRequestTimeout bounds one request.
	DefaultVerifyRequestTimeout = 10 * time.Second
	// maxVerifyRequests bounds the requests of one stage, so that a typo cannot load the revision for hours.
	maxVerifyRequests = 10000
)

// verifyMethods are the HTTP methods a verification may send.
var verifyMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

// VerifyStageOptions are the options of CLOUDRUN_VERIFY, which sends requests to the new revision's tag URL
// (at 0% of the traffic) and fails when an answer is not as expected.
type VerifyStageOptions struct {
	// Requests is how many requests are sent one after the other. Default 10 (unless Rate is set).
	Requests int
	// Rate is how many requests a second are sent for Duration, instead of Requests one after the other.
	Rate     float64
	Duration time.Duration
	// Path is the path (and query) requested. Default "/".
	Path string
	// Method is the HTTP method. Default GET.
	Method string
	// Headers are sent with every request.
	Headers map[string]string
	// Body is sent with every request.
	Body string
	// Timeout bounds one request. Default 10s.
	Timeout time.Duration
	// Expect is what every answer must be.
	Expect VerifyExpectations
}

// VerifyExpectations are the checks of every answer of CLOUDRUN_VERIFY, and of the latencies of all.
type VerifyExpectations struct {
	// Status are the allowed statuses: codes (200) or classes ("2xx"). Default 2xx.
	Status []string
	// BodyContains must be in every body.
	BodyContains string
	// BodyRegex must match every body (RE2).
	BodyRegex *regexp.Regexp
	// JSON are values every body, a JSON document, must hold at a path.
	JSON []JSONExpectation
	// LatencyP99 is the highest 99th percentile of the latencies that passes.
	LatencyP99 *time.Duration
}

// JSONExpectation is one value a JSON body must hold.
type JSONExpectation struct {
	// Path is a GJSON path (https://github.com/tidwall/gjson/blob/master/SYNTAX.md), e.g. "status" or
	// "items.0.name".
	Path string
	// Equals is the value at Path, as JSON.
	Equals json.RawMessage
}

// Total is how many requests the stage sends.
func (o VerifyStageOptions) Total() int {
	if o.Rate > 0 {
		return max(1, int(math.Round(o.Rate*o.Duration.Seconds())))
	}
	return o.Requests
}

var statusPattern = regexp.MustCompile(`^[1-5](xx|[0-9]{2})$`)

const statusAllowed = `a status such as 200 or a class such as "2xx", or a list of them`

// DecodeVerifyStageOptions strictly decodes and validates the JSON stage config of CLOUDRUN_VERIFY. nil or
// empty raw yields the defaults: 10 GET requests to "/" answered 2xx.
func DecodeVerifyStageOptions(raw []byte) (VerifyStageOptions, error) {
	opts := VerifyStageOptions{Path: "/", Method: http.MethodGet, Timeout: DefaultVerifyRequestTimeout}
	var requests *int
	var regex string
	err := decodeObject(stageVerify, raw,
		field{"requests", func(o *object) error {
			if o.value("requests") == nil {
				return nil
			}
			n := 0
			if err := o.int("requests", &n, "an integer from 1 to 10000"); err != nil {
				return err
			}
			requests = &n
			return nil
		}},
		floatField("rate", &opts.Rate),
		durationField("duration", &opts.Duration, true, `a positive duration such as "30s"`),
		stringField("path", &opts.Path),
		enumField("method", &opts.Method, verifyMethods...),
		stringMapField("headers", &opts.Headers),
		stringField("body", &opts.Body),
		durationField("timeout", &opts.Timeout, true, `a positive duration such as "10s"`),
		objectField("expect",
			field{"status", func(o *object) error { return o.statuses("status", &opts.Expect.Status) }},
			objectField("body",
				stringField("contains", &opts.Expect.BodyContains),
				stringField("regex", &regex),
				field{"json", func(o *object) error { return o.jsonExpectations("json", &opts.Expect.JSON) }},
			),
			objectField("latency", latencyField("p99", &opts.Expect.LatencyP99)),
		),
	)
	if err != nil {
		return VerifyStageOptions{}, err
	}
	fail := func(name, format string, args ...any) (VerifyStageOptions, error) {
		return VerifyStageOptions{}, fmt.Errorf("%s: field %q: %s", stageVerify, name, fmt.Sprintf(format, args...))
	}
	switch {
	case requests != nil && opts.Rate != 0:
		return fail("rate", "is set with requests, allowed either requests (one after the other) or rate and duration")
	case opts.Rate < 0 || (opts.Rate == 0 && opts.Duration > 0):
		return fail("rate", "%g is out of range, allowed a positive number of requests a second, with duration", opts.Rate)
	case opts.Rate > 0 && opts.Duration == 0:
		return fail("duration", `is required with rate, allowed a positive duration such as "30s"`)
	case requests != nil && (*requests < 1 || *requests > maxVerifyRequests):
		return fail("requests", "%d is out of range, allowed an integer from 1 to 10000", *requests)
	case opts.Rate > 0 && opts.Rate*opts.Duration.Seconds() > maxVerifyRequests:
		return fail("rate", "%g a second for %s is more than 10000 requests, allowed at most 10000", opts.Rate, opts.Duration)
	case !strings.HasPrefix(opts.Path, "/"):
		return fail("path", "%q does not start with \"/\", allowed a path such as \"/healthz\" or \"/api?q=1\"", opts.Path)
	}
	opts.Requests = DefaultVerifyRequests
	if requests != nil {
		opts.Requests = *requests
	}
	if opts.Rate > 0 {
		opts.Requests = 0
	}
	for name := range opts.Headers {
		if !headerNamePattern.MatchString(name) {
			return fail("headers", "%q is not a header name, allowed letters, digits and -", name)
		}
	}
	if len(opts.Expect.Status) == 0 {
		opts.Expect.Status = []string{"2xx"}
	}
	if regex != "" {
		re, err := regexp.Compile(regex)
		if err != nil {
			return fail("expect.body.regex", "%q is not a regular expression (%v), allowed RE2 syntax (https://github.com/google/re2/wiki/Syntax)", regex, err)
		}
		opts.Expect.BodyRegex = re
	}
	return opts, nil
}

var headerNamePattern = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)

// floatField decodes a number.
func floatField(name string, dst *float64) field {
	return field{name, func(o *object) error {
		var p *float64
		if err := numberField(name, &p).decode(o); err != nil || p == nil {
			return err
		}
		*dst = *p
		return nil
	}}
}

// statuses decodes a status or a list of them: codes (200) or classes ("2xx").
func (o *object) statuses(name string, dst *[]string) error {
	v := o.value(name)
	if v == nil {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(v, &items) != nil {
		items = []json.RawMessage{v}
	}
	for _, item := range items {
		var s string
		if json.Unmarshal(item, &s) != nil {
			s = strings.TrimSpace(string(item))
		}
		s = strings.ToLower(s)
		if !statusPattern.MatchString(s) {
			return o.errorf(name, "%s is not allowed, allowed %s", shorten(item), statusAllowed)
		}
		if !slices.Contains(*dst, s) {
			*dst = append(*dst, s)
		}
	}
	if len(*dst) == 0 {
		return o.errorf(name, "is empty, allowed %s", statusAllowed)
	}
	return nil
}

// jsonExpectations decodes one {path, equals} object or a list of them.
func (o *object) jsonExpectations(name string, dst *[]JSONExpectation) error {
	v := o.value(name)
	if v == nil {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(v, &items) != nil {
		items = []json.RawMessage{v}
	}
	for i, item := range items {
		prefix := o.prefix + name + "."
		if len(items) > 1 || strings.HasPrefix(strings.TrimSpace(string(v)), "[") {
			prefix = o.prefix + name + "[" + strconv.Itoa(i) + "]."
		}
		n, err := parseNested(o.where, prefix, item, []string{"equals", "path"})
		if err != nil {
			return err
		}
		var e JSONExpectation
		if err := n.string("path", &e.Path); err != nil {
			return err
		}
		e.Equals = n.value("equals")
		switch {
		case e.Path == "":
			return n.errorf("path", `is required, allowed a GJSON path such as "status" or "items.0.name"`)
		case e.Equals == nil:
			return n.errorf("equals", `is required, allowed the JSON value expected at path, such as "ok", 3 or true`)
		}
		*dst = append(*dst, e)
	}
	return nil
}
