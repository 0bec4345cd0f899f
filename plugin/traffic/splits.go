package traffic

import (
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// A worker pool's instance split has the shape of a service's traffic block without tags: each entry gives
// a revision, or the latest ready one, a percentage of the pool's instances. The functions of this package
// compute splits as traffic blocks: FromSplits and ToSplits convert between the two.

// FromSplits returns the instance split as traffic targets.
func FromSplits(splits []*runpb.InstanceSplit) []*runpb.TrafficTarget {
	out := make([]*runpb.TrafficTarget, 0, len(splits))
	for _, sp := range splits {
		t := &runpb.TrafficTarget{Revision: sp.GetRevision(), Percent: sp.GetPercent()}
		switch sp.GetType() {
		case runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST:
			t.Type = typeLatest
		case runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION:
			t.Type = typeRevision
		}
		out = append(out, t)
	}
	return out
}

// ToSplits returns traffic targets as an instance split. Tags have no place in a split: a tagged entry is
// an error, since dropping it would move its percentage.
func ToSplits(targets []*runpb.TrafficTarget) ([]*runpb.InstanceSplit, error) {
	out := make([]*runpb.InstanceSplit, 0, len(targets))
	for _, t := range targets {
		if t == nil {
			continue
		}
		if t.GetTag() != "" {
			return nil, fmt.Errorf("the entry for revision %q has tag %q: a worker pool's instance split has no tags", t.GetRevision(), t.GetTag())
		}
		sp := &runpb.InstanceSplit{Revision: t.GetRevision(), Percent: t.GetPercent()}
		switch {
		case IsLatest(t):
			sp.Type, sp.Revision = runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST, ""
		default:
			sp.Type = runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION
		}
		out = append(out, sp)
	}
	return out, nil
}

// LivePool returns the instance split of pool, as traffic targets, with LATEST pinned to its latest ready
// revision (see Pin).
func LivePool(pool *runpb.WorkerPool) ([]*runpb.TrafficTarget, error) {
	cur, err := Pin(FromSplits(pool.GetInstanceSplits()), pool.GetLatestReadyRevision())
	if err != nil {
		return nil, fmt.Errorf("worker pool %s: %w; fix or delete the worker pool, then deploy again", naming.ShortName(pool.GetName()), err)
	}
	return cur, nil
}

// RenderSplit is Render for a worker pool's instance split: the same rows without the tag column.
func RenderSplit(before, after []*runpb.TrafficTarget) string {
	rows := [][]string{{"REVISION", "INSTANCES BEFORE", "→ AFTER"}}
	for _, c := range Changes(before, after) {
		rows = append(rows, []string{c.Revision, cell(c.Before, c.InBefore), "→ " + cell(c.After, c.InAfter)})
	}
	return formatTable(rows)
}

// SplitTable is Table for a worker pool's instance split.
func SplitTable(split []*runpb.TrafficTarget) string {
	rows := [][]string{{"REVISION", "INSTANCES"}}
	for _, t := range Clone(split) {
		rows = append(rows, []string{key(t), Bar(t.GetPercent())})
	}
	return formatTable(rows)
}
