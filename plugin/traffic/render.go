package traffic

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"cloud.google.com/go/run/apiv2/runpb"
)

// BarWidth is the number of cells of a bar drawn by Bar.
const BarWidth = 10

// Bar draws percent (0-100) as a bar of BarWidth cells followed by the number,
// e.g. "████░░░░░░  40%". Only 0 leaves the bar empty and only 100 fills it.
func Bar(percent int32) string {
	p := min(max(percent, 0), 100)
	filled := int((p*BarWidth + 50) / 100)
	if p > 0 && filled == 0 {
		filled = 1
	}
	if p < 100 && filled == BarWidth {
		filled = BarWidth - 1
	}
	return fmt.Sprintf("%s%s %3d%%", strings.Repeat("█", filled), strings.Repeat("░", BarWidth-filled), percent)
}

// Change is one row of a before → after comparison: the traffic a destination (a revision, or
// LATEST) with a tag received before and after.
type Change struct {
	// Revision is the revision name, or "LATEST" for entries following the latest ready revision.
	Revision string
	// Tag is the entry's tag, empty for untagged traffic.
	Tag string
	// Before and After are the percents; an entry missing on one side counts as 0.
	Before, After int32
	// InBefore and InAfter tell on which sides the entry exists.
	InBefore, InAfter bool
}

// Changed reports whether the row differs between before and after.
func (c Change) Changed() bool {
	return c.Before != c.After || c.InBefore != c.InAfter
}

// Changes lists every (destination, tag) pair of before and after, in order of first appearance
// (before first), with the percents summed per pair.
func Changes(before, after []*runpb.TrafficTarget) []Change {
	var rows []Change
	index := map[[2]string]int{}
	add := func(traffic []*runpb.TrafficTarget, isAfter bool) {
		for _, t := range Clone(traffic) {
			k := [2]string{key(t), t.GetTag()}
			i, ok := index[k]
			if !ok {
				i = len(rows)
				index[k] = i
				rows = append(rows, Change{Revision: k[0], Tag: k[1]})
			}
			if isAfter {
				rows[i].After += t.GetPercent()
				rows[i].InAfter = true
			} else {
				rows[i].Before += t.GetPercent()
				rows[i].InBefore = true
			}
		}
	}
	add(before, false)
	add(after, true)
	return rows
}

// Diff returns the rows of Changes that differ; empty when before and after route the same way.
func Diff(before, after []*runpb.TrafficTarget) []Change {
	return slices.DeleteFunc(Changes(before, after), func(c Change) bool { return !c.Changed() })
}

// Render draws a before → after table for stage logs, one row per revision and tag:
//
//	REVISION        BEFORE           AFTER            TAG
//	hello-00001     ██████████ 100%  ██████░░░░  60%
//	hello-0b1375a   -                ████░░░░░░  40%  preview-0b1375a
//
// "-" marks an entry that does not exist on that side.
func Render(before, after []*runpb.TrafficTarget) string {
	rows := [][]string{{"REVISION", "BEFORE", "→ AFTER", "TAG"}}
	for _, c := range Changes(before, after) {
		rows = append(rows, []string{c.Revision, cell(c.Before, c.InBefore), "→ " + cell(c.After, c.InAfter), c.Tag})
	}
	return formatTable(rows)
}

// Table draws one traffic block, one row per entry.
func Table(traffic []*runpb.TrafficTarget) string {
	rows := [][]string{{"REVISION", "TRAFFIC", "TAG"}}
	for _, t := range Clone(traffic) {
		rows = append(rows, []string{key(t), Bar(t.GetPercent()), t.GetTag()})
	}
	return formatTable(rows)
}

func cell(percent int32, exists bool) string {
	if !exists {
		return "-"
	}
	return Bar(percent)
}

// formatTable aligns the columns of rows, two spaces apart, without trailing spaces.
func formatTable(rows [][]string) string {
	var widths []int
	for _, row := range rows {
		for i, c := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, c := range row {
			line.WriteString(c)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteString("\n")
	}
	return b.String()
}
