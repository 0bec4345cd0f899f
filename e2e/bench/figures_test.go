package bench

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
)

// FakerunOutputEnv names the file holding the output of fakerun's `go test -bench` run (make bench writes it);
// its figures with a target join the table.
const FakerunOutputEnv = "E2E_BENCH_FAKERUN"

// figure is one row of the table printed at the end of the run.
type figure struct {
	name, value, target string
	// verdict is "met", "NOT MET", or why the figure is missing.
	verdict string
}

var figures struct {
	sync.Mutex
	rows []figure
}

func addFigure(f figure) {
	figures.Lock()
	defer figures.Unlock()
	figures.rows = append(figures.rows, f)
}

// check records a figure that has a target.
func check(name, value, target string, met bool) { addFigure(checked(name, value, target, met)) }

func checked(name, value, target string, met bool) figure {
	verdict := "met"
	if !met {
		verdict = "NOT MET"
	}
	return figure{name: name, value: value, target: target, verdict: verdict}
}

// inform records a figure without a target.
func inform(name, value string) {
	addFigure(figure{name: name, value: value, target: "-", verdict: "-"})
}

// missing records a figure that could not be measured, and why.
func missing(name, target, why string) {
	addFigure(figure{name: name, value: "-", target: target, verdict: "skipped: " + why})
}

// printFigures writes the table: fakerun's figures first (from FakerunOutputEnv), then the plugin's.
func printFigures(w io.Writer) {
	figures.Lock()
	rows := figures.rows
	figures.Unlock()
	fakerun, err := fakerunFigures(os.Getenv(FakerunOutputEnv))
	if err != nil {
		fakerun = []figure{{name: "fakerun benchmarks", value: "-", target: "-", verdict: "skipped: " + err.Error()}}
	}
	_, _ = fmt.Fprintf(w, "\nThe figures of issue 27 and their targets:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "FIGURE\tMEASURED\tTARGET\tVERDICT")
	for _, f := range append(fakerun, rows...) {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.name, f.value, f.target, f.verdict)
	}
	_ = tw.Flush()
}

// targetUnit is a benchmark metric's unit that carries its target, e.g. "ms/startup(≤100)".
var targetUnit = regexp.MustCompile(`^(.+)\((≤|≥)([0-9.]+)\)$`)

// benchLine is a result line of `go test -bench`: the name, then the iterations, then value-unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

// fakerunFigures reads the output of `go test -bench` at path and returns a figure for each metric whose unit
// carries a target.
func fakerunFigures(path string) ([]figure, error) {
	if path == "" {
		return nil, fmt.Errorf("%s is not set (make bench sets it)", FakerunOutputEnv)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []figure
	for line := range strings.Lines(string(raw)) {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		name, fields := strings.TrimPrefix(m[1], "Benchmark"), strings.Fields(m[3])
		for i := 0; i+1 < len(fields); i += 2 {
			value, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			t := targetUnit.FindStringSubmatch(fields[i+1])
			if t == nil {
				continue
			}
			limit, _ := strconv.ParseFloat(t[3], 64)
			met := value <= limit
			if t[2] == "≥" {
				met = value >= limit
			}
			out = append(out, checked("fakerun "+name+" "+t[1], fields[i], t[2]+" "+t[3], met))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no benchmark result with a target in %s", path)
	}
	return out, nil
}
