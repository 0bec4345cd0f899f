package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// result counts the mutants of one package by outcome.
type result struct {
	target
	killed, timedOut, lived, equivalent, notCovered, notViable int
	survivors                                                  []mutant
}

// tally counts the mutants of t; a survivor listed in eq counts as equivalent, not as lived.
func tally(t target, mutants []mutant, eq *equivalents) result {
	r := result{target: t}
	for _, m := range mutants {
		switch m.Status {
		case "KILLED":
			r.killed++
		case "TIMED OUT":
			r.timedOut++
		case "LIVED":
			if eq.claims(m) {
				r.equivalent++
				continue
			}
			r.lived++
			r.survivors = append(r.survivors, m)
		case "NOT COVERED":
			r.notCovered++
		case "NOT VIABLE":
			r.notViable++
		}
	}
	return r
}

// caught counts the mutants the tests detect: a failed test, or tests that no longer finish in time.
func (r result) caught() int { return r.killed + r.timedOut }

// efficacyPercent is caught / (caught + lived), equivalent survivors set aside.
func (r result) efficacyPercent() float64 {
	if r.caught()+r.lived == 0 {
		return 100
	}
	return 100 * float64(r.caught()) / float64(r.caught()+r.lived)
}

// reachedPercent is the share of mutants (not viable ones aside) that the tests execute.
func (r result) reachedPercent() float64 {
	reached := r.caught() + r.lived + r.equivalent
	if reached+r.notCovered == 0 {
		return 100
	}
	return 100 * float64(reached) / float64(reached+r.notCovered)
}

func (r result) meetsTarget() bool {
	return r.efficacyPercent() >= r.efficacy && r.reachedPercent() >= r.reached
}

// report prints the table, the survivors and the stale equivalents, and tells whether every target holds.
func report(w io.Writer, results []result, stale []equivalent) (bool, error) {
	rows := []string{"PACKAGE\tKILLED\tTIMED OUT\tLIVED\tEQUIVALENT\tNOT COVERED\tEFFICACY\tREACHED\tTARGET\tSTATUS"}
	var below []string
	for _, r := range results {
		status := "ok"
		if !r.meetsTarget() {
			status = "BELOW TARGET"
			below = append(below, r.pkg)
		}
		rows = append(rows, fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t%.1f%%\t%.0f%% / %.0f%%\t%s",
			r.pkg, r.killed, r.timedOut, r.lived, r.equivalent, r.notCovered,
			r.efficacyPercent(), r.reachedPercent(), r.efficacy, r.reached, status))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if _, err := io.WriteString(tw, strings.Join(rows, "\n")+"\n"); err != nil {
		return false, err
	}
	if err := tw.Flush(); err != nil {
		return false, err
	}
	var lines []string
	for _, r := range results {
		for _, m := range r.survivors {
			lines = append(lines, fmt.Sprintf("  LIVED %s:%d:%d %s", m.File, m.Line, m.Column, m.Type))
		}
	}
	if len(lines) > 0 {
		lines = append([]string{"\nsurvivors (kill them with a test, or list them as equivalent with the reason):"}, lines...)
	}
	if len(stale) > 0 {
		lines = append(lines, "\nequivalents that match no surviving mutant (remove them):")
		for _, e := range stale {
			lines = append(lines, "  "+e.String())
		}
		below = append(below, "stale equivalents")
	}
	verdict := "ok: every package meets its target"
	if len(below) > 0 {
		verdict = "FAIL: " + strings.Join(below, "; ")
	}
	lines = append(lines, "\n"+verdict)
	_, err := io.WriteString(w, strings.Join(lines, "\n")+"\n")
	return len(below) == 0, err
}
