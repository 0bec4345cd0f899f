package deployment

import (
	"context"
	"encoding/json"
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// metadataStore is the part of *sdk.Client the stages use to keep state across stages and re-runs.
// Tests use an in-memory map because sdk.NewClient(nil, ...) cannot serve metadata in SDK v0.4.0.
type metadataStore interface {
	GetDeploymentPluginMetadata(ctx context.Context, key string) (string, bool, error)
	PutDeploymentPluginMetadata(ctx context.Context, key, value string) error
	GetStageMetadata(ctx context.Context, key string) (string, bool, error)
	PutStageMetadata(ctx context.Context, key, value string) error
}

// syncRecord is what CLOUDRUN_SYNC remembers about one deploy target, for PROMOTE, ROLLBACK and CLEANUP.
// It is written once per deployment and target, before the first change, and never overwritten, so a
// re-run SYNC keeps the state from before the deployment; only Revision changes, when Cloud Run refuses
// the name (see renameRevision).
type syncRecord struct {
	// Service is the full resource name of the service.
	Service string `json:"service"`
	// Revision is the short name of the revision this deployment deploys. A re-run of SYNC applies this
	// name when it is another generation of the same template (see naming.RevisionNameAt).
	Revision string `json:"revision"`
	// Created is true when this deployment created the service (first deployment), or found it serving
	// nothing because it never had a ready revision: either way there is no earlier traffic to restore.
	Created bool `json:"created,omitempty"`
	// Traffic is the service's traffic block before the deployment, with every LATEST entry pinned to the
	// revision that was the latest ready one then: after the deployment LATEST would mean the new revision.
	Traffic []trafficEntry `json:"traffic,omitempty"`
	// PreviewTag is the tag given to the new revision, if any.
	PreviewTag string `json:"previewTag,omitempty"`
	// CommitLabel is the value of the commit label this deployment gives the service.
	CommitLabel string `json:"commitLabel,omitempty"`
	// Before is the service before the deployment (protojson, without its traffic, which is in Traffic):
	// ROLLBACK writes back its template (with its revision name), labels, annotations and other settings.
	// Records written by older plugin versions have none: then only the traffic is restored.
	Before json.RawMessage `json:"before,omitempty"`
	// Public is whether allUsers held roles/run.invoker on the service before the deployment, by region (the
	// deploy target's, and the others of a multi-region service); nil when access.public is not set (the
	// deployment leaves the IAM policy alone) or the deployment created the service.
	Public map[string]bool `json:"public,omitempty"`
}

// encodeService is the JSON form of svc kept in a syncRecord, without its traffic.
func encodeService(svc *runpb.Service) (json.RawMessage, error) {
	kept := cloneService(svc)
	kept.Traffic, kept.TrafficStatuses = nil, nil
	b, err := protojson.Marshal(kept)
	if err != nil {
		return nil, fmt.Errorf("failed to encode service %s for the deployment metadata: %w", naming.ShortName(svc.GetName()), err)
	}
	return b, nil
}

// before returns the service recorded before the deployment; found is false for older records.
func (r *syncRecord) before() (svc *runpb.Service, found bool, err error) {
	if len(r.Before) == 0 {
		return nil, false, nil
	}
	svc = &runpb.Service{}
	if err := protojson.Unmarshal(r.Before, svc); err != nil {
		return nil, false, fmt.Errorf("the service recorded before the deployment in the deployment metadata is not valid (%w); it was written by another plugin version", err)
	}
	return svc, true, nil
}

// trafficEntry is the JSON form of a runpb.TrafficTarget.
type trafficEntry struct {
	Latest   bool   `json:"latest,omitempty"`
	Revision string `json:"revision,omitempty"`
	Percent  int32  `json:"percent"`
	Tag      string `json:"tag,omitempty"`
}

func toEntries(traffic []*runpb.TrafficTarget) []trafficEntry {
	out := make([]trafficEntry, 0, len(traffic))
	for _, t := range traffic {
		out = append(out, trafficEntry{
			Latest:   t.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST,
			Revision: t.GetRevision(),
			Percent:  t.GetPercent(),
			Tag:      t.GetTag(),
		})
	}
	return out
}

func fromEntries(entries []trafficEntry) []*runpb.TrafficTarget {
	out := make([]*runpb.TrafficTarget, 0, len(entries))
	for _, e := range entries {
		t := &runpb.TrafficTarget{
			Type:     runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
			Revision: e.Revision,
			Percent:  e.Percent,
			Tag:      e.Tag,
		}
		if e.Latest {
			t.Type = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
			t.Revision = ""
		}
		out = append(out, t)
	}
	return out
}

// syncRecordKey is the deployment plugin metadata key of the record of one deploy target.
func syncRecordKey(target string) string {
	return "cloudrun.sync." + target
}

// loadSyncRecord returns the record of target; found is false when SYNC has not changed that target in
// this deployment.
func loadSyncRecord(ctx context.Context, store metadataStore, target string) (rec *syncRecord, found bool, err error) {
	return loadRecord[syncRecord](ctx, store, target, syncRecordKey(target))
}

// loadRecord returns the record of target stored under key; found is false when there is none.
func loadRecord[T any](ctx context.Context, store metadataStore, target, key string) (rec *T, found bool, err error) {
	value, found, err := store.GetDeploymentPluginMetadata(ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("failed to read the deployment metadata of deploy target %s: %w", target, err)
	}
	if !found || value == "" {
		return nil, false, nil
	}
	var r T
	if err := json.Unmarshal([]byte(value), &r); err != nil {
		return nil, false, fmt.Errorf("the deployment metadata %s is not a valid record (%w); it was written by another plugin version, run a new deployment", key, err)
	}
	return &r, true, nil
}

// saveSyncRecordOnce stores r unless a record already exists, and returns the record in effect.
func saveSyncRecordOnce(ctx context.Context, store metadataStore, target string, r *syncRecord) (*syncRecord, error) {
	return saveRecordOnce(ctx, store, target, syncRecordKey(target), r)
}

// saveRecordOnce stores r under key unless a record already exists, and returns the record in effect.
func saveRecordOnce[T any](ctx context.Context, store metadataStore, target, key string, r *T) (*T, error) {
	existing, found, err := loadRecord[T](ctx, store, target, key)
	if err != nil || found {
		return existing, err
	}
	return r, putRecord(ctx, store, target, key, r)
}

// putSyncRecord stores r, replacing any record of target. Only saveSyncRecordOnce and renameRevision,
// which changes nothing but the revision name, call it.
func putSyncRecord(ctx context.Context, store metadataStore, target string, r *syncRecord) error {
	return putRecord(ctx, store, target, syncRecordKey(target), r)
}

func putRecord(ctx context.Context, store metadataStore, target, key string, r any) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("failed to encode the deployment metadata: %w", err)
	}
	if err := store.PutDeploymentPluginMetadata(ctx, key, string(b)); err != nil {
		return fmt.Errorf("failed to save the deployment metadata of deploy target %s: %w", target, err)
	}
	return nil
}
