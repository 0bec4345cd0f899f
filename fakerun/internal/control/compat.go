package control

import (
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/grpc/codes"
)

// Compatibility chooses how the fake behaves where public material does not
// settle what Cloud Run does. The zero value is the default: the most likely
// behaviour, as argued on each field. Change a field to check that code does
// not depend on the choice.
type Compatibility struct {
	// AcceptFullRevisionNames makes traffic targets accept a revision's full
	// resource name (projects/…/services/{svc}/revisions/{rev}) as well as
	// its short name; the full name is stored as the short name. The default
	// treats the value as a short name, so a full name is a revision that
	// does not exist and fails the operation: the proto marks the field a
	// Revision resource reference, but every observed client sends short names.
	AcceptFullRevisionNames bool

	// BumpGenerationOnNoOpUpdate makes an UpdateService that changes nothing
	// still bump generation and etag and run a rollout. By default such an
	// update is a no-op that returns the service unchanged: generation counts
	// changes of the desired state, as in Knative (which Cloud Run follows)
	// and in the other Cloud Run fakes observed.
	BumpGenerationOnNoOpUpdate bool

	// EtagMismatchCode is the code for an etag that does not match, on
	// UpdateService, DeleteService and DeleteRevision: codes.Aborted (the
	// default, also used for codes.OK) as AIP-154 prescribes, or
	// codes.FailedPrecondition, which some Google APIs use instead.
	EtagMismatchCode codes.Code

	// RejectUpdateWhileReconciling makes an UpdateService of a service whose
	// rollout is still pending fail with ABORTED. By default the update is
	// accepted and supersedes the rollout: the older operation completes
	// without publishing its state, as Kubernetes-style reconcilers do.
	RejectUpdateWhileReconciling bool

	// AllowDeletedRevisionNames frees the name of a deleted revision (deleted
	// by DeleteRevision or by the revision cap): an explicit template.revision
	// may name it again. By default the name stays taken: such a
	// template.revision fails with ALREADY_EXISTS, and automatic names avoid
	// deleted ones. The evidence leans that way: Knative forbids reuse until
	// garbage collection, and ListRevisions' show_deleted and the revisions'
	// expire_time suggest Cloud Run keeps deleted revisions until they expire.
	AllowDeletedRevisionNames bool

	// RunJobDoneAtStart makes RunJob's operation done as soon as the
	// execution has started, with the Execution as it started. By default it
	// is done when the execution completes (failing when the execution
	// fails): the reference does not say, and users wait on it to learn that
	// the execution succeeded. Code that polls the execution works with both.
	RunJobDoneAtStart bool
}

// etagMismatchCode is the code answering a stale etag.
func (c Compatibility) etagMismatchCode() codes.Code {
	if c.EtagMismatchCode == codes.OK {
		return codes.Aborted
	}
	return c.EtagMismatchCode
}

// shortenRevisionNames rewrites traffic targets that name a revision of the
// service serviceName by its full resource name to the short name.
func shortenRevisionNames(serviceName string, traffic []*runpb.TrafficTarget) {
	prefix := rules.RevisionName(serviceName, "") // what the full names of its revisions start with
	for _, t := range traffic {
		if short, ok := strings.CutPrefix(t.GetRevision(), prefix); ok {
			t.Revision = short
		}
	}
}
