package deployment

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"

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
// and returns whether the service of each region (names: region → service name, see regionalNames) is
// public now: false where it does not exist yet, as for a new service (exists false).
func accessBefore(ctx context.Context, t *target.Target, names map[string]string, exists bool) (map[string]bool, error) {
	if err := t.Client.CanSetServiceIAMPolicy(ctx, names[t.Config.Region]); err != nil {
		return nil, err
	}
	public := make(map[string]bool, len(names))
	for region, name := range names {
		if !exists {
			public[region] = false
			continue
		}
		policy, err := t.Client.GetServiceIAMPolicy(ctx, name)
		switch {
		case errors.Is(err, provider.ErrNotFound) && region != t.Config.Region:
			public[region] = false // not replicated to this region yet
		case err != nil:
			return nil, err
		default:
			public[region] = provider.IsPublic(policy)
		}
	}
	return public, nil
}

// regionalNames returns the name of the service (svc, named in the deploy target's region) in each of its
// regions: the deploy target's, and the others of a multi-region service.
func regionalNames(t *target.Target, svc *runpb.Service) map[string]string {
	names := map[string]string{t.Config.Region: svc.GetName()}
	for _, region := range svc.GetMultiRegionSettings().GetRegions() {
		names[region] = naming.ServiceName(t.Config.Project, region, naming.ShortName(svc.GetName()))
	}
	return names
}

// setPublicIn makes the service public or not (public: region → wanted) in every region, as gcloud does for a
// multi-region service: each region's service has its own IAM policy. A region whose service does not
// exist (yet) is logged and left, except the deploy target's.
func (p *Plugin) setPublicIn(ctx context.Context, t *target.Target, names map[string]string, public map[string]bool) error {
	for _, region := range slices.Sorted(maps.Keys(public)) {
		err := p.setPublic(ctx, t, names[region], public[region])
		if errors.Is(err, provider.ErrNotFound) && region != t.Config.Region {
			t.Log.Infof("Region %s of the multi-region service: the service does not exist there (yet), so its IAM policy is left; deploy again once it does", region)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// everywhere is public wanted in every region of names.
func everywhere(names map[string]string, public bool) map[string]bool {
	out := make(map[string]bool, len(names))
	for region := range names {
		out[region] = public
	}
	return out
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
