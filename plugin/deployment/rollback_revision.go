package deployment

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

// errRevisionUnusable marks a CLOUDRUN_ROLLBACK `revision` that Cloud Run would refuse to route to.
var errRevisionUnusable = errors.New("cannot take the traffic")

// checkRollbackRevision checks, before anything is written, that revision exists, belongs to service (a
// service's or a worker pool's full name) and is ready. An unusable revision is an error wrapping errRevisionUnusable that names the revisions of the
// service that could take the traffic; any other error means the check itself failed.
func checkRollbackRevision(ctx context.Context, t *target.Target, service, revision string) error {
	rev, err := t.Client.GetRevision(ctx, naming.FullRevisionName(service, revision))
	var why string
	switch {
	case errors.Is(err, provider.ErrNotFound):
		why = "does not exist"
	case err != nil:
		return err
	case !strings.Contains(service, "/workerPools/") && naming.ShortName(rev.GetService()) != naming.ShortName(service):
		why = "belongs to service " + naming.ShortName(rev.GetService())
	default:
		ready, msg := provider.RevisionReadiness(rev)
		if ready == provider.ReadinessReady {
			return nil
		}
		why = "is not ready (" + msg + ")"
	}
	revs, err := t.Client.ListRevisions(ctx, service)
	if err != nil {
		return err
	}
	var usable []string
	for _, r := range revs {
		if ready, _ := provider.RevisionReadiness(r); ready == provider.ReadinessReady {
			usable = append(usable, naming.ShortName(r.GetName()))
		}
	}
	return fmt.Errorf("option \"revision\" of %s: revision %s %s, so it %w; the ready revisions of %s %s are: %s",
		StageCloudRunRollback, revision, why, errRevisionUnusable, ownerKind(service), naming.ShortName(service), strings.Join(usable, ", "))
}
