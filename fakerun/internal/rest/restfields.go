package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// selection is a parsed fields selector: each named field maps to the
// selection below it, or to nil for the whole field; "*" names every field.
type selection map[string]selection

// selectFields keeps the parts of a JSON response that a fields selector
// names, in their order: "name,template/containers,traffic(percent,tag)"
// (the system parameter "fields", https://cloud.google.com/apis/docs/system-parameters).
func selectFields(body []byte, selector string) ([]byte, error) {
	p := selectorParser{s: selector}
	sel := selection{}
	if err := p.list(sel); err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, p.errorf()
	}
	return filterJSON(body, sel)
}

// selectorParser reads list := item (',' item)*; item := name ('/' item | '(' list ')')?.
type selectorParser struct {
	s string
	i int
}

func (p *selectorParser) errorf() error {
	return fmt.Errorf("invalid field selection %q: unexpected character at offset %d", p.s, p.i)
}

func (p *selectorParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *selectorParser) list(into selection) error {
	for {
		if err := p.item(into); err != nil {
			return err
		}
		if p.peek() != ',' {
			return nil
		}
		p.i++
	}
}

func (p *selectorParser) item(into selection) error {
	start := p.i
	for c := p.peek(); c == '_' || c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'; c = p.peek() {
		p.i++
	}
	name := p.s[start:p.i]
	if name == "" {
		return p.errorf()
	}
	var sub selection
	switch p.peek() {
	case '/':
		p.i++
		sub = selection{}
		if err := p.item(sub); err != nil {
			return err
		}
	case '(':
		p.i++
		sub = selection{}
		if err := p.list(sub); err != nil {
			return err
		}
		if p.peek() != ')' {
			return p.errorf()
		}
		p.i++
	}
	merge(into, name, sub)
	return nil
}

// merge adds name with its sub-selection to into; a whole field wins.
func merge(into selection, name string, sub selection) {
	old, seen := into[name]
	switch {
	case !seen:
		into[name] = sub
	case old == nil || sub == nil:
		into[name] = nil
	default:
		for k, v := range sub {
			merge(old, k, v)
		}
	}
}

// filterJSON applies sel to a JSON object (or to each object of an array),
// keeping the order of the fields.
func filterJSON(raw []byte, sel selection) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	var out bytes.Buffer
	switch {
	case bytes.HasPrefix(raw, []byte("[")):
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		out.WriteByte('[')
		for i, item := range items {
			filtered, err := filterJSON(item, sel)
			if err != nil {
				return nil, err
			}
			if i > 0 {
				out.WriteByte(',')
			}
			out.Write(filtered)
		}
		out.WriteByte(']')
	case bytes.HasPrefix(raw, []byte("{")):
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		out.WriteByte('{')
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return nil, err
			}
			var value json.RawMessage
			if err := dec.Decode(&value); err != nil {
				return nil, err
			}
			sub, ok := sel[key.(string)]
			if !ok {
				if sub, ok = sel["*"]; !ok {
					continue
				}
			}
			if sub != nil {
				if value, err = filterJSON(value, sub); err != nil {
					return nil, err
				}
			}
			if out.Len() > 1 {
				out.WriteByte(',')
			}
			name, _ := json.Marshal(key)
			out.Write(name)
			out.WriteByte(':')
			out.Write(value)
		}
		out.WriteByte('}')
	default:
		return raw, nil
	}
	return out.Bytes(), nil
}
