package deployment

import (
	"context"
	"fmt"

	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

// Public access (access.public, pipecd#3765): allUsers holds roles/run.invoker on the service or does not.
// CLOUDRUN_SYNC records whether it did before the deployment and grants or revokes it; CLOUDRUN_ROLLBACK
// puts it back. Every write is a read-modify-write of the service's IAM policy carrying the etag of its read
// and changing only the allUsers member of roles/run.invoker, so the other bindings, and a concurrent
// change to them, are kept.

// accessBefore checks, before anything is written, that the credentials may set the service's IAM policy,
// and returns whether the service is public now (false for a service that does not exist yet).
func accessBefore(ctx context.Context, t *target.Target, name string, exists bool) (bool, error) {
	if err := t.Client.CanSetServiceIAMPolicy(ctx, name); err != nil {
		return false, err
	}
	if !exists {
		return false, nil
	}
	policy, err := t.Client.GetServiceIAMPolicy(ctx, name)
	if err != nil {
		return false, err
	}
	return provider.IsPublic(policy), nil
}

// setPublic grants (public) or revokes roles/run.invoker for allUsers on the service, reading the policy
// again and recomputing the change when a concurrent write makes Cloud Run answer ABORTED.
func (p *Plugin) setPublic(ctx context.Context, t *target.Target, name string, public bool) error {
	id := naming.ShortName(name)
	changed := false
	err := writeResource(ctx, p, t, "IAM policy of service", name, nil, t.Client.GetServiceIAMPolicy, func(policy *iampb.Policy) error {
		if provider.IsPublic(policy) == public {
			return nil
		}
		_, err := t.Client.SetServiceIAMPolicy(ctx, name, provider.WithPublic(policy, public))
		changed = err == nil
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to make service %s %s: %w", id, publicText(public), err)
	}
	switch {
	case changed && public:
		t.Log.Successf("Service %s is public: allUsers now holds %s (the other bindings of its IAM policy are unchanged)", id, provider.InvokerRole)
	case changed:
		t.Log.Successf("Service %s is no longer public: allUsers no longer holds %s (the other bindings of its IAM policy are unchanged)", id, provider.InvokerRole)
	default:
		t.Log.Infof("Service %s is already %s: its IAM policy is unchanged", id, publicText(public))
	}
	return nil
}

func publicText(public bool) string {
	if public {
		return "public (allUsers holds " + provider.InvokerRole + ")"
	}
	return "not public (allUsers does not hold " + provider.InvokerRole + ")"
}
