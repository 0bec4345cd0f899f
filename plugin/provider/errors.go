package provider

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors that callers check with errors.Is. Every error returned by Client wraps one of them
// (or none, for codes that need no special handling) inside an *Error.
var (
	// ErrNotFound means the service, worker pool, revision, job, execution or operation does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the resource changed since it was read (etag mismatch, ABORTED):
	// re-read it and re-apply the change.
	ErrConflict = errors.New("concurrent modification")
	// ErrAlreadyExists means the resource, or a revision with the same name, already exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrTransient means Cloud Run was unavailable, slow or rate limiting, and retries were exhausted.
	ErrTransient = errors.New("temporarily unavailable")
	// ErrInternal means Cloud Run failed with an internal error (INTERNAL), which may pass. It is not
	// retried like ErrTransient: only a caller that must finish, as a rollback, tries again.
	ErrInternal = errors.New("internal error")
	// ErrOperationFailed means the request was accepted but its long-running operation ended with an error.
	ErrOperationFailed = errors.New("operation failed")
)

// Error is a Cloud Run API error translated into a message that says what to fix.
type Error struct {
	// Op is what the plugin tried to do, e.g. "update service".
	Op string
	// Resource is the full resource name the call was about.
	Resource string
	// Code is the gRPC status code returned by Cloud Run.
	Code codes.Code
	// Message is Cloud Run's own message.
	Message string
	// Hint tells the user what to fix, empty when there is nothing to add.
	Hint string

	kind error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("failed to %s %s: %s: %s", e.Op, e.Resource, codeText(e.Code), e.Message)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Unwrap returns the sentinel error for the code, so that errors.Is works.
func (e *Error) Unwrap() error { return e.kind }

// isTransient reports whether a call that failed with err may succeed if sent again unchanged.
func isTransient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return true
	}
	return false
}

// translate turns a gRPC error from Cloud Run into an *Error.
func translate(op, resource string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("failed to %s %s: %w", op, resource, err)
	}
	e := &Error{Op: op, Resource: resource, Code: st.Code(), Message: st.Message()}
	switch st.Code() {
	case codes.NotFound:
		e.kind = ErrNotFound
		e.Hint = "check the project and region of the deploy target and the service or job name in the manifest"
	case codes.Aborted:
		e.kind = ErrConflict
		e.Hint = "the service or job was changed by someone else at the same time; a write is tried again from a fresh read, and what still fails needs the deployment run again once the other change is done"
	case codes.AlreadyExists:
		e.kind = ErrAlreadyExists
		e.Hint = "the service, or a revision of this name with another template, already exists; for a revision, change the manifest or commit so that a new revision name is computed"
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		e.kind = ErrTransient
		e.Hint = "Cloud Run is unavailable or rate limiting requests; the plugin retried with backoff, run the stage again later"
	case codes.Internal:
		e.kind = ErrInternal
		e.Hint = "Cloud Run failed internally; it may pass, run the stage again later"
	case codes.PermissionDenied:
		e.Hint = "grant the deploy target's service account roles/run.developer on the project, and roles/iam.serviceAccountUser on the revision's runtime service account"
	case codes.Unauthenticated:
		e.Hint = "check credentialsFile of the deploy target, or the Application Default Credentials of piped"
	case codes.InvalidArgument:
		e.Hint = "fix the service or job manifest or the stage options according to the message"
	case codes.FailedPrecondition:
		e.Hint = "the service, job or execution is not in a state that allows this change; see the message"
	case codes.Unimplemented:
		e.Hint = "the endpoint of the deploy target does not serve the Cloud Run Admin API v2"
	}
	return e
}

// operationFailed wraps the error a long-running operation finished with.
func operationFailed(op, resource string, err error) error {
	e := translate(op, resource, err)
	var te *Error
	if errors.As(e, &te) {
		te.kind = errors.Join(ErrOperationFailed, te.kind)
		return te
	}
	return fmt.Errorf("%w: %w", ErrOperationFailed, e)
}

func codeText(c codes.Code) string {
	switch c {
	case codes.NotFound:
		return "not found"
	case codes.Aborted:
		return "aborted"
	case codes.AlreadyExists:
		return "already exists"
	case codes.PermissionDenied:
		return "permission denied"
	case codes.Unauthenticated:
		return "unauthenticated"
	case codes.InvalidArgument:
		return "invalid argument"
	case codes.FailedPrecondition:
		return "failed precondition"
	case codes.Unavailable:
		return "unavailable"
	case codes.DeadlineExceeded:
		return "deadline exceeded"
	case codes.ResourceExhausted:
		return "resource exhausted"
	}
	return c.String()
}
