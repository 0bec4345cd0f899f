package deployment

import (
	"context"
	"errors"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// reportRegions logs, for a multi-region service (svc, as written through the deploy target's region), what
// the service of each of its other regions runs: Cloud Run applies a write to every region, and the log
// says where it has. It never fails the stage: live state compares every region with git.
func reportRegions(ctx context.Context, t *target.Target, svc *runpb.Service) {
	id := naming.ShortName(svc.GetName())
	for _, region := range svc.GetMultiRegionSettings().GetRegions() {
		if region == t.Config.Region {
			continue
		}
		regional, err := t.Client.GetService(ctx, naming.ServiceName(t.Config.Project, region, id))
		switch {
		case errors.Is(err, provider.ErrNotFound):
			t.Log.Infof("Region %s of the multi-region service: service %s does not exist there (yet)", region, id)
		case err != nil:
			t.Log.Infof("Region %s of the multi-region service: cannot read service %s: %v", region, id, err)
		default:
			t.Log.Infof("Region %s of the multi-region service: service %s runs revision %s; traffic: %s",
				region, id, regional.GetTemplate().GetRevision(), traffic.DescribeShares(traffic.Serving(regional)))
		}
	}
}
