package deployment

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

// writeService applies change to the service until Cloud Run accepts the write or attempts run out.
// change gets the service as just read (live on the first attempt when not nil, so that a caller that has
// just read it does not read it twice) and returns nil, a ErrConflict to try again, or another error to stop.
// Every write carries the
// etag of the read it is based on, so a concurrent change makes Cloud Run answer ABORTED, and the change is
// computed again from the new state: entries the plugin does not own are never overwritten. An ABORTED read
// is a conflict too: the service is read again.
func (p *Plugin) writeService(ctx context.Context, t *target.Target, name string, live *runpb.Service, change func(live *runpb.Service) error) error {
	return writeResource(ctx, p, t, "service", name, live, t.Client.GetService, change)
}

// writeResource is writeService for a resource of kind that get reads.
func writeResource[T any](ctx context.Context, p *Plugin, t *target.Target, kind, name string, live *T,
	get func(context.Context, string) (*T, error), change func(live *T) error,
) error {
	var err error
	for attempt := 1; attempt <= p.writeAttempts; attempt++ {
		if live == nil {
			live, err = get(ctx, name)
		}
		if err == nil {
			err = change(live)
		}
		if !errors.Is(err, provider.ErrConflict) {
			return err
		}
		live = nil
		t.Log.Infof("The %s %s was changed by someone else meanwhile; reading it again (attempt %d of %d)", kind, naming.ShortName(name), attempt, p.writeAttempts)
	}
	return fmt.Errorf("gave up after %d attempts because the %s kept changing concurrently: %w", p.writeAttempts, kind, err)
}

// previewURL returns the URL Cloud Run gives to tag, or "" when the service does not report one.
func previewURL(svc *runpb.Service, tag string) string {
	if tag == "" {
		return ""
	}
	for _, s := range svc.GetTrafficStatuses() {
		if s.GetTag() == tag {
			return s.GetUri()
		}
	}
	return ""
}

func cloneService(svc *runpb.Service) *runpb.Service {
	return proto.Clone(svc).(*runpb.Service)
}
