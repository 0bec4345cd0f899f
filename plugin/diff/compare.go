// Package diff compares a service in git with the live one, or two manifests, the way live state and plan
// preview show it: fields Cloud Run fills in by itself and fields the plugin owns are ignored (see Compare),
// the fields that differ are named, and the two sides render as YAML and a unified diff.
package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"sigs.k8s.io/yaml"
)

// ignoredKeyPrefixes are label and annotation keys that are not compared: the plugin's own ownership
// labels, which change with every deployment, and keys that Cloud Run and its clients set by themselves.
// The Admin API v2 rejects the Knative and run.googleapis.com namespaces in the annotations of new
// resources, so such keys on a live service were set by Cloud Run (or by the v1 API) and mirror fields.
var ignoredKeyPrefixes = []string{
	"pipecd-dev-",
	"run.googleapis.com/",
	"cloud.googleapis.com/",
	"serving.knative.dev/",
	"client.knative.dev/",
	"autoscaling.knative.dev/",
	"features.knative.dev/",
	"goog-",
}

// keyedLists are the lists whose items are matched by a key field rather than their position, and in
// which an item that only the live service has is a difference (Cloud Run never adds one by itself). A
// volume mount is keyed by its path: one volume may be mounted at several paths.
var keyedLists = map[protoreflect.FullName]protoreflect.Name{
	(&runpb.Container{}).ProtoReflect().Descriptor().FullName():   "name",
	(&runpb.EnvVar{}).ProtoReflect().Descriptor().FullName():      "name",
	(&runpb.Volume{}).ProtoReflect().Descriptor().FullName():      "name",
	(&runpb.VolumeMount{}).ProtoReflect().Descriptor().FullName(): "mount_path",
}

// Difference is one field whose wanted value (in git, or in the target commit) differs from the one
// in place (live, or in the running commit).
type Difference struct {
	// Path names the field with the manifest's (camelCase) names; list items are named by their
	// name when they have one, e.g. "template.containers[app].env[GREETING].value".
	Path string
	// Want and Have are the values, compact JSON or "(not set)".
	Want, Have string
}

// Format renders the difference on one line, naming the two sides.
func (d Difference) Format(wantName, haveName string) string {
	return fmt.Sprintf("%s: %s %s, %s %s", d.Path, wantName, d.Want, haveName, d.Have)
}

// Comparison is the result of comparing a wanted service or job (T) in git with the one in place (live).
type Comparison[T proto.Message] struct {
	// Want is the wanted service without the fields the plugin owns (traffic, template.revision,
	// ownership labels).
	Want T
	// Have is the service in place reduced to what a manifest can say (see View). Compared with a live
	// service, fields Cloud Run fills with defaults where the manifest leaves them unset are removed too,
	// but labels, annotations, containers, environment variables and volumes that only the live service
	// has are kept: someone added them out of band.
	Have T
	// Differences lists every differing field, in manifest order.
	Differences []Difference
}

// InSync reports whether git and the live service agree.
func (c *Comparison[T]) InSync() bool {
	return len(c.Differences) == 0
}

// TemplateChanged reports whether a difference is in the revision template, so that applying git
// creates a new revision.
func (c *Comparison[T]) TemplateChanged() bool {
	return slices.ContainsFunc(c.Differences, func(d Difference) bool { return strings.HasPrefix(d.Path, "template.") || d.Path == "template" })
}

// Paths returns the paths of the differences.
func (c *Comparison[T]) Paths() []string {
	paths := make([]string, 0, len(c.Differences))
	for _, d := range c.Differences {
		paths = append(paths, d.Path)
	}
	return paths
}

// Compare compares the service in git with the live one. Neither argument is modified.
func Compare(git, live *runpb.Service) *Comparison[*runpb.Service] {
	return compareLive(View(git), View(live))
}

// compareLive compares the views of git and live, leaving to Cloud Run's defaults what git leaves unset.
func compareLive[T proto.Message](g, l T) *Comparison[T] {
	project(l.ProtoReflect(), g.ProtoReflect())
	return compareViews(g, l)
}

// compareViews compares want with have field by field.
func compareViews[T proto.Message](want, have T) *Comparison[T] {
	c := &Comparison[T]{Want: want, Have: have}
	diffMessages("", want.ProtoReflect(), have.ProtoReflect(), &c.Differences)
	return c
}

// CompareManifests compares two services written by hand (for example the manifests of two commits):
// like Compare, but nothing is left to Cloud Run's defaults, so a field set on one side only is a difference.
func CompareManifests(before, after *runpb.Service) *Comparison[*runpb.Service] {
	return compareViews(View(after), View(before))
}

// View returns a copy of svc without what is not part of a manifest: output-only fields, etag, client
// and client version, and the fields the plugin owns (traffic, template.revision, ownership labels).
func View(svc *runpb.Service) *runpb.Service {
	v := proto.Clone(svc).(*runpb.Service)
	v.Etag, v.Client, v.ClientVersion, v.Traffic = "", "", "", nil
	if v.Template != nil {
		v.Template.Revision = ""
		dropIgnoredKeys(v.Template.Labels)
		dropIgnoredKeys(v.Template.Annotations)
	}
	dropIgnoredKeys(v.Labels)
	dropIgnoredKeys(v.Annotations)
	clearOutputOnly(v.ProtoReflect())
	return v
}

func dropIgnoredKeys(m map[string]string) {
	for k := range m {
		for _, p := range ignoredKeyPrefixes {
			if strings.HasPrefix(k, p) {
				delete(m, k)
				break
			}
		}
	}
}

func outputOnly(fd protoreflect.FieldDescriptor) bool {
	behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY)
}

// clearOutputOnly clears every output-only field of m and of its nested messages.
func clearOutputOnly(m protoreflect.Message) {
	var clear []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case outputOnly(fd):
			clear = append(clear, fd)
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			for i := range v.List().Len() {
				clearOutputOnly(v.List().Get(i).Message())
			}
		case !fd.IsMap() && !fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			clearOutputOnly(v.Message())
		}
		return true
	})
	for _, fd := range clear {
		m.Clear(fd)
	}
}

// wellKnown reports whether fd holds a google.protobuf message such as Duration, compared as a whole.
func wellKnown(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.MessageKind && fd.Message().FullName().Parent() == "google.protobuf"
}

// project removes from live the fields that git leaves unset, which Cloud Run fills with defaults
// (container ports, resource limits, timeout, service account, ...). What git cannot leave to a default
// is kept: labels and annotations, and the items of keyed lists.
func project(live, git protoreflect.Message) {
	var clear []protoreflect.FieldDescriptor
	live.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.Name() == "labels" || fd.Name() == "annotations" {
				return true
			}
			gm := git.Get(fd).Map()
			var extra []protoreflect.MapKey
			v.Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				if !gm.Has(k) {
					extra = append(extra, k)
				}
				return true
			})
			for _, k := range extra {
				v.Map().Clear(k)
			}
			if v.Map().Len() == 0 {
				clear = append(clear, fd)
			}
		case fd.IsList():
			if fd.Kind() != protoreflect.MessageKind {
				return true // lists of strings (command, args) are compared as they are
			}
			gl := git.Get(fd).List()
			_, keyed := keyedLists[fd.Message().FullName()]
			if gl.Len() == 0 && !keyed {
				clear = append(clear, fd)
				return true
			}
			for i, j := range pair(gl, v.List(), keyed) {
				if j >= 0 {
					project(v.List().Get(j).Message(), gl.Get(i).Message())
				}
			}
		case !git.Has(fd) && (fd.ContainingOneof() == nil || git.WhichOneof(fd.ContainingOneof()) == nil):
			// Unset in git (and, for a oneof member, no other member set in git either): a default.
			clear = append(clear, fd)
		case !git.Has(fd):
			// git sets another member of the oneof, e.g. a plain value where live has a secret.
		case fd.Kind() == protoreflect.MessageKind && !wellKnown(fd):
			project(v.Message(), git.Get(fd).Message())
		}
		return true
	})
	for _, fd := range clear {
		live.Clear(fd)
	}
}

// itemName returns the key of a keyed list item (see keyedLists), or "".
func itemName(m protoreflect.Message, keyed bool) string {
	if !keyed {
		return ""
	}
	if fd := m.Descriptor().Fields().ByName(keyedLists[m.Descriptor().FullName()]); fd != nil {
		return m.Get(fd).String()
	}
	return ""
}

// itemKey names a list item in a path: its name in a keyed list, else its position.
func itemKey(m protoreflect.Message, index int, keyed bool) string {
	if name := itemName(m, keyed); name != "" {
		return name
	}
	return strconv.Itoa(index)
}

// pair matches the items of a list in git with those of the live list: by name when the git item has
// one (keyed lists), else by position, since Cloud Run may name an unnamed container. It returns, for
// each git item, the index of its live item or -1.
func pair(git, live protoreflect.List, keyed bool) []int {
	out := make([]int, git.Len())
	used := make([]bool, live.Len())
	for i := range out {
		out[i] = -1
		name := itemName(git.Get(i).Message(), keyed)
		if name == "" {
			continue
		}
		for j := range live.Len() {
			if !used[j] && itemName(live.Get(j).Message(), keyed) == name {
				out[i], used[j] = j, true
				break
			}
		}
	}
	for i := range out {
		if out[i] < 0 && itemName(git.Get(i).Message(), keyed) == "" && i < live.Len() && !used[i] {
			out[i], used[i] = i, true
		}
	}
	return out
}

// diffMessages appends the differences between git and live, field by field in declaration order.
func diffMessages(path string, git, live protoreflect.Message, out *[]Difference) {
	fields := git.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !git.Has(fd) && !live.Has(fd) {
			continue
		}
		p := joinPath(path, fd.JSONName())
		switch {
		case fd.IsMap():
			diffMaps(p, git.Get(fd).Map(), live.Get(fd).Map(), out)
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			diffLists(p, fd, git.Get(fd).List(), live.Get(fd).List(), out)
		case fd.Kind() == protoreflect.MessageKind && !wellKnown(fd) && git.Has(fd) && live.Has(fd):
			diffMessages(p, git.Get(fd).Message(), live.Get(fd).Message(), out)
		case quantityFields[fd.FullName()] && sameQuantity(git.Get(fd).String(), live.Get(fd).String()):
		default:
			if gv, lv := fieldJSON(git, fd), fieldJSON(live, fd); gv != lv {
				*out = append(*out, Difference{Path: p, Want: gv, Have: lv})
			}
		}
	}
}

func diffMaps(path string, git, live protoreflect.Map, out *[]Difference) {
	keys := map[string]bool{}
	for _, m := range []protoreflect.Map{git, live} {
		m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
			keys[k.String()] = true
			return true
		})
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		mk := protoreflect.ValueOfString(k).MapKey()
		gv, lv := notSet, notSet
		if git.Has(mk) {
			gv = strconv.Quote(git.Get(mk).String())
		}
		if live.Has(mk) {
			lv = strconv.Quote(live.Get(mk).String())
		}
		if gv == lv || strings.HasSuffix(path, "resources.limits") && sameQuantity(git.Get(mk).String(), live.Get(mk).String()) {
			continue
		}
		*out = append(*out, Difference{Path: fmt.Sprintf("%s[%s]", path, k), Want: gv, Have: lv})
	}
}

// quantityFields are the string fields holding a quantity, compared by amount like resource limits.
var quantityFields = map[protoreflect.FullName]bool{
	(&runpb.EmptyDirVolumeSource{}).ProtoReflect().Descriptor().Fields().ByName("size_limit").FullName(): true,
}

var quantityPattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$`)

var quantitySuffixes = map[string]float64{
	"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
}

// sameQuantity reports whether two resource limits are the same amount written differently, such as
// a CPU limit of "1" and "1000m", or a memory limit of "1Gi" and "1024Mi".
func sameQuantity(a, b string) bool {
	qa, qb := quantityPattern.FindStringSubmatch(a), quantityPattern.FindStringSubmatch(b)
	if qa == nil || qb == nil {
		return false
	}
	na, _ := strconv.ParseFloat(qa[1], 64)
	nb, _ := strconv.ParseFloat(qb[1], 64)
	return na*quantitySuffixes[qa[2]] == nb*quantitySuffixes[qb[2]]
}

func diffLists(path string, fd protoreflect.FieldDescriptor, git, live protoreflect.List, out *[]Difference) {
	_, keyed := keyedLists[fd.Message().FullName()]
	used := make([]bool, live.Len())
	for i, j := range pair(git, live, keyed) {
		g := git.Get(i).Message()
		p := fmt.Sprintf("%s[%s]", path, itemKey(g, i, keyed))
		if j < 0 {
			*out = append(*out, Difference{Path: p, Want: messageJSON(g), Have: notSet})
			continue
		}
		used[j] = true
		diffMessages(p, g, live.Get(j).Message(), out)
	}
	for j := range live.Len() {
		if l := live.Get(j).Message(); !used[j] {
			*out = append(*out, Difference{Path: fmt.Sprintf("%s[%s]", path, itemKey(l, j, keyed)), Want: notSet, Have: messageJSON(l)})
		}
	}
}

const notSet = "(not set)"

// fieldJSON renders the value of fd in m as compact JSON, or notSet.
func fieldJSON(m protoreflect.Message, fd protoreflect.FieldDescriptor) string {
	if !m.Has(fd) {
		return notSet
	}
	// Render the field alone, inside an otherwise empty message of the same type.
	one := m.New()
	one.Set(fd, m.Get(fd))
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(compactJSON(one)), &obj); err != nil || len(obj) != 1 {
		return fmt.Sprint(m.Get(fd).Interface())
	}
	for _, v := range obj {
		return string(v)
	}
	return notSet
}

// messageJSON renders m as compact JSON with the manifest's field names, shortened for messages.
func messageJSON(m protoreflect.Message) string {
	s := compactJSON(m)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func compactJSON(m protoreflect.Message) string {
	b, err := protojson.Marshal(m.Interface())
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}

// ManifestYAML renders a service or job as YAML with the manifest's field names and sorted keys.
func ManifestYAML(m proto.Message) string {
	b, err := protojson.Marshal(m)
	if err != nil {
		return fmt.Sprintf("# cannot render it: %v\n", err)
	}
	y, err := yaml.JSONToYAML(b)
	if err != nil {
		return fmt.Sprintf("# cannot render it: %v\n", err)
	}
	return string(y)
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
