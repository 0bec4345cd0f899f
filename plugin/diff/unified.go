package diff

import (
	"fmt"
	"strings"
)

const (
	diffContext = 3
	// maxDiffLines bounds the size of the comparison table; longer texts are shown as replaced whole.
	maxDiffLines = 4000
)

// UnifiedDiff returns a unified diff (as `diff -u` prints it) that turns text a, named nameA, into
// text b, named nameB, or "" when they are equal.
func UnifiedDiff(nameA, nameB, a, b string) string {
	if a == b {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	ops := lineOps(x, y)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	for start := 0; start < len(ops); {
		// Find the next change, then extend the hunk while changes are close enough.
		first := start
		for first < len(ops) && ops[first].kind == ' ' {
			first++
		}
		if first == len(ops) {
			break
		}
		from := max(first-diffContext, start)
		to := first
		for to < len(ops) {
			if ops[to].kind != ' ' {
				to++
				continue
			}
			run := to
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-to > 2*diffContext {
				to = min(to+diffContext, len(ops))
				break
			}
			to = run
		}
		writeHunk(&out, ops[from:to])
		start = to
	}
	return out.String()
}

type lineOp struct {
	kind         byte // ' ', '-' or '+'
	text         string
	lineA, lineB int // 1-based line numbers before the op in a and b
}

func writeHunk(out *strings.Builder, ops []lineOp) {
	var countA, countB int
	for _, op := range ops {
		if op.kind != '+' {
			countA++
		}
		if op.kind != '-' {
			countB++
		}
	}
	startA, startB := ops[0].lineA, ops[0].lineB
	if countA == 0 {
		startA--
	}
	if countB == 0 {
		startB--
	}
	fmt.Fprintf(out, "@@ -%d,%d +%d,%d @@\n", startA, countA, startB, countB)
	for _, op := range ops {
		out.WriteByte(op.kind)
		out.WriteString(op.text)
		out.WriteByte('\n')
	}
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// lineOps computes an edit script from x to y with a longest-common-subsequence table.
func lineOps(x, y []string) []lineOp {
	if len(x) > maxDiffLines || len(y) > maxDiffLines {
		var ops []lineOp
		for i, l := range x {
			ops = append(ops, lineOp{kind: '-', text: l, lineA: i + 1, lineB: 1})
		}
		for j, l := range y {
			ops = append(ops, lineOp{kind: '+', text: l, lineA: len(x) + 1, lineB: j + 1})
		}
		return ops
	}
	// lcs[i][j] is the length of the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []lineOp
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, lineOp{kind: ' ', text: x[i], lineA: i + 1, lineB: j + 1})
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, lineOp{kind: '-', text: x[i], lineA: i + 1, lineB: j + 1})
			i++
		default:
			ops = append(ops, lineOp{kind: '+', text: y[j], lineA: i + 1, lineB: j + 1})
			j++
		}
	}
	return ops
}
