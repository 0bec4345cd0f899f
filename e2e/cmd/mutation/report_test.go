package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const gremlinsReport = `{"go_module":"github.com/pipecd-cloudrun/cloudrun/plugin","files":[
{"file_name":"judge.go","mutations":[
 {"type":"ARITHMETIC_BASE","status":"KILLED","line":10,"column":5},
 {"type":"CONDITIONALS_BOUNDARY","status":"KILLED","line":11,"column":7},
 {"type":"CONDITIONALS_BOUNDARY","status":"TIMED OUT","line":12,"column":7},
 {"type":"CONDITIONALS_NEGATION","status":"LIVED","line":13,"column":9},
 {"type":"CONDITIONALS_BOUNDARY","status":"LIVED","line":14,"column":3},
 {"type":"INVERT_NEGATIVES","status":"NOT COVERED","line":20,"column":1},
 {"type":"ARITHMETIC_BASE","status":"NOT VIABLE","line":21,"column":1}]}]}`

func TestTallySetsEquivalentSurvivorsAside(t *testing.T) {
	t.Parallel()
	mutants, err := parseReport([]byte(gremlinsReport), "analysis")
	require.NoError(t, err)
	eq, err := parseEquivalents(strings.NewReader(`
# comment
analysis/judge.go:14:3 CONDITIONALS_BOUNDARY  x >= 0 and x > 0 agree: x is never 0 here
analysis/judge.go:99:1 ARITHMETIC_BASE  stale
naming/naming.go:1:1 ARITHMETIC_BASE  another package, not measured
`))
	require.NoError(t, err)

	r := tally(target{pkg: "analysis", efficacy: 75, reached: 80}, mutants, eq)

	assert.Equal(t, []int{2, 1, 1, 1, 1}, []int{r.killed, r.timedOut, r.lived, r.equivalent, r.notCovered})
	assert.InDelta(t, 75.0, r.efficacyPercent(), 0.01, "3 caught of 4 counted; the equivalent survivor is set aside")
	assert.InDelta(t, 83.33, r.reachedPercent(), 0.01, "5 reached of 6 viable mutants")
	assert.True(t, r.meetsTarget())
	assert.Equal(t, []mutant{{File: "analysis/judge.go", Line: 13, Column: 9, Type: "CONDITIONALS_NEGATION", Status: "LIVED"}}, r.survivors)
	stale := eq.unused([]target{{pkg: "analysis"}})
	require.Len(t, stale, 1, "only the measured package's unused entries are stale")
	assert.Equal(t, "analysis/judge.go:99:1 ARITHMETIC_BASE", stale[0].String())
}

func TestReportFailsBelowTargetOrWithStaleEquivalents(t *testing.T) {
	t.Parallel()
	good := result{target: target{pkg: "naming", efficacy: 90, reached: 90}, killed: 9, lived: 1}
	bad := result{target: target{pkg: "deployment", efficacy: 85, reached: 90}, killed: 8, lived: 2,
		survivors: []mutant{{File: "deployment/sync.go", Line: 3, Column: 4, Type: "CONDITIONALS_NEGATION"}}}

	var out bytes.Buffer
	ok, err := report(&out, []result{good}, nil)
	require.NoError(t, err)
	assert.True(t, ok, out.String())
	assert.Contains(t, out.String(), "ok: every package meets its target")

	out.Reset()
	ok, err = report(&out, []result{good, bad}, nil)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Contains(t, out.String(), "deployment  8       0          2      0           0            80.0%     100.0%   85% / 90%  BELOW TARGET")
	assert.Contains(t, out.String(), "LIVED deployment/sync.go:3:4 CONDITIONALS_NEGATION")
	assert.Contains(t, out.String(), "FAIL: deployment\n")

	out.Reset()
	ok, err = report(&out, []result{good}, []equivalent{{file: "naming/naming.go", line: 1, column: 2, kind: "ARITHMETIC_BASE"}})
	require.NoError(t, err)
	assert.False(t, ok, "a stale equivalent fails the run")
	assert.Contains(t, out.String(), "FAIL: stale equivalents")
}

func TestParseEquivalentsRejectsAnEntryWithoutReason(t *testing.T) {
	t.Parallel()
	_, err := parseEquivalents(strings.NewReader("analysis/judge.go:14:3 CONDITIONALS_BOUNDARY\n"))
	assert.ErrorContains(t, err, "line 1")
}
