package metrics

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A filter is a parsed monitoring filter
// (https://cloud.google.com/monitoring/api/v3/filters): comparisons of
// selectors with strings or functions, joined by AND, OR, NOT and parentheses.
type filter struct {
	root       node
	metricType string // the single metric.type = "…" the filter is restricted to, if any
	// serviceName is the service a conjunct resource.labels.service_name = "…" restricts the filter
	// to, if any: only that service's series can match.
	serviceName string
}

// fieldFunc returns the value of a normalized selector ("metric.type",
// "resource.type", "project", "metric.labels.K", "resource.labels.K").
type fieldFunc func(selector string) (string, bool)

type node interface {
	match(get fieldFunc) bool
}

type andNode []node
type orNode []node
type notNode struct{ n node }

// comparison is `selector = value` or `selector != value`.
type comparison struct {
	selector string
	negate   bool
	value    func(string) bool
	literal  string // the compared string when value is a plain string
	isString bool
}

func (a andNode) match(get fieldFunc) bool {
	for _, n := range a {
		if !n.match(get) {
			return false
		}
	}
	return true
}

func (o orNode) match(get fieldFunc) bool {
	for _, n := range o {
		if n.match(get) {
			return true
		}
	}
	return false
}

func (n notNode) match(get fieldFunc) bool { return !n.n.match(get) }

func (c *comparison) match(get fieldFunc) bool {
	v, ok := get(c.selector)
	if !ok {
		return c.negate
	}
	return c.value(v) != c.negate
}

// filterFunctions are the value functions filters may use.
var filterFunctions = []string{"one_of", "starts_with", "ends_with", "has_substring", "monitoring.regex.full_match"}

// parseFilter parses a monitoring filter; errors name the offending part.
func parseFilter(s string) (*filter, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %s at offset %d; want AND, OR or the end of the filter", t, t.pos)
	}
	f := &filter{root: root}
	conjuncts := []node{root}
	if a, ok := root.(andNode); ok {
		conjuncts = a
	}
	for _, n := range conjuncts {
		if c, ok := n.(*comparison); ok && c.selector == "metric.type" && !c.negate && c.isString {
			if f.metricType != "" && f.metricType != c.literal {
				return nil, fmt.Errorf("the filter names two metric types, %q and %q; ListTimeSeries reads one", f.metricType, c.literal)
			}
			f.metricType = c.literal
		}
		if c, ok := n.(*comparison); ok && c.selector == "resource.labels.service_name" && !c.negate && c.isString {
			f.serviceName = c.literal
		}
	}
	return f, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokOp // = != ( ) ,
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of filter"
	case tokString:
		return fmt.Sprintf("string %q", t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || c == '/' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// lex splits a filter into tokens.
func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ',' || c == '=':
			toks = append(toks, token{tokOp, string(c), i})
			i++
		case c == '!' && i+1 < len(s) && s[i+1] == '=':
			toks = append(toks, token{tokOp, "!=", i})
			i += 2
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string starting at offset %d", i)
			}
			toks = append(toks, token{tokString, b.String(), i})
			i = j + 1
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			toks = append(toks, token{tokIdent, s[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at offset %d; operators are = and != (with AND, OR, NOT and parentheses)", c, i)
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(s)}), nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) keyword(k string) bool {
	if t := p.peek(); t.kind == tokIdent && t.text == k {
		p.i++
		return true
	}
	return false
}

func (p *parser) or() (node, error) {
	terms, err := p.joined("OR", p.and)
	if err != nil || len(terms) == 1 {
		return first(terms), err
	}
	return orNode(terms), nil
}

func (p *parser) and() (node, error) {
	factors, err := p.joined("AND", p.factor)
	if err != nil || len(factors) == 1 {
		return first(factors), err
	}
	return andNode(factors), nil
}

// joined parses sub, then more of it for as long as keyword joins them.
func (p *parser) joined(keyword string, sub func() (node, error)) ([]node, error) {
	var nodes []node
	for {
		n, err := sub()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
		if !p.keyword(keyword) {
			return nodes, nil
		}
	}
}

func first(nodes []node) node {
	if len(nodes) == 0 {
		return nil
	}
	return nodes[0]
}

func (p *parser) factor() (node, error) {
	if p.keyword("NOT") {
		n, err := p.factor()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	if t := p.peek(); t.kind == tokOp && t.text == "(" {
		p.next()
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokOp || t.text != ")" {
			return nil, fmt.Errorf("unexpected %s at offset %d; want \")\"", t, t.pos)
		}
		return n, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (node, error) {
	t := p.next()
	if t.kind != tokIdent {
		return nil, fmt.Errorf("unexpected %s at offset %d; want a selector such as metric.type or resource.labels.service_name", t, t.pos)
	}
	sel, err := normalizeSelector(t.text)
	if err != nil {
		return nil, fmt.Errorf("offset %d: %w", t.pos, err)
	}
	op := p.next()
	if op.kind != tokOp || op.text != "=" && op.text != "!=" {
		return nil, fmt.Errorf("unexpected %s at offset %d after %s; want = or !=", op, op.pos, t.text)
	}
	c := &comparison{selector: sel, negate: op.text == "!="}
	v := p.next()
	switch v.kind {
	case tokString:
		lit := v.text
		c.value, c.literal, c.isString = func(s string) bool { return s == lit }, lit, true
	case tokIdent:
		if c.value, err = p.function(v); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unexpected %s at offset %d after %s %s; want a quoted string or one of the functions %s", v, v.pos, t.text, op.text, strings.Join(filterFunctions, ", "))
	}
	return c, nil
}

// function parses the arguments of a value function named by name.
func (p *parser) function(name token) (func(string) bool, error) {
	if !slices.Contains(filterFunctions, name.text) {
		return nil, fmt.Errorf("unknown function %q at offset %d; allowed: %s (values must be quoted strings)", name.text, name.pos, strings.Join(filterFunctions, ", "))
	}
	if t := p.next(); t.kind != tokOp || t.text != "(" {
		return nil, fmt.Errorf("unexpected %s at offset %d; want \"(\" after %s", t, t.pos, name.text)
	}
	var args []string
	for {
		t := p.next()
		if t.kind != tokString {
			return nil, fmt.Errorf("unexpected %s at offset %d in %s(…); want a quoted string", t, t.pos, name.text)
		}
		args = append(args, t.text)
		t = p.next()
		if t.kind == tokOp && t.text == ")" {
			break
		}
		if t.kind != tokOp || t.text != "," {
			return nil, fmt.Errorf("unexpected %s at offset %d in %s(…); want \",\" or \")\"", t, t.pos, name.text)
		}
	}
	if name.text != "one_of" && len(args) != 1 {
		return nil, fmt.Errorf("%s at offset %d takes one string, got %d", name.text, name.pos, len(args))
	}
	switch name.text {
	case "one_of":
		return func(s string) bool { return slices.Contains(args, s) }, nil
	case "starts_with":
		return func(s string) bool { return strings.HasPrefix(s, args[0]) }, nil
	case "ends_with":
		return func(s string) bool { return strings.HasSuffix(s, args[0]) }, nil
	case "has_substring":
		return func(s string) bool { return strings.Contains(s, args[0]) }, nil
	default: // monitoring.regex.full_match (RE2, like Cloud Monitoring's)
		re, err := regexp.Compile(`^(?:` + args[0] + `)$`)
		if err != nil {
			return nil, fmt.Errorf("%s at offset %d: invalid regular expression %q: %w", name.text, name.pos, args[0], err)
		}
		return re.MatchString, nil
	}
}

// normalizeSelector accepts metric.type, resource.type, project and the
// labels selectors (metric.labels.K or metric.label.K, likewise for resource).
func normalizeSelector(s string) (string, error) {
	switch s {
	case "metric.type", "resource.type", "project":
		return s, nil
	}
	for _, kind := range []string{"metric", "resource"} {
		for _, infix := range []string{".labels.", ".label."} {
			if key, ok := strings.CutPrefix(s, kind+infix); ok && key != "" {
				return kind + ".labels." + key, nil
			}
		}
	}
	return "", fmt.Errorf("unknown selector %q; allowed: metric.type, resource.type, project, metric.labels.KEY, resource.labels.KEY", s)
}

// fields returns the selector values of a series.
func (s *series) fields(sel string) (string, bool) {
	return selectorValue(s.key.metric, s.resourceType, s.metricLabels, s.resourceLabels, sel)
}

// selectorValue returns the value a normalized selector reads from a
// time series.
func selectorValue(metricType, resourceType string, metricLabels, resourceLabels map[string]string, sel string) (string, bool) {
	switch sel {
	case "metric.type":
		return metricType, true
	case "resource.type":
		return resourceType, true
	case "project":
		return resourceLabels["project_id"], true
	}
	if key, ok := strings.CutPrefix(sel, "metric.labels."); ok {
		v, ok := metricLabels[key]
		return v, ok
	}
	v, ok := resourceLabels[strings.TrimPrefix(sel, "resource.labels.")]
	return v, ok
}
