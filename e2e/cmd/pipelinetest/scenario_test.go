package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadScenarioFilesNameFileLineAndField(t *testing.T) {
	cases := map[string]string{
		"unknown-field.yaml": `testdata/unknown-field.yaml:5: field loda not found in given or when (allowed: image, edits, files, behaviors, faults, load)`,
		"bad-status.yaml":    `testdata/bad-status.yaml:6: then.status "FAILED" is not allowed; allowed: SUCCESS, FAILURE, CANCELLED`,
		"bad-code.yaml":      `testdata/bad-code.yaml:7: faults[].code "UNAVAILABEL" is not allowed; allowed: OK, CANCELED, UNKNOWN, INVALID_ARGUMENT`,
		"no-then.yaml":       `testdata/no-then.yaml:1: then is required`,
		"missing-app.yaml":   `testdata/missing-app.yaml:1: app "../apps/nowhere": no directory apps/nowhere (app is relative to the scenario file)`,
		"bad-edit.yaml":      `testdata/bad-edit.yaml:1: when: edit 1: app.pipecd.yaml does not contain "percent: 30"`,
		"bad-behavior.yaml":  `testdata/bad-behavior.yaml:1: when: behaviors: `,
		"bad-target.yaml":    `testdata/bad-target.yaml:1: targets[1]: a unique name and a region are required, got name "iowa", region ""`,
		"second-doc.yaml":    `testdata/second-doc.yaml:8: then.traffic: the application is a job, which has no traffic`,
	}
	for file, want := range cases {
		_, err := loadScenarios([]string{filepath.Join("testdata", file)})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant %s…", file, err, want)
		}
	}
}

func TestExampleScenariosLoad(t *testing.T) {
	files, err := filepath.Glob("../../../examples/pipeline-testing/scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example scenarios: %v", err)
	}
	scs, err := loadScenarios(files)
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != len(files) {
		t.Errorf("%d scenarios in %d files", len(scs), len(files))
	}
}

func TestBadScenarioFileDeploysNothing(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-plugin", "testdata/no-such-plugin", "-junit", filepath.Join(t.TempDir(), "r.xml"),
		"../../../examples/pipeline-testing/scenarios/checkout-good-canary.yaml", "testdata/bad-status.yaml"}, &stdout, &stderr)
	if code != exitBadInput {
		t.Errorf("exit code %d, want %d", code, exitBadInput)
	}
	if !strings.HasPrefix(stderr.String(), "pipelinetest: bad scenario files, nothing was deployed:\ntestdata/bad-status.yaml:6: then.status") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("something ran:\n%s", stdout.String())
	}
}

func TestFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"-plugin", "a", "-plugin-version", "v1.0.0", "s.yaml"},
		{"-plugin-sha256", "abc", "s.yaml"},
		{"-time-scale", "2", "s.yaml"},
		{},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitBadInput {
			t.Errorf("%q: exit code %d, want %d\n%s", args, code, exitBadInput, stderr.String())
		}
	}
}
