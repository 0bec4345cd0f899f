package rules

import (
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
)

// ParseWorkerPoolName splits "projects/{p}/locations/{l}/workerPools/{w}".
func ParseWorkerPoolName(field, name string) (project, location, id string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "workerPools" ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return "", "", "", InvalidArgument(field, fmt.Sprintf("%q is not a worker pool name of the form projects/{project}/locations/{location}/workerPools/{worker_pool}", name))
	}
	return parts[1], parts[3], parts[5], nil
}

// IsWorkerPoolResource reports whether a resource name lies under a worker pool (a pool or its revisions),
// which the Revisions API serves beside the services' revisions.
func IsWorkerPoolResource(name string) bool {
	parts := strings.Split(name, "/")
	return len(parts) >= 6 && parts[4] == "workerPools"
}

// ParseWorkerPoolRevisionName splits ".../workerPools/{w}/revisions/{r}" into the full worker pool name and
// the short revision name.
func ParseWorkerPoolRevisionName(field, name string) (poolName, revision string, err error) {
	i := strings.LastIndex(name, "/revisions/")
	bad := InvalidArgument(field, fmt.Sprintf("%q is not a revision name of the form projects/{project}/locations/{location}/workerPools/{worker_pool}/revisions/{revision}", name))
	if i < 0 {
		return "", "", bad
	}
	poolName, revision = name[:i], name[i+len("/revisions/"):]
	if _, _, _, err := ParseWorkerPoolName(field, poolName); err != nil || revision == "" || strings.Contains(revision, "/") {
		return "", "", bad
	}
	return poolName, revision, nil
}

// WorkerPoolNotFound reports a missing worker pool by its full name.
func WorkerPoolNotFound(name string) error {
	project, location, id, err := ParseWorkerPoolName("name", name)
	if err != nil {
		return err
	}
	return NotFound("WORKER_POOL", id, LocationName(project, location))
}

// ValidateWorkerPoolTemplate checks a worker pool revision template's metadata and containers, by the
// rules of a service's revision template.
func ValidateWorkerPoolTemplate(field string, t *runpb.WorkerPoolRevisionTemplate) error {
	if t == nil {
		return InvalidArgument(field, "a revision template is required")
	}
	if err := ValidateLabels(field+".labels", t.GetLabels()); err != nil {
		return err
	}
	if err := ValidateAnnotations(field+".annotations", t.GetAnnotations()); err != nil {
		return err
	}
	return validateContainers(field+".containers", t.GetContainers())
}

// ValidateWorkerPoolScaling checks the pool's scaling: manual_instance_count, when set, is a count.
func ValidateWorkerPoolScaling(field string, sc *runpb.WorkerPoolScaling) error {
	if sc != nil && sc.ManualInstanceCount != nil && sc.GetManualInstanceCount() < 0 {
		return InvalidArgument(field+".manual_instance_count", fmt.Sprintf("the instance count must be 0 or more, got %d", sc.GetManualInstanceCount()))
	}
	return nil
}

// SplitType resolves INSTANCE_SPLIT_ALLOCATION_TYPE_UNSPECIFIED as a traffic target's type is resolved: an
// entry naming a revision pins it, otherwise it follows the latest ready revision.
func SplitType(sp *runpb.InstanceSplit) runpb.InstanceSplitAllocationType {
	if sp.GetType() != runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_UNSPECIFIED {
		return sp.GetType()
	}
	if sp.GetRevision() != "" {
		return runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION
	}
	return runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST
}

// ValidateInstanceSplits checks the rules of instance_splits that do not depend on which revisions exist:
// each percent between 0 and 100, a known type, a revision named by REVISION entries only, no revision
// named twice, and percentages adding up to 100 when any entry is given.
func ValidateInstanceSplits(splits []*runpb.InstanceSplit) error {
	sum := 0
	named := map[string]int{}
	for i, sp := range splits {
		field := fmt.Sprintf("worker_pool.instance_splits[%d]", i)
		if sp.GetPercent() < 0 || sp.GetPercent() > 100 {
			return InvalidArgument(field+".percent", fmt.Sprintf("percent must be between 0 and 100, got %d", sp.GetPercent()))
		}
		sum += int(sp.GetPercent())
		switch sp.GetType() {
		case runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_UNSPECIFIED:
		case runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION:
			if sp.GetRevision() == "" {
				return InvalidArgument(field+".revision", "an entry of type INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION must name a revision")
			}
		case runpb.InstanceSplitAllocationType_INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST:
			if sp.GetRevision() != "" {
				return InvalidArgument(field+".revision", fmt.Sprintf("an entry of type INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST must not name a revision, got %q", sp.GetRevision()))
			}
		default:
			return InvalidArgument(field+".type", fmt.Sprintf("unknown allocation type %d; allowed: INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST (1), INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION (2)", sp.GetType()))
		}
		if r := sp.GetRevision(); r != "" {
			if j, dup := named[r]; dup {
				return InvalidArgument(field+".revision", fmt.Sprintf("revision %q is already given a share by worker_pool.instance_splits[%d]; name each revision once", r, j))
			}
			named[r] = i
		}
	}
	if len(splits) > 0 && sum != 100 {
		return InvalidArgument("worker_pool.instance_splits", fmt.Sprintf("instance split percentages must add up to 100, got %d", sum))
	}
	return nil
}

// InstanceCounts divides total instances among shares given in percent (adding up to 100) by the largest
// remainder: each share first gets the whole part of total×percent/100, then the instances left over go
// one each to the shares with the largest fractional parts, the earlier share first on a tie. A share of
// 0% gets no instance; the counts always add up to total. Google does not document its rounding; this is
// fakerun's.
func InstanceCounts(total int32, percents []int32) []int32 {
	counts := make([]int32, len(percents))
	remainders := make([]int64, len(percents))
	given := int32(0)
	for i, p := range percents {
		exact := int64(total) * int64(p)
		counts[i] = int32(exact / 100)
		remainders[i] = exact % 100
		given += counts[i]
	}
	for ; given < total; given++ {
		best := -1
		for i, r := range remainders {
			if percents[i] > 0 && (best < 0 || r > remainders[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		counts[best]++
		remainders[best] = -1
	}
	return counts
}
