package main

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"text/tabwriter"
)

const modulePrefix = "github.com/pipecd-cloudrun/cloudrun/"

// component is a part of the project with a coverage floor. Files are matched by path.Match patterns relative
// to the repository root; a file belongs to the first component that matches it.
type component struct {
	name  string
	files []string
	floor float64 // percent; 0 means reported without a floor
}

// components lists the parts of the project in the order the report prints them.
var components = []component{
	{name: "plugin interface (versions, strategy, stage building)", files: []string{"plugin/deployment/determine.go", "plugin/deployment/pipeline.go"}, floor: 90},
	{name: "stage executors (SYNC, PROMOTE, ANALYSIS, ROLLBACK, CANARY_CLEANUP)", files: []string{"plugin/deployment/*.go", "plugin/app/*.go", "plugin/syncplan/*.go", "plugin/target/*.go"}, floor: 85},
	{name: "Cloud Run client layer", files: []string{"plugin/provider/*.go"}, floor: 80},
	{name: "canary analysis judgement", files: []string{"plugin/analysis/*.go"}, floor: 90},
	{name: "configuration decoding and validation", files: []string{"plugin/config/*.go"}, floor: 95},
	{name: "fakerun", files: []string{"fakerun/*.go", "fakerun/internal/*/*.go", "fakerun/metrics/*.go", "fakerun/console/*.go"}, floor: 85},
	{name: "manifests (v2 and Knative)", files: []string{"plugin/manifest/*.go"}},
	{name: "naming and traffic arithmetic", files: []string{"plugin/naming/*.go", "plugin/traffic/*.go"}},
	{name: "livestate and plan preview", files: []string{"plugin/livestate/*.go", "plugin/planpreview/*.go", "plugin/diff/*.go"}},
}

// block is one line of a coverage profile, merged across profiles by position.
type block struct {
	file       string // repository-relative
	statements int
	covered    bool
}

// parseProfile reads a text coverage profile. Blocks listed more than once (one per test binary) count as
// covered when any listing has a non-zero count.
func parseProfile(r io.Reader) ([]block, error) {
	index := map[string]int{}
	var blocks []block
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 && strings.HasPrefix(text, "mode:") {
			continue
		}
		// name.go:line.column,line.column numberOfStatements count
		fields := strings.Fields(text)
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: want \"file:range statements count\", got %q", line, text)
		}
		colon := strings.LastIndex(fields[0], ":")
		if colon < 0 {
			return nil, fmt.Errorf("line %d: no position in %q", line, fields[0])
		}
		statements, err := strconv.Atoi(fields[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: statements: %w", line, err)
		}
		count, err := strconv.Atoi(fields[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: count: %w", line, err)
		}
		key := fields[0]
		if i, seen := index[key]; seen {
			blocks[i].covered = blocks[i].covered || count > 0
			continue
		}
		index[key] = len(blocks)
		blocks = append(blocks, block{
			file:       strings.TrimPrefix(fields[0][:colon], modulePrefix),
			statements: statements,
			covered:    count > 0,
		})
	}
	return blocks, sc.Err()
}

// result is the measured coverage of one component.
type result struct {
	component
	covered, total int
}

func (r result) percent() float64 {
	if r.total == 0 {
		return 0
	}
	return 100 * float64(r.covered) / float64(r.total)
}

func (r result) meetsFloor() bool { return r.floor == 0 || (r.total > 0 && r.percent() >= r.floor) }

// measure adds the statements of every block to the first component whose patterns match its file.
func measure(comps []component, blocks []block) []result {
	results := make([]result, len(comps))
	for i, c := range comps {
		results[i].component = c
	}
	for _, b := range blocks {
		for i, c := range comps {
			if matchesAny(c.files, b.file) {
				results[i].total += b.statements
				if b.covered {
					results[i].covered += b.statements
				}
				break
			}
		}
	}
	return results
}

func matchesAny(patterns []string, file string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, file); ok {
			return true
		}
	}
	return false
}

func printTable(w io.Writer, results []result) error {
	rows := []string{"COMPONENT\tSTATEMENTS\tCOVERED\tFLOOR\tSTATUS"}
	for _, r := range results {
		floor, status := "-", "info"
		if r.floor > 0 {
			floor = fmt.Sprintf("%.0f%%", r.floor)
			status = "ok"
			if !r.meetsFloor() {
				status = "BELOW FLOOR"
			}
		}
		rows = append(rows, fmt.Sprintf("%s\t%d\t%.1f%%\t%s\t%s", r.name, r.total, r.percent(), floor, status))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if _, err := io.WriteString(tw, strings.Join(rows, "\n")+"\n"); err != nil {
		return err
	}
	return tw.Flush()
}
