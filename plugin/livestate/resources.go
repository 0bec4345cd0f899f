package livestate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// Resource types reported to piped.
const (
	ResourceTypeService  = "Service"
	ResourceTypeRevision = "Revision"
)

// resourceStates returns the service and the revisions that serve traffic or carry a tag.
func resourceStates(ctx context.Context, client *provider.Client, target string, svc *runpb.Service) ([]sdk.ResourceState, error) {
	shares := traffic.Serving(svc)
	states := []sdk.ResourceState{serviceState(target, svc, shares)}
	for _, s := range shares {
		name := naming.FullRevisionName(svc.GetName(), s.Revision)
		rev, err := client.GetRevision(ctx, name)
		if errors.Is(err, provider.ErrNotFound) {
			states = append(states, sdk.ResourceState{
				ID: name, ParentIDs: []string{svc.GetName()}, Name: s.Revision, ResourceType: ResourceTypeRevision,
				HealthStatus: sdk.ResourceHealthStateUnhealthy, HealthDescription: describeRevision(s, nil) + "; the revision does not exist",
				DeployTarget: target, ResourceMetadata: shareMetadata(s),
			})
			continue
		}
		if err != nil {
			return nil, err
		}
		states = append(states, revisionState(target, svc.GetName(), rev, s))
	}
	return states, nil
}

func serviceState(target string, svc *runpb.Service, shares []traffic.Share) sdk.ResourceState {
	health, desc := serviceHealth(svc)
	desc += "; traffic: " + traffic.DescribeShares(shares)
	if svc.GetUri() != "" {
		desc += "; " + svc.GetUri()
	}
	meta := map[string]string{
		"uri":                   svc.GetUri(),
		"generation":            strconv.FormatInt(svc.GetGeneration(), 10),
		"observedGeneration":    strconv.FormatInt(svc.GetObservedGeneration(), 10),
		"latestReadyRevision":   naming.ShortName(svc.GetLatestReadyRevision()),
		"latestCreatedRevision": naming.ShortName(svc.GetLatestCreatedRevision()),
		"templateRevision":      svc.GetTemplate().GetRevision(),
		"commit":                svc.GetLabels()[provider.LabelCommitHash],
	}
	return sdk.ResourceState{
		ID:                svc.GetName(),
		Name:              naming.ShortName(svc.GetName()),
		ResourceType:      ResourceTypeService,
		ResourceMetadata:  withoutEmpty(meta),
		HealthStatus:      health,
		HealthDescription: desc,
		DeployTarget:      target,
		CreatedAt:         svc.GetCreateTime().AsTime(),
	}
}

// serviceHealth reads the service's terminal (Ready) condition and its other conditions.
func serviceHealth(svc *runpb.Service) (sdk.ResourceHealthStatus, string) {
	return conditionsHealth(svc.GetTerminalCondition(), svc.GetConditions())
}

// conditionsHealth reads the terminal (Ready) condition and the other conditions of a service or job.
func conditionsHealth(tc *runpb.Condition, conds []*runpb.Condition) (sdk.ResourceHealthStatus, string) {
	for _, c := range conds {
		if c.GetState() == runpb.Condition_CONDITION_FAILED && c.GetSeverity() != runpb.Condition_INFO {
			return sdk.ResourceHealthStateUnhealthy, "Not ready: " + c.GetType() + ": " + orDefault(c.GetMessage(), "failed")
		}
	}
	switch tc.GetState() {
	case runpb.Condition_CONDITION_SUCCEEDED:
		return sdk.ResourceHealthStateHealthy, "Ready"
	case runpb.Condition_CONDITION_FAILED:
		return sdk.ResourceHealthStateUnhealthy, "Not ready: " + orDefault(tc.GetMessage(), "the last rollout failed")
	case runpb.Condition_CONDITION_RECONCILING, runpb.Condition_CONDITION_PENDING:
		return sdk.ResourceHealthStateUnknown, "Reconciling: " + orDefault(tc.GetMessage(), "a rollout is in progress")
	}
	return sdk.ResourceHealthStateUnknown, "Cloud Run reports no Ready condition yet"
}

func revisionState(target, service string, rev *runpb.Revision, s traffic.Share) sdk.ResourceState {
	var health sdk.ResourceHealthStatus
	state, msg := provider.RevisionReadiness(rev)
	switch state {
	case provider.ReadinessReady:
		health = sdk.ResourceHealthStateHealthy
	case provider.ReadinessFailed:
		health = sdk.ResourceHealthStateUnhealthy
	default:
		health = sdk.ResourceHealthStateUnknown
	}
	desc := describeRevision(s, rev)
	if health != sdk.ResourceHealthStateHealthy && msg != "" {
		desc += "; " + msg
	}
	meta := shareMetadata(s)
	meta["image"] = strings.Join(images(rev), ", ")
	return sdk.ResourceState{
		ID:                rev.GetName(),
		ParentIDs:         []string{service},
		Name:              s.Revision,
		ResourceType:      ResourceTypeRevision,
		ResourceMetadata:  withoutEmpty(meta),
		HealthStatus:      health,
		HealthDescription: desc,
		DeployTarget:      target,
		CreatedAt:         rev.GetCreateTime().AsTime(),
	}
}

// describeRevision renders the revision on one line: traffic, tags and images.
func describeRevision(s traffic.Share, rev *runpb.Revision) string {
	desc := fmt.Sprintf("%d%% of the traffic", s.Percent)
	if s.Pending {
		desc = "requested in the traffic but not serving"
	}
	if len(s.Tags) > 0 {
		desc += ", tag " + strings.Join(s.Tags, ", ")
	}
	if imgs := images(rev); len(imgs) > 0 {
		desc += ", image " + strings.Join(imgs, ", ")
	}
	return desc
}

func shareMetadata(s traffic.Share) map[string]string {
	return map[string]string{
		"percent": strconv.Itoa(int(s.Percent)),
		"tags":    strings.Join(s.Tags, ","),
		"urls":    strings.Join(s.URLs, ","),
	}
}

func images(rev *runpb.Revision) []string {
	var out []string
	for _, c := range rev.GetContainers() {
		out = append(out, c.GetImage())
	}
	return out
}

func withoutEmpty(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" || v == "0" && k != "percent" {
			delete(m, k)
		}
	}
	return m
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
