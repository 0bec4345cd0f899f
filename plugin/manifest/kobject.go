package manifest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// problems collects everything wrong with a manifest, each with the path of its field, so that one
// error can list all of them instead of the first only.
type problems struct {
	list []string
}

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf("field %q: %s", path, fmt.Sprintf(format, args...)))
}

// invalid records a value of the wrong type or out of range, in the words of typeError.
func (p *problems) invalid(path string, v any, allowed string) {
	p.list = append(p.list, typeError(path, v, allowed).Error())
}

// kobject is one JSON object of a Knative manifest. The conversion reads its keys one by one; done
// reports every key it did not read, so that no field is dropped silently.
type kobject struct {
	p    *problems
	path string
	m    map[string]any
	// read holds the keys converted or deliberately left out.
	read map[string]bool
	// known holds the keys the conversion understands: listed in messages and suggested for typos.
	known map[string]bool
}

// newObject wraps v, which must be a JSON object, or null for an empty one.
func newObject(p *problems, path string, v any) *kobject {
	o := &kobject{p: p, path: path, read: map[string]bool{}, known: map[string]bool{}}
	switch m := v.(type) {
	case map[string]any:
		o.m = m
	case nil:
	default:
		p.invalid(path, v, "an object")
	}
	return o
}

func (o *kobject) pathOf(key string) string {
	return join(o.path, key)
}

// get marks key as read and returns its value; a missing key and null are both absent.
func (o *kobject) get(key string) (any, bool) {
	o.read[key], o.known[key] = true, true
	v, ok := o.m[key]
	return v, ok && v != nil
}

// ignore marks keys as read when the caller converts them by other means.
func (o *kobject) ignore(keys ...string) {
	for _, k := range keys {
		o.read[k], o.known[k] = true, true
	}
}

// skip marks keys that Cloud Run fills in as read, without offering them in messages.
func (o *kobject) skip(keys ...string) {
	for _, k := range keys {
		o.read[k] = true
	}
}

func (o *kobject) str(key string) string {
	v, ok := o.get(key)
	if !ok {
		return ""
	}
	s, isString := v.(string)
	if !isString {
		o.p.invalid(o.pathOf(key), v, "a string (quote the value in YAML)")
	}
	return s
}

func (o *kobject) boolean(key string) bool {
	v, ok := o.get(key)
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		o.p.invalid(o.pathOf(key), v, "true or false")
	}
	return b
}

// integer returns the value of key, which must be a whole number from lo to hi.
func (o *kobject) integer(key string, lo, hi int64) int64 {
	v, ok := o.get(key)
	if !ok {
		return 0
	}
	n, isNumber := v.(json.Number)
	i, err := n.Int64()
	if !isNumber || err != nil || i < lo || i > hi {
		o.p.invalid(o.pathOf(key), v, fmt.Sprintf("an integer from %d to %d", lo, hi))
		return 0
	}
	return i
}

// integer32 is integer for a field that Cloud Run keeps as a 32-bit number.
func (o *kobject) integer32(key string, lo int64) int32 {
	return int32(o.integer(key, lo, math.MaxInt32))
}

func (o *kobject) object(key string) *kobject {
	v, _ := o.get(key)
	return newObject(o.p, o.pathOf(key), v)
}

// has tells whether key is present and not null, without reading it.
func (o *kobject) has(key string) bool {
	o.known[key] = true
	return o.m[key] != nil
}

// objects returns the elements of the list of objects under key.
func (o *kobject) objects(key string) []*kobject {
	l := o.list(key)
	out := make([]*kobject, len(l))
	for i, v := range l {
		out[i] = newObject(o.p, fmt.Sprintf("%s[%d]", o.pathOf(key), i), v)
	}
	return out
}

func (o *kobject) list(key string) []any {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	l, isList := v.([]any)
	if !isList {
		o.p.invalid(o.pathOf(key), v, "a list")
	}
	return l
}

func (o *kobject) strings(key string) []string {
	var out []string
	for i, v := range o.list(key) {
		s, ok := v.(string)
		if !ok {
			o.p.invalid(fmt.Sprintf("%s[%d]", o.pathOf(key), i), v, "a string (quote the value in YAML)")
		}
		out = append(out, s)
	}
	return out
}

// stringMap returns the object under key, whose values must all be strings; nil when absent.
func (o *kobject) stringMap(key string) map[string]string {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		o.p.invalid(o.pathOf(key), v, "an object of strings")
		return nil
	}
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, isString := m[k].(string)
		if !isString {
			o.p.invalid(fmt.Sprintf("%s[%q]", o.pathOf(key), k), m[k], "a string (quote the value in YAML)")
			continue
		}
		out[k] = s
	}
	return out
}

// quantities returns the object under key of resource quantities such as "512Mi" or "1000m"; as in
// Kubernetes, a plain number (cpu: 1) is accepted too and kept as written.
func (o *kobject) quantities(key string) map[string]string {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		o.p.invalid(o.pathOf(key), v, "an object of quantities such as {cpu: 1000m, memory: 512Mi}")
		return nil
	}
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch q := m[k].(type) {
		case string:
			out[k] = q
		case json.Number:
			out[k] = q.String()
		default:
			o.p.invalid(fmt.Sprintf("%s[%q]", o.pathOf(key), k), m[k], `a quantity such as "1", "1000m" or "512Mi"`)
		}
	}
	return out
}

// done reports every key of the object that was not read.
func (o *kobject) done() {
	known := slices.Sorted(maps.Keys(o.known))
	for _, k := range slices.Sorted(maps.Keys(o.m)) {
		if o.read[k] {
			continue
		}
		msg := "cannot be converted: Cloud Run Admin API v2 has no equivalent for it here; convertible fields here are " + strings.Join(known, ", ")
		if s := closest(k, known); s != "" && !slices.Contains(kubernetesFields, k) {
			msg = fmt.Sprintf("unknown field (did you mean %q?)", s)
		}
		o.p.add(o.pathOf(k), "%s", msg)
	}
}

// kubernetesFields are fields of Knative and Kubernetes objects that Cloud Run Admin API v2 has no
// equivalent for; they are never reported as typos.
var kubernetesFields = []string{
	"clusterName", "configMap", "configMapKeyRef", "configurationName", "deletionGracePeriodSeconds",
	"enableServiceLinks", "envFrom", "exec", "finalizers", "generateName", "host", "imagePullPolicy",
	"imagePullSecrets", "lifecycle", "optional", "ownerReferences", "requests", "runtimeClassName",
	"scheme", "securityContext", "stdin", "terminationMessagePath", "terminationMessagePolicy", "tty",
}

// closest returns the candidate nearest to name if it is a likely typo of it.
func closest(name string, candidates []string) string {
	best, bestDistance := "", 3
	for _, c := range candidates {
		if d := distance(strings.ToLower(name), strings.ToLower(c)); d < bestDistance {
			best, bestDistance = c, d
		}
	}
	return best
}

// kannotations are the annotations of a Knative object. Those the conversion understands are taken
// one by one; done sorts out the rest.
type kannotations struct {
	p    *problems
	path string
	m    map[string]string
	read map[string]bool
}

func newAnnotations(p *problems, path string, m map[string]string) *kannotations {
	return &kannotations{p: p, path: path, m: m, read: map[string]bool{}}
}

func (a *kannotations) pathOf(key string) string {
	return fmt.Sprintf("%s[%q]", a.path, key)
}

// take returns the annotation key and marks it as converted.
func (a *kannotations) take(key string) (string, bool) {
	a.read[key] = true
	v, ok := a.m[key]
	return v, ok
}

// boolean takes a "true"/"false" annotation.
func (a *kannotations) boolean(key string) bool {
	v, ok := a.take(key)
	if !ok {
		return false
	}
	if v != "true" && v != "false" {
		a.p.invalid(a.pathOf(key), v, `"true" or "false"`)
	}
	return v == "true"
}

// integer32 takes an annotation holding a non-negative whole number.
func (a *kannotations) integer32(key string) int32 {
	v, ok := a.take(key)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		a.p.invalid(a.pathOf(key), v, `a whole number such as "3", quoted`)
		return 0
	}
	return int32(n)
}

// oneOf takes an annotation whose value must be a key of allowed and returns the mapped value.
func oneOf[T any](a *kannotations, key string, allowed map[string]T) (T, bool) {
	var zero T
	v, ok := a.take(key)
	if !ok {
		return zero, false
	}
	out, valid := allowed[v]
	if !valid {
		quoted := make([]string, 0, len(allowed))
		for _, k := range slices.Sorted(maps.Keys(allowed)) {
			quoted = append(quoted, strconv.Quote(k))
		}
		a.p.invalid(a.pathOf(key), v, "one of "+strings.Join(quoted, ", "))
	}
	return out, valid
}

// reservedAnnotationNamespaces are the prefixes whose annotations and labels Cloud Run Admin API v2
// rejects: it expresses them as fields.
var reservedAnnotationNamespaces = []string{"run.googleapis.com", "cloud.googleapis.com", "serving.knative.dev", "autoscaling.knative.dev"}

func reservedKey(key string) bool {
	ns, _, found := strings.Cut(key, "/")
	if !found {
		return false
	}
	for _, r := range reservedAnnotationNamespaces {
		if ns == r || strings.HasSuffix(ns, "."+r) {
			return true
		}
	}
	return false
}

// done returns the annotations that are neither converted nor ignored: the user's own, which
// Cloud Run Admin API v2 keeps as they are. A remaining annotation of Cloud Run or Knative is a
// problem, since v2 expresses those as fields and rejects them as annotations.
func (a *kannotations) done(ignored []string) map[string]string {
	var out map[string]string
	for _, k := range slices.Sorted(maps.Keys(a.m)) {
		switch {
		case a.read[k] || slices.Contains(ignored, k):
		case reservedKey(k):
			a.p.add(a.pathOf(k), "cannot be converted: annotation %q has no Cloud Run Admin API v2 equivalent that this plugin knows of; remove it or write a v2 Service manifest", k)
		default:
			if out == nil {
				out = map[string]string{}
			}
			out[k] = a.m[k]
		}
	}
	return out
}
