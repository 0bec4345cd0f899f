package provider

import (
	"cloud.google.com/go/run/apiv2/runpb"
)

// Readiness is what the Ready condition of a revision says.
type Readiness int

const (
	// ReadinessPending means Cloud Run is still starting the revision.
	ReadinessPending Readiness = iota
	// ReadinessReady means the revision can serve traffic.
	ReadinessReady
	// ReadinessFailed means the revision will not become ready without a change.
	ReadinessFailed
)

// RevisionReadiness returns the state of the revision's Ready condition and its message, which for a failed
// revision explains what went wrong (for example that the image does not exist).
func RevisionReadiness(rev *runpb.Revision) (Readiness, string) {
	for _, c := range rev.GetConditions() {
		if c.GetType() != "Ready" {
			continue
		}
		switch c.GetState() {
		case runpb.Condition_CONDITION_SUCCEEDED:
			return ReadinessReady, c.GetMessage()
		case runpb.Condition_CONDITION_FAILED:
			return ReadinessFailed, failureMessage(rev, c)
		default:
			return ReadinessPending, c.GetMessage()
		}
	}
	return ReadinessPending, "the revision has no Ready condition yet"
}

// failureMessage combines the Ready condition with the other failed conditions, which often say more.
func failureMessage(rev *runpb.Revision, ready *runpb.Condition) string {
	msg := ready.GetMessage()
	if msg == "" {
		msg = "the revision is not ready"
	}
	for _, c := range rev.GetConditions() {
		if c == ready || c.GetState() != runpb.Condition_CONDITION_FAILED || c.GetMessage() == "" ||
			c.GetSeverity() == runpb.Condition_INFO || c.GetMessage() == ready.GetMessage() {
			continue
		}
		msg += "; " + c.GetType() + ": " + c.GetMessage()
	}
	if r := ready.GetRevisionReason(); r != runpb.Condition_REVISION_REASON_UNDEFINED {
		msg += " (reason " + r.String() + ")"
	} else if r := ready.GetReason(); r != runpb.Condition_COMMON_REASON_UNDEFINED {
		msg += " (reason " + r.String() + ")"
	}
	return msg
}
