// Package cloudrun reads a Cloud Run service and its revisions through the real Admin API v2 client, and
// renders its traffic split, for the demo and for specs that talk to an external fakerun.
package cloudrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Reader reads services and revisions from an insecure Cloud Run endpoint such as fakerun.
type Reader struct {
	services  *run.ServicesClient
	revisions *run.RevisionsClient
}

// NewReader connects to the Cloud Run Admin API v2 at endpoint (host:port) without TLS or credentials.
func NewReader(ctx context.Context, endpoint string) (*Reader, error) {
	opts := []option.ClientOption{
		option.WithEndpoint(endpoint),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
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

// ServiceName returns the full resource name of a service.
func ServiceName(project, region, service string) string {
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", project, region, service)
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

// ShortName returns the last segment of a resource name.
func ShortName(name string) string { return name[strings.LastIndex(name, "/")+1:] }

// TrafficBars renders the service's traffic status as one bar per revision, with tags listed after the bar.
// width is the length of a 100% bar.
func TrafficBars(svc *runpb.Service, width int) string {
	type row struct {
		revision string
		percent  int32
		tags     []string
	}
	var rows []*row
	find := func(rev string) *row {
		for _, r := range rows {
			if r.revision == rev {
				return r
			}
		}
		r := &row{revision: rev}
		rows = append(rows, r)
		return r
	}
	for _, t := range svc.GetTrafficStatuses() {
		rev := t.GetRevision()
		if rev == "" {
			rev = "LATEST"
		}
		r := find(rev)
		r.percent += t.GetPercent()
		if t.GetTag() != "" {
			r.tags = append(r.tags, t.GetTag())
		}
	}
	nameWidth := 0
	for _, r := range rows {
		nameWidth = max(nameWidth, len(r.revision))
	}
	var b strings.Builder
	for _, r := range rows {
		filled := int(r.percent) * width / 100
		fmt.Fprintf(&b, "%-*s %s%s %3d%%", nameWidth, r.revision, strings.Repeat("█", filled), strings.Repeat("░", width-filled), r.percent)
		if len(r.tags) > 0 {
			fmt.Fprintf(&b, "  tag: %s", strings.Join(r.tags, ", "))
		}
		b.WriteByte('\n')
	}
	if len(rows) == 0 {
		b.WriteString("(no traffic)\n")
	}
	return b.String()
}
