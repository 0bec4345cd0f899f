package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// equivalents are the surviving mutants that change nothing a caller can observe, each with the reason.
//
// The file has one mutant a line, `package/file.go:line:column TYPE reason`; blank lines and lines starting
// with # are ignored. An entry that matches no surviving mutant of a measured package is reported, so that a
// list gone stale (code moved, mutant now killed) is cleaned up rather than kept.
type equivalents struct {
	entries []equivalent
	used    map[int]bool
}

type equivalent struct {
	file         string
	line, column int
	kind, reason string
}

func (e equivalent) String() string {
	return fmt.Sprintf("%s:%d:%d %s", e.file, e.line, e.column, e.kind)
}

func readEquivalentsFile(path string) (*equivalents, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	eq, err := parseEquivalents(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return eq, nil
}

func parseEquivalents(r io.Reader) (*equivalents, error) {
	eq := &equivalents{used: map[int]bool{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 {
			return nil, fmt.Errorf("line %d: want `package/file.go:line:column TYPE reason`, got %q", n, line)
		}
		pos := strings.Split(fields[0], ":")
		if len(pos) != 3 {
			return nil, fmt.Errorf("line %d: position %q is not file:line:column", n, fields[0])
		}
		ln, err1 := strconv.Atoi(pos[1])
		col, err2 := strconv.Atoi(pos[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: position %q is not file:line:column", n, fields[0])
		}
		eq.entries = append(eq.entries, equivalent{
			file: pos[0], line: ln, column: col, kind: fields[1],
			reason: strings.Join(fields[2:], " "),
		})
	}
	return eq, sc.Err()
}

// claims tells whether m is listed as equivalent, and marks the entry used.
func (eq *equivalents) claims(m mutant) bool {
	for i, e := range eq.entries {
		if e.file == m.File && e.line == m.Line && e.column == m.Column && e.kind == m.Type {
			eq.used[i] = true
			return true
		}
	}
	return false
}

// unused returns the entries of the measured packages that matched no surviving mutant.
func (eq *equivalents) unused(measured []target) []equivalent {
	var out []equivalent
	for i, e := range eq.entries {
		if eq.used[i] {
			continue
		}
		for _, t := range measured {
			if strings.HasPrefix(e.file, t.pkg+"/") {
				out = append(out, e)
				break
			}
		}
	}
	return out
}
