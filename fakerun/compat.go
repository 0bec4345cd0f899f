package fakerun

import (
	"fmt"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/control"
	"google.golang.org/grpc/codes"
)

// Compatibility chooses how the fake behaves where public material does not
// settle what Cloud Run does. The zero value is the default: the most likely
// behaviour, as argued on each field (AcceptFullRevisionNames,
// BumpGenerationOnNoOpUpdate, EtagMismatchCode, RejectUpdateWhileReconciling,
// AllowDeletedRevisionNames, RunJobDoneAtStart; see README.md). Change a field
// to check that code does not depend on the choice.
type Compatibility = control.Compatibility

// WithCompatibility sets the behaviours Cloud Run has not settled; see
// Compatibility. Its zero value is the default.
func WithCompatibility(c Compatibility) Option {
	return func(cfg *config) error {
		switch c.EtagMismatchCode {
		case codes.OK, codes.Aborted, codes.FailedPrecondition:
		default:
			return fmt.Errorf("fakerun: WithCompatibility: EtagMismatchCode %s is not allowed; use codes.Aborted (default) or codes.FailedPrecondition", c.EtagMismatchCode)
		}
		cfg.control.Compat = c
		return nil
	}
}
