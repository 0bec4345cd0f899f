// Package syncplan decides what CLOUDRUN_SYNC sends to one deploy target: whether it creates the service,
// deploys to a service that serves nothing, or updates a serving one; the revision names it tries in
// order; and the traffic of each request. It is pure: CLOUDRUN_SYNC carries a plan out, and plan preview
// sends the same requests to Cloud Run as validate_only checks.
package syncplan

import (
	"fmt"
	"slices"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// Mode is how the new revision reaches the service.
type Mode int

const (
	// Create creates the service (it does not exist) with 100% of the traffic on the new revision.
	Create Mode = iota
	// Fresh replaces a service that never had a ready revision, so it serves nothing and there is no
	// traffic to protect: 100% of the traffic on the new revision.
	Fresh
	// Update applies the new template to a serving service with its traffic pinned and the new revision
	// at 0%; Route gives the new revision the traffic once it is ready.
	Update
)

// Input is what the decision depends on.
type Input struct {
	// Live is the service as read from Cloud Run, nil when it does not exist.
	Live *runpb.Service
	// Want is the service of the commit being deployed (app.Source.Desired).
	Want *app.Desired
	// Tag is the preview tag of the new revision, "" for none.
	Tag string
	// DropTag is the previous deployment's preview tag, which the new traffic no longer carries.
	DropTag string
}

// Plan is what CLOUDRUN_SYNC sends to one deploy target, with the input it was decided from.
type Plan struct {
	Input
	Mode Mode
	// Reused is true when the live revision runs the template to apply (Update only): the template keeps
	// that revision's name, so Cloud Run creates no revision and only service settings change.
	Reused bool
	// Candidates are the names of the new revision in the order CLOUDRUN_SYNC tries them: Cloud Run refuses
	// a name that a revision with another template has or had (ALREADY_EXISTS), and the next generation of
	// the name is tried (naming.RevisionNameAt). A created service or a reused revision has one name.
	Candidates []string
}

// Decide returns the plan for in.
func Decide(in Input) (*Plan, error) {
	p := &Plan{Input: in, Candidates: []string{in.Want.Revision}}
	cur := in.Live.GetTemplate().GetRevision()
	switch {
	case in.Live == nil:
		p.Mode = Create
		return p, nil
	case in.Live.GetLatestReadyRevision() == "":
		p.Mode = Fresh
	case naming.SameTemplate(cur, in.Want.Revision):
		p.Mode, p.Reused, p.Candidates = Update, true, []string{cur}
		return p, nil
	default:
		p.Mode = Update
	}
	for gen := naming.Generation(in.Want.Revision) + 1; gen <= naming.MaxRevisionGeneration; gen++ {
		name, err := naming.RevisionNameAt(in.Want.ID, in.Want.Commit, in.Want.Service.GetTemplate(), gen)
		if err != nil {
			return nil, fmt.Errorf("cannot name the new revision: %w", err)
		}
		p.Candidates = append(p.Candidates, name)
	}
	return p, nil
}

// Revision is the name of the new revision to send first.
func (p *Plan) Revision() string { return p.Candidates[0] }

// Adopt starts from recorded when it is a later candidate: an earlier run of the stage was refused the
// names before it and recorded the one it took, so that a re-run creates no second revision.
func (p *Plan) Adopt(recorded string) {
	if i := slices.Index(p.Candidates, recorded); i > 0 {
		p.Candidates = p.Candidates[i:]
	}
}

// Next returns the candidate after name, or "" when none is left.
func (p *Plan) Next(name string) string {
	i := slices.Index(p.Candidates, name)
	if i < 0 || i+1 >= len(p.Candidates) {
		return ""
	}
	return p.Candidates[i+1]
}

// Request is the service to send with the new revision named name, based on live as just read (nil for
// Create): its etag, and for Update its traffic, pinned (LATEST replaced by the latest ready revision),
// without the previous preview tag, plus the new revision at 0% with the preview tag.
func (p *Plan) Request(live *runpb.Service, name string) (*runpb.Service, error) {
	svc := proto.Clone(p.Want.Service).(*runpb.Service)
	svc.Template.Revision = name
	svc.Etag = live.GetEtag()
	if p.Mode != Update {
		svc.Traffic = []*runpb.TrafficTarget{traffic.Revision(name, 100, "")}
		if p.Tag != "" {
			svc.Traffic = append(svc.Traffic, traffic.Revision(name, 0, p.Tag))
		}
		return svc, nil
	}
	cur, err := traffic.Live(live)
	if err != nil {
		return nil, err
	}
	if svc.Traffic, err = traffic.KeepExisting(withoutTag(cur, p.DropTag), name, p.Tag); err != nil {
		return nil, fmt.Errorf("cannot compute the traffic for the template update: %w", err)
	}
	return svc, nil
}

// Route is the traffic once the new revision is ready, from current, the service's traffic as read then
// and pinned (traffic.Live): all of it to revision, with tagged entries kept as 0% tag-only entries, the
// preview tag on the new revision and the previous deployment's tag dropped.
func (p *Plan) Route(current []*runpb.TrafficTarget, revision string) ([]*runpb.TrafficTarget, error) {
	return traffic.RouteAll(withoutTag(current, p.DropTag), revision, p.Tag)
}

// withoutTag returns current without tag: the plugin's preview tag of the previous deployment is its own and
// would otherwise pile up and keep old revisions from being cleaned up. A 0% entry carrying it goes away, an
// entry with traffic keeps its share. The rollback still restores it, as it restores the whole block.
func withoutTag(current []*runpb.TrafficTarget, tag string) []*runpb.TrafficTarget {
	if tag == "" {
		return current
	}
	out := traffic.Clone(current)
	for _, t := range out {
		if t.GetTag() == tag {
			t.Tag = ""
		}
	}
	return traffic.Merge(out)
}
