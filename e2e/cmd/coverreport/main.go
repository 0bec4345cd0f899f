// Command coverreport reads a merged Go coverage profile (text format) and prints the statement coverage of
// each component of the project, failing when a component is below its floor.
//
//	go run ./cmd/coverreport -profile ../.cover/merged.out
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	profile := flag.String("profile", "", "merged coverage profile in text format (go tool covdata textfmt)")
	flag.Parse()
	if *profile == "" {
		fmt.Fprintln(os.Stderr, "coverreport: -profile is required")
		os.Exit(2)
	}
	data, err := os.ReadFile(*profile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "coverreport:", err)
		os.Exit(2)
	}
	ok, err := run(bytes.NewReader(data), os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "coverreport:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// run prints the report for the profile read from r and tells whether every floor holds.
func run(r io.Reader, w io.Writer) (bool, error) {
	blocks, err := parseProfile(r)
	if err != nil {
		return false, err
	}
	results := measure(components, blocks)
	if err := printTable(w, results); err != nil {
		return false, err
	}
	var below []string
	for _, res := range results {
		if !res.meetsFloor() {
			below = append(below, res.name)
		}
	}
	verdict := "ok: every component meets its floor"
	if len(below) > 0 {
		verdict = "FAIL: below the floor: " + strings.Join(below, "; ")
	}
	_, err = fmt.Fprintf(w, "\n%s\n", verdict)
	return len(below) == 0, err
}
