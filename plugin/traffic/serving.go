package traffic

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// Share is what one revision receives from the traffic of a service.
type Share struct {
	// Revision is the short revision name.
	Revision string
	// Percent is the share of the traffic.
	Percent int32
	// Tags are the traffic tags of the revision, and URLs their URLs when Cloud Run reports them.
	Tags, URLs []string
	// Pending is true for a revision that the service's traffic asks for but that Cloud Run does not
	// route to (yet): its rollout is in progress or failed. Its Percent is 0 and Tags are the requested ones.
	Pending bool
}

// Serving returns the revisions of svc that serve traffic or carry a tag, most traffic first. It reads the
// traffic Cloud Run reports as applied (traffic statuses), or the requested traffic while Cloud Run reports
// none; a LATEST entry counts for the latest ready revision. Revisions that the requested traffic names but
// the applied traffic does not are added as Pending.
func Serving(svc *runpb.Service) []Share {
	latest := naming.ShortName(svc.GetLatestReadyRevision())
	var shares []*Share
	find := func(name string) *Share {
		for _, s := range shares {
			if s.Revision == name {
				return s
			}
		}
		s := &Share{Revision: name}
		shares = append(shares, s)
		return s
	}
	add := func(latestType bool, revision, tag, uri string, percent int32) {
		if latestType || revision == "" {
			revision = latest
		}
		if revision == "" || (percent == 0 && tag == "") {
			return
		}
		s := find(revision)
		s.Percent += percent
		if tag != "" {
			s.Tags = append(s.Tags, tag)
		}
		if uri != "" {
			s.URLs = append(s.URLs, uri)
		}
	}
	const typeLatest = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
	statuses := svc.GetTrafficStatuses()
	for _, s := range statuses {
		add(s.GetType() == typeLatest, s.GetRevision(), s.GetTag(), s.GetUri(), s.GetPercent())
	}
	applied := len(shares)
	for _, t := range svc.GetTraffic() {
		if len(statuses) == 0 {
			add(t.GetType() == typeLatest, t.GetRevision(), t.GetTag(), "", t.GetPercent())
			continue
		}
		if t.GetType() == typeLatest || t.GetRevision() == "" || (t.GetPercent() == 0 && t.GetTag() == "") ||
			slices.ContainsFunc(shares[:applied], func(s *Share) bool { return s.Revision == t.GetRevision() }) {
			continue
		}
		s := find(t.GetRevision())
		s.Pending = true
		if t.GetTag() != "" {
			s.Tags = append(s.Tags, t.GetTag())
		}
	}
	if len(svc.GetTraffic()) == 0 && len(statuses) == 0 {
		add(true, "", "", "", 100)
	}
	out := make([]Share, 0, len(shares))
	for _, s := range shares {
		out = append(out, *s)
	}
	slices.SortStableFunc(out, func(a, b Share) int {
		return cmp.Or(cmp.Compare(b.Percent, a.Percent), cmp.Compare(a.Revision, b.Revision))
	})
	return out
}

// ShareOf returns the share of the traffic of revision (short name) in shares.
func ShareOf(shares []Share, revision string) int32 {
	for _, s := range shares {
		if s.Revision == revision {
			return s.Percent
		}
	}
	return 0
}

// DescribeShares renders the revisions that serve traffic on one line, e.g. "web-a 90%, web-b 10% (tag canary)".
func DescribeShares(shares []Share) string {
	parts := make([]string, 0, len(shares))
	for _, s := range shares {
		if s.Pending {
			continue
		}
		p := fmt.Sprintf("%s %d%%", s.Revision, s.Percent)
		if len(s.Tags) > 0 {
			p += " (tag " + strings.Join(s.Tags, ", ") + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "no revision serves traffic"
	}
	return strings.Join(parts, ", ")
}
