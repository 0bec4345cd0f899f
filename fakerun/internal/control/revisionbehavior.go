package control

import (
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
)

// behaviorLocked returns what r does: its own behaviour, else its serving
// image's. Must be called with s.mu held.
func (s *Server) behaviorLocked(r *revision) behavior.Behavior {
	if b, ok := s.ownBehaviorLocked(r); ok {
		return b
	}
	return s.behaviors.Images[servingImage(r.template)]
}

// ownBehaviorLocked returns the behaviour set for r by full or short name.
// Must be called with s.mu held.
func (s *Server) ownBehaviorLocked(r *revision) (behavior.Behavior, bool) {
	if b, ok := s.behaviors.Revisions[r.name]; ok {
		return b, true
	}
	b, ok := s.behaviors.Revisions[rules.ShortName(r.name)]
	return b, ok
}

// failingImageLocked returns the image that makes r fail, or "": with a
// behaviour of its own, r fails when that says so; otherwise when any of
// its containers' images does. Must be called with s.mu held.
func (s *Server) failingImageLocked(r *revision) string {
	if b, ok := s.ownBehaviorLocked(r); ok {
		if b.Fail {
			return servingImage(r.template)
		}
		return ""
	}
	for _, c := range r.template.GetContainers() {
		if s.behaviors.Images[c.GetImage()].Fail {
			return c.GetImage()
		}
	}
	return ""
}
