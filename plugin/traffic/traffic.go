// Package traffic holds pure functions over Cloud Run traffic blocks ([]*runpb.TrafficTarget):
// pinning, the splits each stage writes, merging, comparison, who serves what (Serving), and a text rendering
// for stage logs.
// No function modifies its inputs; every result is a fresh slice of fresh targets.
package traffic

import (
	"fmt"
	"slices"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

const (
	typeLatest   = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
	typeRevision = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
)

// IsLatest reports whether t follows the latest ready revision: type LATEST, or an unspecified
// type without a revision name.
func IsLatest(t *runpb.TrafficTarget) bool {
	if t == nil {
		return false
	}
	return t.Type == typeLatest || (t.Type == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED && t.Revision == "")
}

// Revision returns a REVISION target for the given short revision name.
func Revision(name string, percent int32, tag string) *runpb.TrafficTarget {
	return &runpb.TrafficTarget{Type: typeRevision, Revision: name, Percent: percent, Tag: tag}
}

// Clone returns a deep copy of traffic. Like every function here, it ignores nil entries.
func Clone(traffic []*runpb.TrafficTarget) []*runpb.TrafficTarget {
	out := make([]*runpb.TrafficTarget, 0, len(traffic))
	for _, t := range traffic {
		if t != nil {
			out = append(out, clone(t))
		}
	}
	return out
}

func clone(t *runpb.TrafficTarget) *runpb.TrafficTarget {
	return proto.Clone(t).(*runpb.TrafficTarget)
}

// Pin replaces every LATEST entry by a REVISION entry for latestReadyRevision (full or short name),
// keeping its percent and tag, then merges identical untagged entries. Empty traffic means
// "100% to the latest ready revision", so it becomes a single 100% entry. Pinning makes a later
// template update create a revision that receives no traffic until it is routed explicitly.
func Pin(traffic []*runpb.TrafficTarget, latestReadyRevision string) ([]*runpb.TrafficTarget, error) {
	latest := naming.ShortName(latestReadyRevision)
	needsLatest := len(traffic) == 0 || slices.ContainsFunc(traffic, IsLatest)
	if needsLatest && latest == "" {
		return nil, fmt.Errorf("cannot pin the traffic to the latest ready revision: the service has no ready revision")
	}
	if len(traffic) == 0 {
		return []*runpb.TrafficTarget{Revision(latest, 100, "")}, nil
	}
	out := Clone(traffic)
	for _, t := range out {
		if IsLatest(t) {
			t.Revision = latest
		}
		t.Type = typeRevision
	}
	return Merge(out), nil
}

// KeepExisting is the traffic of a CLOUDRUN_SYNC that does not shift traffic (the canary start):
// every entry of the pinned current traffic is kept exactly, tags included, and the new revision
// gets 0%. With a tag, a 0% tag-only entry for the new revision is added; if another entry already
// carries that tag, the tag moves to the new revision (a 0% tag-only entry is dropped, an entry with
// traffic just loses the tag). Running it again on its own result returns the same block.
// current must be pinned (see Pin): a LATEST entry would hand its traffic to the new revision.
func KeepExisting(current []*runpb.TrafficTarget, newRevision, tag string) ([]*runpb.TrafficTarget, error) {
	if newRevision == "" {
		return nil, fmt.Errorf("the new revision name is empty")
	}
	if err := checkPinned("current", current); err != nil {
		return nil, err
	}
	if err := Validate(current); err != nil {
		return nil, fmt.Errorf("the current traffic is invalid: %w", err)
	}
	out := make([]*runpb.TrafficTarget, 0, len(current)+1)
	for _, t := range current {
		t = clone(t)
		if tag != "" && t.Tag == tag {
			if t.Revision == newRevision {
				return Clone(current), nil
			}
			if t.Percent == 0 {
				continue
			}
			t.Tag = ""
		}
		out = append(out, t)
	}
	if tag != "" {
		out = append(out, Revision(newRevision, 0, tag))
	}
	return out, nil
}

// RouteAll is the traffic of a CLOUDRUN_SYNC that shifts all traffic (quick sync): the new revision
// gets 100%, every tagged entry of current stays as a 0% tag-only entry (so foreign tags and their
// URLs survive), and untagged entries are dropped. With a tag, a 0% tag-only entry for the new
// revision is added, taking the tag over from any other entry.
func RouteAll(current []*runpb.TrafficTarget, newRevision, tag string) ([]*runpb.TrafficTarget, error) {
	if newRevision == "" {
		return nil, fmt.Errorf("the new revision name is empty")
	}
	out := []*runpb.TrafficTarget{Revision(newRevision, 100, "")}
	seen := map[string]bool{}
	if tag != "" {
		out = append(out, Revision(newRevision, 0, tag))
		seen[tag] = true
	}
	for _, t := range current {
		if t.GetTag() == "" || seen[t.GetTag()] {
			continue
		}
		seen[t.GetTag()] = true
		t = clone(t)
		t.Percent = 0
		out = append(out, t)
	}
	return out, nil
}

// Merge combines untagged entries that route to the same revision (or both to LATEST) into one
// entry carrying their summed percent, and drops untagged 0% entries, which route nothing.
// Tagged entries are kept as they are. The order of first appearance is kept.
func Merge(traffic []*runpb.TrafficTarget) []*runpb.TrafficTarget {
	out := make([]*runpb.TrafficTarget, 0, len(traffic))
	index := map[string]int{}
	for _, t := range traffic {
		if t == nil {
			continue
		}
		if t.GetTag() != "" {
			out = append(out, clone(t))
			continue
		}
		k := key(t)
		if i, ok := index[k]; ok {
			out[i].Percent += t.GetPercent()
			continue
		}
		index[k] = len(out)
		out = append(out, clone(t))
	}
	return slices.DeleteFunc(out, func(t *runpb.TrafficTarget) bool { return t.Tag == "" && t.Percent == 0 })
}

// key identifies where an entry routes: "LATEST" or the revision name.
func key(t *runpb.TrafficTarget) string {
	if IsLatest(t) {
		return "LATEST"
	}
	return t.GetRevision()
}

// Sum returns the total percent of traffic.
func Sum(traffic []*runpb.TrafficTarget) int32 {
	var sum int32
	for _, t := range traffic {
		sum += t.GetPercent()
	}
	return sum
}

// PercentOf returns the percent routed to revision (short or full name) by REVISION entries.
func PercentOf(traffic []*runpb.TrafficTarget, revision string) int32 {
	revision = naming.ShortName(revision)
	var sum int32
	for _, t := range traffic {
		if !IsLatest(t) && t.GetRevision() == revision {
			sum += t.GetPercent()
		}
	}
	return sum
}

// Validate checks what Cloud Run checks: every percent within 0-100, a total of 100, a revision
// name on every REVISION entry, no revision name on LATEST entries and unique tags.
func Validate(traffic []*runpb.TrafficTarget) error {
	tags := map[string]bool{}
	for i, t := range traffic {
		switch {
		case t == nil:
			return fmt.Errorf("traffic[%d] is empty", i)
		case t.Percent < 0 || t.Percent > 100:
			return fmt.Errorf("traffic[%d]: percent %d is out of range, allowed 0-100", i, t.Percent)
		case t.Type == typeLatest && t.Revision != "":
			return fmt.Errorf("traffic[%d]: a LATEST entry must not name a revision (got %q)", i, t.Revision)
		case t.Type == typeRevision && t.Revision == "":
			return fmt.Errorf("traffic[%d]: a REVISION entry needs a revision name", i)
		case t.Tag != "" && tags[t.Tag]:
			return fmt.Errorf("traffic[%d]: tag %q is used twice", i, t.Tag)
		}
		tags[t.Tag] = t.Tag != ""
	}
	if sum := Sum(traffic); sum != 100 {
		return fmt.Errorf("percents sum to %d, want 100", sum)
	}
	return nil
}

func checkPinned(what string, traffic []*runpb.TrafficTarget) error {
	if i := slices.IndexFunc(traffic, IsLatest); i >= 0 {
		return fmt.Errorf("the %s traffic has a LATEST entry at index %d: pin it to a revision first", what, i)
	}
	return nil
}

// Equal reports whether a and b hold the same entries, in any order.
func Equal(a, b []*runpb.TrafficTarget) bool {
	if len(a) != len(b) {
		return false
	}
	return slices.Equal(sortedStrings(a), sortedStrings(b))
}

func sortedStrings(traffic []*runpb.TrafficTarget) []string {
	s := make([]string, 0, len(traffic))
	for _, t := range traffic {
		s = append(s, fmt.Sprintf("%s\x00%s\x00%d\x00%s", t.GetType(), t.GetRevision(), t.GetPercent(), t.GetTag()))
	}
	slices.Sort(s)
	return s
}

// Live returns the traffic of svc with LATEST pinned to its latest ready revision (see Pin).
func Live(svc *runpb.Service) ([]*runpb.TrafficTarget, error) {
	cur, err := Pin(svc.GetTraffic(), svc.GetLatestReadyRevision())
	if err != nil {
		return nil, fmt.Errorf("service %s: %w; fix or delete the service, then deploy again", naming.ShortName(svc.GetName()), err)
	}
	return cur, nil
}
