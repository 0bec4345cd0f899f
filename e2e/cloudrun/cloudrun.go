// Package cloudrun reads a Cloud Run service and its revisions through the real Admin API v2 client, and
// renders what it serves with the plugin's traffic table, for the demo.
package cloudrun

import (
	"context"
	"errors"
	"slices"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// Reader reads services and revisions from a Cloud Run endpoint such as fakerun.
type Reader struct {
	services  *run.ServicesClient
	revisions *run.RevisionsClient
}

// NewReader connects to the Cloud Run Admin API v2 with opts (e.g. target.Target.ClientOptions).
func NewReader(ctx context.Context, opts ...option.ClientOption) (*Reader, error) {
	services, err := run.NewServicesClient(ctx, opts...)
	if err != nil {
		return nil, err
	}
	revisions, err := run.NewRevisionsClient(ctx, opts...)
	if err != nil {
		_ = services.Close()
		return nil, err
	}
	return &Reader{services: services, revisions: revisions}, nil
}

// Close closes the clients.
func (r *Reader) Close() error {
	return errors.Join(r.revisions.Close(), r.services.Close())
}

// Service returns the service with the given full resource name.
func (r *Reader) Service(ctx context.Context, name string) (*runpb.Service, error) {
	return r.services.GetService(ctx, &runpb.GetServiceRequest{Name: name})
}

// Revisions lists the revisions of the service with the given full resource name, oldest first.
func (r *Reader) Revisions(ctx context.Context, service string) ([]*runpb.Revision, error) {
	it := r.revisions.ListRevisions(ctx, &runpb.ListRevisionsRequest{Parent: service})
	var out []*runpb.Revision
	for {
		rev, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rev)
	}
	slices.SortFunc(out, func(a, b *runpb.Revision) int { return a.GetCreateTime().AsTime().Compare(b.GetCreateTime().AsTime()) })
	return out, nil
}

// TrafficTable renders what the service serves (its traffic statuses) with the plugin's own table
// (traffic.Table, as the stage logs show a traffic block): one row per revision and tag, with a bar.
func TrafficTable(svc *runpb.Service) string {
	statuses := svc.GetTrafficStatuses()
	if len(statuses) == 0 {
		return "(no traffic)\n"
	}
	targets := make([]*runpb.TrafficTarget, 0, len(statuses))
	for _, t := range statuses {
		targets = append(targets, &runpb.TrafficTarget{Type: t.GetType(), Revision: t.GetRevision(), Percent: t.GetPercent(), Tag: t.GetTag()})
	}
	return traffic.Table(targets)
}
