// Package fidelity records what a Cloud Run Admin API v2 endpoint answered to a fixed set of requests (a
// report) and compares the report of real Cloud Run with fakerun's: every mismatch is a concrete candidate
// for a fakerun fix.
package fidelity

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Observation is what one request answered.
type Observation struct {
	// Behaviour names what the request probes, e.g. "get a missing service"; it pairs observations of two reports.
	Behaviour string `json:"behaviour"`
	// Request describes the request: method and the fields that matter.
	Request string `json:"request"`
	// Code is the gRPC status code ("OK", "NOT_FOUND", ...).
	Code string `json:"code"`
	// Message is the status message (not compared: the wording differs).
	Message string `json:"message,omitempty"`
	// Fields are the answer's relevant fields, shaped (see Shape) so that they compare across runs and projects.
	Fields map[string]string `json:"fields,omitempty"`
}

// Report is every observation of one target.
type Report struct {
	// Target is "fakerun" or "cloudrun".
	Target       string        `json:"target"`
	Observations []Observation `json:"observations"`
}

// Write writes the report as indented JSON.
func Write(path string, r Report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// Read reads a report written by Write.
func Read(path string) (Report, error) {
	var r Report
	data, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("fidelity report %s: %w", path, err)
	}
	return r, nil
}

// Mismatch is one difference between Cloud Run's answer and fakerun's.
type Mismatch struct {
	Behaviour string
	Request   string
	// What differs: "code", "field <name>" or "observation".
	What     string
	CloudRun string
	Fakerun  string
	// Message is Cloud Run's status message, to copy into the fix.
	Message string
}

// String renders the mismatch as a fakerun fix candidate.
func (m Mismatch) String() string {
	s := fmt.Sprintf("fakerun fix candidate: %s (%s): %s is %q on Cloud Run but %q on fakerun", m.Behaviour, m.Request, m.What, m.CloudRun, m.Fakerun)
	if m.Message != "" {
		s += fmt.Sprintf(" (Cloud Run says: %s)", m.Message)
	}
	return s
}

const missing = "(not observed)"

// Compare compares Cloud Run's report with fakerun's, behaviour by behaviour: the status code and every field
// must be equal; a behaviour only one report has is a mismatch too. Mismatches come sorted by behaviour.
func Compare(cloudRun, fake Report) []Mismatch {
	onCloudRun, onFakerun := byBehaviour(cloudRun), byBehaviour(fake)
	var names []string
	for n := range onCloudRun {
		names = append(names, n)
	}
	for n := range onFakerun {
		if _, ok := onCloudRun[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []Mismatch
	for _, n := range names {
		r, rok := onCloudRun[n]
		f, fok := onFakerun[n]
		if !rok || !fok {
			m := Mismatch{Behaviour: n, What: "observation", CloudRun: missing, Fakerun: missing}
			if rok {
				m.Request, m.CloudRun = r.Request, r.Code
			} else {
				m.Request, m.Fakerun = f.Request, f.Code
			}
			out = append(out, m)
			continue
		}
		if r.Code != f.Code {
			out = append(out, Mismatch{Behaviour: n, Request: r.Request, What: "code", CloudRun: r.Code, Fakerun: f.Code, Message: r.Message})
		}
		keys := make([]string, 0, len(r.Fields)+len(f.Fields))
		for k := range r.Fields {
			keys = append(keys, k)
		}
		for k := range f.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			rv, rok := r.Fields[k]
			fv, fok := f.Fields[k]
			if !rok {
				rv = missing
			}
			if !fok {
				fv = missing
			}
			if rv != fv {
				out = append(out, Mismatch{Behaviour: n, Request: r.Request, What: "field " + k, CloudRun: rv, Fakerun: fv})
			}
		}
	}
	return out
}

func byBehaviour(r Report) map[string]Observation {
	out := make(map[string]Observation, len(r.Observations))
	for _, o := range r.Observations {
		out[o.Behaviour] = o
	}
	return out
}

var (
	// revisionSuffix is the generated part of a revision name: -00001-abc.
	revisionSuffix = regexp.MustCompile(`-[0-9]{5}-[a-z0-9]{3}\b`)
	// hash is a generated host name or id part: 8 or more lowercase letters and digits, at least one digit.
	hash = regexp.MustCompile(`\b[a-z0-9]*[0-9][a-z0-9]*\b`)
)

// Shape makes a value comparable across runs and projects: every placeholder value (e.g. the project id) is
// replaced by its key in braces, the generated suffix of a revision name by -{NNNNN}-{xxx}, and every other
// run of 8 or more lowercase letters and digits holding a digit by {hash}.
func Shape(s string, placeholders map[string]string) string {
	keys := make([]string, 0, len(placeholders))
	for k := range placeholders {
		keys = append(keys, k)
	}
	// Longest values first, so that a value containing another is replaced whole.
	sort.Slice(keys, func(i, j int) bool { return len(placeholders[keys[i]]) > len(placeholders[keys[j]]) })
	for _, k := range keys {
		if v := placeholders[k]; v != "" {
			s = strings.ReplaceAll(s, v, "{"+k+"}")
		}
	}
	s = revisionSuffix.ReplaceAllString(s, "-{NNNNN}-{xxx}")
	return hash.ReplaceAllStringFunc(s, func(m string) string {
		if len(m) < 8 {
			return m
		}
		return "{hash}"
	})
}
