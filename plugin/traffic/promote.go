package traffic

import (
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
)

// Promote is the traffic of CLOUDRUN_PROMOTE. It moves traffic only between the new revision and
// the revisions that served before this deployment: baseline is the pinned traffic block recorded
// before the deployment changed anything (empty for a brand-new service), current is the pinned
// live block. The deployment owns newRevision and every revision with traffic in baseline.
//
//   - Entries of current for other revisions are foreign and are kept exactly, percent included
//     (for example a revision someone routed to by hand). The owned share is 100 minus their percent.
//   - The new revision gets percent% of the owned share; the baseline entries (tags included) share
//     the rest in their baseline proportions. Promote(…, 0) therefore restores the baseline shares
//     and Promote(…, 100) gives the new revision the whole owned share.
//   - Tagged entries of current for owned revisions stay as 0% tag-only entries.
//   - Percentages are integers summing to 100, rounded by largest remainder; ties go to the new
//     revision first, then to the baseline entries in their order.
//
// It is an error when the request cannot be met: current or baseline not pinned, percent outside
// 0-100, foreign entries holding all traffic while percent > 0, or no baseline revision to hold the
// remaining traffic while percent < 100.
func Promote(current, baseline []*runpb.TrafficTarget, newRevision string, percent int) ([]*runpb.TrafficTarget, error) {
	switch {
	case newRevision == "":
		return nil, fmt.Errorf("the new revision name is empty")
	case percent < 0 || percent > 100:
		return nil, fmt.Errorf("percent %d is out of range, allowed 0-100", percent)
	}
	if err := checkPinned("current", current); err != nil {
		return nil, err
	}
	if err := checkPinned("baseline", baseline); err != nil {
		return nil, err
	}
	for i, t := range append(Clone(current), baseline...) {
		if t.GetPercent() < 0 || t.GetPercent() > 100 {
			return nil, fmt.Errorf("traffic entry %d: percent %d is out of range, allowed 0-100", i, t.GetPercent())
		}
	}

	owned := map[string]bool{newRevision: true}
	var weights []*runpb.TrafficTarget // baseline entries that carry traffic, except the new revision
	for _, t := range Merge(baseline) {
		if t.Percent == 0 {
			continue
		}
		owned[t.Revision] = true
		if t.Revision != newRevision {
			weights = append(weights, t)
		}
	}

	var foreign, ownedTagged []*runpb.TrafficTarget
	var foreignPercent int32
	foreignTags := map[string]bool{}
	for _, t := range Clone(current) {
		if owned[t.GetRevision()] {
			if t.GetTag() != "" {
				ownedTagged = append(ownedTagged, t)
			}
			continue
		}
		foreign = append(foreign, t)
		foreignPercent += t.GetPercent()
		foreignTags[t.GetTag()] = t.GetTag() != ""
	}
	share := 100 - foreignPercent
	switch {
	case share < 0:
		return nil, fmt.Errorf("the current traffic is invalid: revisions outside this deployment (%s) hold %d%%", describe(foreign), foreignPercent)
	case share == 0 && percent > 0:
		return nil, fmt.Errorf("cannot give the new revision %d%%: revisions outside this deployment (%s) hold all the traffic, "+
			"probably changed by hand since the deployment started; move traffic back to %s or to the revisions that served before the deployment",
			percent, describe(foreign), newRevision)
	case len(weights) == 0 && percent < 100 && share > 0:
		return nil, fmt.Errorf("cannot keep %d%% of the traffic on the previous revisions: none served traffic before this deployment "+
			"(first deployment of the service?); only 100%% can be promoted", 100-percent)
	}

	shares := split(int64(percent), int64(share), weights)
	out := make([]*runpb.TrafficTarget, 0, len(weights)+len(ownedTagged)+len(foreign)+1)
	out = append(out, Revision(newRevision, shares[0], ""))
	usedTags := map[string]bool{}
	for i, w := range weights {
		t := clone(w)
		t.Percent = shares[i+1]
		if foreignTags[t.Tag] {
			t.Tag = "" // someone moved this tag to another revision by hand; leave it there
		}
		usedTags[t.Tag] = t.Tag != ""
		out = append(out, t)
	}
	for _, t := range ownedTagged {
		if usedTags[t.Tag] {
			continue
		}
		usedTags[t.Tag] = true
		t = clone(t)
		t.Percent = 0
		out = append(out, t)
	}
	return append(Merge(out), foreign...), nil
}

// split divides share between the new revision (percent% of it) and the weights (the rest, in
// proportion to their percent), as integers summing to share, by largest remainder.
// The result has the new revision first, then one entry per weight.
func split(percent, share int64, weights []*runpb.TrafficTarget) []int32 {
	var total int64
	for _, w := range weights {
		total += int64(w.Percent)
	}
	// Exact quotas are numerators over denominator 100*total.
	denominator := 100 * total
	numerators := []int64{percent * share * total}
	for _, w := range weights {
		numerators = append(numerators, (100-percent)*share*int64(w.Percent))
	}
	if total == 0 {
		denominator, numerators[0] = 1, share
	}
	out := make([]int32, len(numerators))
	remaining := share
	for i, n := range numerators {
		out[i] = int32(n / denominator)
		remaining -= n / denominator
	}
	for ; remaining > 0; remaining-- {
		best := 0
		for i := range numerators {
			if numerators[i]%denominator > numerators[best]%denominator {
				best = i
			}
		}
		out[best]++
		numerators[best] -= numerators[best] % denominator // a quota gets at most one extra point
	}
	return out
}

func describe(traffic []*runpb.TrafficTarget) string {
	var parts []string
	for _, t := range traffic {
		if t.GetPercent() > 0 {
			parts = append(parts, fmt.Sprintf("%s %d%%", key(t), t.GetPercent()))
		}
	}
	return strings.Join(parts, ", ")
}
