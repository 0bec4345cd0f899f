// Package livestate implements the plugin's live state and drift detection (sdk.LivestatePlugin).
//
// For every deploy target it reports the Cloud Run service and the revisions that serve traffic or carry
// a tag, with their health, and compares the service manifest in git with the live service:
//
//   - Fields Cloud Run fills by itself are not compared: output-only fields (uid, generation, conditions,
//     timestamps, ...), etag, client and client version, and defaults of fields the manifest leaves unset
//     (container ports, resource limits, timeout, service account, ...).
//   - Fields the plugin owns are not compared with git: template.revision, the traffic block and the
//     pipecd-dev-* labels.
//   - The traffic is in sync when the revision running git's template serves all of it. While the live
//     service carries the compared commit in its pipecd-dev-commit-hash label (the plugin applied that
//     commit: a canary is in progress, or was stopped half-way), any split is accepted and
//     the short reason says how much the new revision serves. Any other split is OUT_OF_SYNC: it was made
//     outside PipeCD, for example by a rollback in the console. CLOUDRUN_ROLLBACK restores the template
//     and the commit label from before the deployment, so the rolled-back commit is OUT_OF_SYNC on the
//     template fields that differ.
//   - Labels, annotations, containers, environment variables and volumes that only the live service has
//     are differences: someone added them outside PipeCD.
//
// For a job (see job.go) it reports the job and its last executions with their task counts, and compares the
// job in git with the live one with the same rules.
//
// A missing service is OUT_OF_SYNC; an application config, manifest or deploy target config that
// cannot be loaded is INVALID_CONFIG with the error.
package livestate

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

var _ sdk.LivestatePlugin[config.PluginConfig, config.RawDeployTargetConfig, config.RawApplicationSpec] = (*Plugin)(nil)

// Plugin reports the live state and the sync state of Cloud Run applications. Create it with NewPlugin.
type Plugin struct {
	registry *provider.Registry
}

// NewPlugin returns the livestate plugin; it takes the Cloud Run client of each deploy target from registry,
// which the other plugins of the process share.
func NewPlugin(registry *provider.Registry) *Plugin {
	return &Plugin{registry: registry}
}

// GetLivestate returns the resources of every deploy target and the sync state of the application.
// Problems (invalid config, a missing service, Cloud Run errors) are reported in the sync state rather than
// as an error, so that piped still records what could be read.
func (p *Plugin) GetLivestate(ctx context.Context, _ *config.PluginConfig, dts []*sdk.DeployTarget[config.RawDeployTargetConfig], input *sdk.GetLivestateInput[config.RawApplicationSpec]) (*sdk.GetLivestateResponse, error) {
	if len(dts) == 0 {
		return &sdk.GetLivestateResponse{SyncState: sdk.ApplicationSyncState{
			Status:      sdk.ApplicationSyncStateInvalidConfig,
			ShortReason: "The application has no deploy target of the Cloud Run plugin",
			Reason:      "Add one of the deploy targets of the cloudrun plugin in piped.yaml to the application.",
		}}, nil
	}
	ds := input.Request.DeploymentSource
	src, err := app.Load(ds)
	if err != nil {
		return &sdk.GetLivestateResponse{SyncState: sdk.ApplicationSyncState{
			Status:      sdk.ApplicationSyncStateInvalidConfig,
			ShortReason: fmt.Sprintf("Invalid configuration at commit %s", naming.ShortCommit(ds.CommitHash)),
			Reason:      err.Error(),
		}}, nil
	}
	resp := &sdk.GetLivestateResponse{}
	states := make([]targetSync, 0, len(dts))
	for _, dt := range dts {
		resources, state := p.targetState(ctx, dt, src)
		resp.LiveState.Resources = append(resp.LiveState.Resources, resources...)
		states = append(states, state...)
	}
	resp.SyncState = combine(states)
	return resp, nil
}

// targetState returns the resources and the sync state of one deploy target: of each region of a
// multi-region service (the deploy target's first), else of the deploy target's region.
func (p *Plugin) targetState(ctx context.Context, dt *sdk.DeployTarget[config.RawDeployTargetConfig], src *app.Source) ([]sdk.ResourceState, []targetSync) {
	invalid := func(err error) ([]sdk.ResourceState, []targetSync) {
		return nil, []targetSync{{status: sdk.ApplicationSyncStateInvalidConfig, short: fmt.Sprintf("Invalid configuration for deploy target %s", dt.Name), reason: err.Error()}}
	}
	cfg, err := target.Decode(dt)
	if err != nil {
		return invalid(err)
	}
	if src.Job != nil {
		resources, state := p.jobState(ctx, dt.Name, cfg, src)
		return resources, []targetSync{state}
	}
	if src.Pool != nil {
		resources, state := p.poolState(ctx, dt.Name, cfg, src)
		return resources, []targetSync{state}
	}
	git, err := src.Manifest.Service(cfg.Project, cfg.Region)
	if err != nil {
		return invalid(err)
	}
	client, err := target.Connect(ctx, p.registry, dt.Name, cfg)
	if err != nil {
		return nil, []targetSync{cannotRead(dt.Name, err)}
	}
	resources, state := p.regionState(ctx, client, dt.Name, dt.Name, cfg.Project, cfg.Region, src, git)
	states := []targetSync{state}
	for _, region := range src.Manifest.Regions(cfg.Region) {
		regional := proto.Clone(git).(*runpb.Service)
		regional.Name = naming.ServiceName(cfg.Project, region, src.Manifest.ServiceID())
		r, state := p.regionState(ctx, client, dt.Name, fmt.Sprintf("%s (region %s of the multi-region service)", dt.Name, region), cfg.Project, region, src, regional)
		resources = append(resources, r...)
		states = append(states, state)
	}
	return resources, states
}

// cannotRead is the sync state of a deploy target (where) whose live state cannot be read.
func cannotRead(where string, err error) targetSync {
	return targetSync{status: sdk.ApplicationSyncStateUnknown, short: fmt.Sprintf("Cannot read the live state of deploy target %s", where), reason: err.Error()}
}

// regionState returns the resources and the sync state of the service git in project and region on deploy
// target dt; where names the deploy target, and the region when it is not the deploy target's, in messages.
func (p *Plugin) regionState(ctx context.Context, client *provider.Client, dt, where, project, region string, src *app.Source, git *runpb.Service) ([]sdk.ResourceState, targetSync) {
	live, err := client.GetService(ctx, git.GetName())
	if errors.Is(err, provider.ErrNotFound) {
		id := naming.ShortName(git.GetName())
		return nil, targetSync{
			status: sdk.ApplicationSyncStateOutOfSync,
			short:  fmt.Sprintf("Service %s does not exist in project %s, region %s", id, project, region),
			reason: fmt.Sprintf("Deploy target %s: service %s (%s) does not exist. Deploy the application to create it, or check the service name in %s and the project and region of the deploy target.",
				where, id, git.GetName(), src.Manifest.File),
		}
	}
	if err != nil {
		return nil, cannotRead(where, err)
	}
	resources, err := resourceStates(ctx, client, dt, live)
	if err != nil {
		return nil, cannotRead(where, err)
	}
	access, err := readAccess(ctx, client, live.GetName(), src.Spec.Access.Public)
	if err != nil {
		return nil, cannotRead(where, err)
	}
	if access.managed {
		resources[0].ResourceMetadata["public"] = strconv.FormatBool(access.live)
	}
	resources[0].ResourceMetadata["region"] = region
	return resources, serviceSync(where, src.Commit, git, live, access)
}

// access is what access.public says (want, when managed) and whether allUsers holds roles/run.invoker on
// the live service.
type access struct {
	managed, want, live bool
}

// readAccess reads the public access of the service; none is managed when access.public is not set, since
// the plugin then leaves the IAM policy alone.
func readAccess(ctx context.Context, client *provider.Client, name string, want *bool) (access, error) {
	if want == nil {
		return access{}, nil
	}
	policy, err := client.GetServiceIAMPolicy(ctx, name)
	if err != nil {
		return access{}, err
	}
	return access{managed: true, want: *want, live: provider.IsPublic(policy)}, nil
}

// differences is the difference of public access, if any, named by its application config field.
func (a access) differences() []diff.Difference {
	if !a.managed || a.want == a.live {
		return nil
	}
	return []diff.Difference{{Path: "access.public", Want: strconv.FormatBool(a.want), Have: strconv.FormatBool(a.live)}}
}
