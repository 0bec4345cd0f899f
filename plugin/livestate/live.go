package livestate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

// readLive connects to deploy target dtName and reads the live resource of kind ("job" or "worker pool")
// that the manifest file in git describes (locate gives it for the target's project and region). When it
// cannot, or the resource does not exist, failed is the target's sync state saying why.
func readLive[R interface{ GetName() string }](ctx context.Context, p *Plugin, dtName string, cfg config.DeployTargetConfig,
	kind, file string, locate func(project, region string) (R, error), get func(*provider.Client, context.Context, string) (R, error),
) (client *provider.Client, git, live R, failed *targetSync) {
	git, err := locate(cfg.Project, cfg.Region)
	if err != nil {
		return nil, git, live, &targetSync{status: sdk.ApplicationSyncStateInvalidConfig, short: fmt.Sprintf("Invalid configuration for deploy target %s", dtName), reason: err.Error()}
	}
	unknown := func(err error) (*provider.Client, R, R, *targetSync) {
		s := unknownSync(dtName, err)
		return nil, git, live, &s
	}
	if client, err = target.Connect(ctx, p.registry, dtName, cfg); err != nil {
		return unknown(err)
	}
	id := naming.ShortName(git.GetName())
	live, err = get(client, ctx, git.GetName())
	if errors.Is(err, provider.ErrNotFound) {
		return nil, git, live, &targetSync{
			status: sdk.ApplicationSyncStateOutOfSync,
			short:  fmt.Sprintf("%s%s %s does not exist in project %s, region %s", strings.ToUpper(kind[:1]), kind[1:], id, cfg.Project, cfg.Region),
			reason: fmt.Sprintf("Deploy target %s: %s %s (%s) does not exist. Deploy the application to create it, or check the %s name in %s and the project and region of the deploy target.",
				dtName, kind, id, git.GetName(), kind, file),
		}
	}
	if err != nil {
		return unknown(err)
	}
	return client, git, live, nil
}

// unknownSync is the sync state of deploy target dtName when err keeps its live state from being read.
func unknownSync(dtName string, err error) targetSync {
	return targetSync{status: sdk.ApplicationSyncStateUnknown, short: fmt.Sprintf("Cannot read the live state of deploy target %s", dtName), reason: err.Error()}
}
