package promql

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// lookback is how far back an instant selector finds a sample, as Prometheus's default lookback delta.
const lookback = 5 * time.Minute

// unsupportedError is a query that parses but uses what fakerun does not evaluate.
type unsupportedError struct{ what string }

func (e unsupportedError) Error() string {
	return e.what + " is not supported by fakerun's PromQL (supported: selectors with label matchers, rate, increase, histogram_quantile, " +
		"vector, sum/min/max/avg/count with by or without, + - * / and or between scalars and vectors, parentheses and unary minus)"
}

func unsupported(format string, a ...any) error { return unsupportedError{fmt.Sprintf(format, a...)} }

// vector is an instant vector: labels and value of each element.
type vector []element

type element struct {
	labels map[string]string
	v      float64
}

// value is a scalar (float64) or a vector.
type value any

// evaluator evaluates one query over its series.
type evaluator struct {
	series []*series
}

// check walks the expression for what fakerun does not evaluate, before any evaluation, so that the error
// names it whatever the data.
func check(expr parser.Expr) error {
	var err error
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if err != nil {
			return err
		}
		switch n := node.(type) {
		case *parser.Call:
			switch n.Func.Name {
			case "rate", "increase", "histogram_quantile", "vector":
			default:
				err = unsupported("function %q", n.Func.Name)
			}
		case *parser.AggregateExpr:
			switch n.Op {
			case parser.SUM, parser.MIN, parser.MAX, parser.AVG, parser.COUNT:
			default:
				err = unsupported("aggregation %q", n.Op.String())
			}
		case *parser.BinaryExpr:
			switch n.Op {
			case parser.ADD, parser.SUB, parser.MUL, parser.DIV, parser.LOR:
			default:
				err = unsupported("operator %q", n.Op.String())
			}
			if m := n.VectorMatching; m != nil && m.Card != parser.CardOneToOne && m.Card != parser.CardManyToMany {
				err = unsupported("group_left and group_right")
			}
		case *parser.VectorSelector:
			if n.OriginalOffset != 0 || n.OriginalOffsetExpr != nil || n.Timestamp != nil || n.StartOrEnd != 0 {
				err = unsupported("offset and @ modifiers")
			}
		case *parser.SubqueryExpr:
			err = unsupported("subqueries")
		case *parser.StringLiteral:
			err = unsupported("string literals")
		}
		return err
	})
	return err
}

// maxRange is the longest range selector of expr, for how far back series are read.
func maxRange(expr parser.Expr) time.Duration {
	var r time.Duration
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if m, ok := node.(*parser.MatrixSelector); ok {
			r = max(r, m.Range)
		}
		return nil
	})
	return r
}

func (ev *evaluator) eval(expr parser.Expr, t time.Time) (value, error) {
	switch n := expr.(type) {
	case *parser.NumberLiteral:
		return n.Val, nil
	case *parser.ParenExpr:
		return ev.eval(n.Expr, t)
	case *parser.UnaryExpr:
		v, err := ev.eval(n.Expr, t)
		if err != nil || n.Op != parser.SUB {
			return v, err
		}
		return apply(v, func(f float64) float64 { return -f }), nil
	case *parser.VectorSelector:
		return ev.selectInstant(n, t), nil
	case *parser.MatrixSelector:
		return nil, unsupported("a range vector outside rate or increase (%s)", n)
	case *parser.Call:
		return ev.call(n, t)
	case *parser.AggregateExpr:
		v, err := ev.eval(n.Expr, t)
		if err != nil {
			return nil, err
		}
		vec, ok := v.(vector)
		if !ok {
			return nil, fmt.Errorf("%s expects an instant vector, got a scalar", n.Op)
		}
		return aggregate(n, vec), nil
	case *parser.BinaryExpr:
		l, err := ev.eval(n.LHS, t)
		if err != nil {
			return nil, err
		}
		r, err := ev.eval(n.RHS, t)
		if err != nil {
			return nil, err
		}
		return binary(n, l, r), nil
	}
	return nil, unsupported("expression %q", expr.String())
}

// matching are the series whose labels satisfy every matcher of sel.
func (ev *evaluator) matching(sel *parser.VectorSelector) []*series {
	var out []*series
	for _, s := range ev.series {
		ok := true
		for _, m := range sel.LabelMatchers {
			if !m.Matches(s.labels[m.Name]) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// selectInstant is the latest sample of each matching series within the lookback before t.
func (ev *evaluator) selectInstant(sel *parser.VectorSelector, t time.Time) vector {
	var out vector
	for _, s := range ev.matching(sel) {
		i := sort.Search(len(s.samples), func(i int) bool { return s.samples[i].t.After(t) }) - 1
		if i >= 0 && s.samples[i].t.After(t.Add(-lookback)) {
			out = append(out, element{labels: maps.Clone(s.labels), v: s.samples[i].v})
		}
	}
	return out
}

func (ev *evaluator) call(c *parser.Call, t time.Time) (value, error) {
	switch c.Func.Name {
	case "rate", "increase":
		m, ok := c.Args[0].(*parser.MatrixSelector)
		if !ok {
			return nil, unsupported("%s of anything but a range selector", c.Func.Name)
		}
		sel := m.VectorSelector.(*parser.VectorSelector)
		var out vector
		for _, s := range ev.matching(sel) {
			inc, ok := s.increase(t.Add(-m.Range), t)
			if !ok {
				continue
			}
			if c.Func.Name == "rate" {
				inc /= m.Range.Seconds()
			}
			l := maps.Clone(s.labels)
			delete(l, "__name__")
			out = append(out, element{labels: l, v: inc})
		}
		return out, nil
	case "vector":
		v, err := ev.eval(c.Args[0], t)
		if err != nil {
			return nil, err
		}
		f, _ := v.(float64) // the parser has checked the argument is a scalar
		return vector{{labels: map[string]string{}, v: f}}, nil
	case "histogram_quantile":
		q, err := ev.eval(c.Args[0], t)
		if err != nil {
			return nil, err
		}
		phi, ok := q.(float64)
		if !ok {
			return nil, fmt.Errorf("histogram_quantile expects a scalar as its first argument")
		}
		v, err := ev.eval(c.Args[1], t)
		if err != nil {
			return nil, err
		}
		vec, ok := v.(vector)
		if !ok {
			return nil, fmt.Errorf("histogram_quantile expects an instant vector as its second argument")
		}
		return histogramQuantile(phi, vec), nil
	}
	return nil, unsupported("function %q", c.Func.Name)
}

// increase is how much the counter grew in (from, to]: from its last sample at or before from (0 for a
// counter summed from DELTA points, which started at 0), or its first sample in the window, to its last
// sample in the window, counting resets as Prometheus does. Unlike Prometheus it does not extrapolate to
// the window's edges: fakerun's points are exact per second.
func (s *series) increase(from, to time.Time) (float64, bool) {
	first := sort.Search(len(s.samples), func(i int) bool { return s.samples[i].t.After(from) })
	last := sort.Search(len(s.samples), func(i int) bool { return s.samples[i].t.After(to) })
	if first == last {
		return 0, false
	}
	var prev float64
	switch {
	case first > 0:
		prev = s.samples[first-1].v
	case s.fromDelta:
		prev = 0
	default:
		if last-first < 2 {
			return 0, false
		}
		prev = s.samples[first].v
		first++
	}
	inc := 0.0
	for _, smp := range s.samples[first:last] {
		if smp.v >= prev {
			inc += smp.v - prev
		} else {
			inc += smp.v // a reset
		}
		prev = smp.v
	}
	return inc, true
}

// signature identifies a label set, without __name__, restricted to names (on) or without them.
func signature(l map[string]string, names []string, on bool) string {
	keys := slices.Sorted(maps.Keys(l))
	var b strings.Builder
	for _, k := range keys {
		if k == "__name__" || (on && !slices.Contains(names, k)) || (!on && slices.Contains(names, k)) {
			continue
		}
		b.WriteString(k + "\xff" + l[k] + "\xff")
	}
	return b.String()
}

func aggregate(n *parser.AggregateExpr, vec vector) vector {
	groups := map[string]*element{}
	counts := map[string]int{}
	var order []string
	for _, e := range vec {
		key := signature(e.labels, n.Grouping, !n.Without)
		g := groups[key]
		if g == nil {
			l := map[string]string{}
			for k, v := range e.labels {
				if k != "__name__" && slices.Contains(n.Grouping, k) != n.Without {
					l[k] = v
				}
			}
			g = &element{labels: l, v: e.v}
			groups[key] = g
			order = append(order, key)
			counts[key] = 1
			continue
		}
		counts[key]++
		switch n.Op {
		case parser.SUM, parser.AVG:
			g.v += e.v
		case parser.MIN:
			g.v = math.Min(g.v, e.v)
		case parser.MAX:
			g.v = math.Max(g.v, e.v)
		}
	}
	out := make(vector, 0, len(order))
	for _, k := range order {
		g := groups[k]
		switch n.Op {
		case parser.AVG:
			g.v /= float64(counts[k])
		case parser.COUNT:
			g.v = float64(counts[k])
		}
		out = append(out, *g)
	}
	return out
}

func arith(op parser.ItemType, a, b float64) float64 {
	switch op {
	case parser.ADD:
		return a + b
	case parser.SUB:
		return a - b
	case parser.MUL:
		return a * b
	}
	return a / b // Prometheus: x/0 is ±Inf or NaN
}

func apply(v value, f func(float64) float64) value {
	if s, ok := v.(float64); ok {
		return f(s)
	}
	vec := v.(vector)
	out := make(vector, len(vec))
	for i, e := range vec {
		l := maps.Clone(e.labels)
		delete(l, "__name__")
		out[i] = element{labels: l, v: f(e.v)}
	}
	return out
}

// binary applies an arithmetic operator: between scalars, a scalar and each element of a vector, or the
// elements of two vectors with the same labels (on or ignoring some of them).
func binary(n *parser.BinaryExpr, l, r value) value {
	ls, lScalar := l.(float64)
	rs, rScalar := r.(float64)
	switch {
	case lScalar && rScalar:
		return arith(n.Op, ls, rs)
	case lScalar:
		return apply(r, func(f float64) float64 { return arith(n.Op, ls, f) })
	case rScalar:
		return apply(l, func(f float64) float64 { return arith(n.Op, f, rs) })
	}
	var names []string
	on := false
	if m := n.VectorMatching; m != nil {
		names, on = m.MatchingLabels, m.On
	}
	if n.Op == parser.LOR {
		return union(l.(vector), r.(vector), names, on)
	}
	right := map[string]element{}
	for _, e := range r.(vector) {
		right[signature(e.labels, names, on)] = e
	}
	var out vector
	for _, e := range l.(vector) {
		key := signature(e.labels, names, on)
		o, ok := right[key]
		if !ok {
			continue
		}
		lbl := map[string]string{}
		for k, v := range e.labels {
			if k != "__name__" && (!on || slices.Contains(names, k)) && (on || !slices.Contains(names, k)) {
				lbl[k] = v
			}
		}
		out = append(out, element{labels: lbl, v: arith(n.Op, e.v, o.v)})
	}
	return out
}

// union is l or r: every element of l, and the elements of r whose labels match none of l's.
func union(l, r vector, names []string, on bool) vector {
	seen := map[string]bool{}
	out := slices.Clone(l)
	for _, e := range l {
		seen[signature(e.labels, names, on)] = true
	}
	for _, e := range r {
		if !seen[signature(e.labels, names, on)] {
			out = append(out, e)
		}
	}
	return out
}

// histogramQuantile is Prometheus's histogram_quantile over classic buckets: per group of elements
// with the same labels but le, the φ-quantile interpolated linearly inside the bucket that holds it.
func histogramQuantile(phi float64, vec vector) vector {
	type bucket struct{ le, count float64 }
	groups := map[string][]bucket{}
	labels := map[string]map[string]string{}
	var order []string
	for _, e := range vec {
		le, err := strconv.ParseFloat(e.labels["le"], 64)
		if err != nil {
			continue // Prometheus ignores series without a valid le
		}
		key := signature(e.labels, []string{"le"}, false)
		if _, ok := groups[key]; !ok {
			l := maps.Clone(e.labels)
			delete(l, "le")
			delete(l, "__name__")
			labels[key] = l
			order = append(order, key)
		}
		groups[key] = append(groups[key], bucket{le, e.v})
	}
	var out vector
	for _, key := range order {
		bs := groups[key]
		slices.SortFunc(bs, func(a, b bucket) int { return cmpFloat(a.le, b.le) })
		v := math.NaN()
		switch {
		case phi < 0:
			v = math.Inf(-1)
		case phi > 1:
			v = math.Inf(1)
		case len(bs) >= 2 && math.IsInf(bs[len(bs)-1].le, 1) && bs[len(bs)-1].count > 0:
			rank := phi * bs[len(bs)-1].count
			i := sort.Search(len(bs)-1, func(i int) bool { return bs[i].count >= rank })
			switch {
			case i == len(bs)-1:
				v = bs[len(bs)-2].le
			case i == 0 && bs[0].le <= 0:
				v = bs[0].le
			default:
				lo, below := 0.0, 0.0
				if i > 0 {
					lo, below = bs[i-1].le, bs[i-1].count
				}
				in := bs[i].count - below
				v = bs[i].le
				if in > 0 {
					v = lo + (bs[i].le-lo)*((rank-below)/in)
				}
			}
		}
		out = append(out, element{labels: labels[key], v: v})
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
