package knative

import (
	"context"
	"fmt"
	"net/http"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/googleapi"
	runv1 "google.golang.org/api/run/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func (h *Handler) getService(ctx context.Context, name string) (*runv1.Service, error) {
	svc, err := h.b.Services.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return toV1Service(svc), nil
}

func (h *Handler) listServices(ctx context.Context, parent string) (*runv1.ListServicesResponse, error) {
	out := &runv1.ListServicesResponse{ApiVersion: servingAPIVersion, Kind: "ServiceList", Metadata: &runv1.ListMeta{}, Items: []*runv1.Service{}}
	token := ""
	for {
		resp, err := h.b.Services.ListServices(ctx, &runpb.ListServicesRequest{Parent: parent, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, s := range resp.GetServices() {
			out.Items = append(out.Items, toV1Service(s))
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// listServicesAcross is projects.locations.services.list, which `gcloud run services list` calls
// without a region: location "-" reads every region of the list.
func (h *Handler) listServicesAcross(ctx context.Context, project, location string) (*runv1.ListServicesResponse, error) {
	locs := []string{location}
	if location == "-" {
		locs = regions
	}
	out := &runv1.ListServicesResponse{ApiVersion: servingAPIVersion, Kind: "ServiceList", Metadata: &runv1.ListMeta{}, Items: []*runv1.Service{}}
	for _, l := range locs {
		resp, err := h.listServices(ctx, fmt.Sprintf("projects/%s/locations/%s", project, l))
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, resp.Items...)
	}
	return out, nil
}

// createService is namespaces.services.create: the v2 CreateService, answered with the service as it
// is at once (gcloud then polls it until Ready).
func (h *Handler) createService(ctx context.Context, r *http.Request, parent, ns string) (*runv1.Service, error) {
	in := &runv1.Service{}
	if err := decode(r, in); err != nil {
		return nil, err
	}
	if err := checkNamespace(in.Metadata, ns); err != nil {
		return nil, err
	}
	svc, err := fromV1Service(in, &runpb.Service{})
	if err != nil {
		return nil, err
	}
	if _, err := h.b.Services.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: in.Metadata.Name, Service: svc}); err != nil {
		return nil, err
	}
	return h.getService(ctx, parent+"/services/"+in.Metadata.Name)
}

// replaceService is namespaces.services.replaceService: the v1 fields replace the stored service's, the
// fields v1 cannot express are kept. A resourceVersion other than the stored one is a conflict, as
// Kubernetes' optimistic concurrency has it.
func (h *Handler) replaceService(ctx context.Context, r *http.Request, name, id, ns string) (*runv1.Service, error) {
	in := &runv1.Service{}
	if err := decode(r, in); err != nil {
		return nil, err
	}
	if err := checkNamespace(in.Metadata, ns); err != nil {
		return nil, err
	}
	if in.Metadata != nil && in.Metadata.Name != "" && in.Metadata.Name != id {
		return nil, badRequest("metadata.name", "%q does not match the service %q of the URL", in.Metadata.Name, id)
	}
	current, err := h.b.Services.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		return nil, err
	}
	if rv := in.Metadata.ResourceVersion; rv != "" && `"`+rv+`"` != current.GetEtag() && rv != current.GetEtag() {
		return nil, status.Errorf(codes.Aborted, "Conflict for resource '%s': version '%s' was specified but current version is '%s'.", id, rv, current.GetEtag())
	}
	svc, err := fromV1Service(in, current)
	if err != nil {
		return nil, err
	}
	if err := h.checkTrafficRevisions(ctx, name, svc); err != nil {
		return nil, err
	}
	if _, err := h.b.Services.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc}); err != nil {
		return nil, err
	}
	return h.getService(ctx, name)
}

// checkTrafficRevisions refuses traffic to a revision that does not exist before anything is written,
// so that the service stays exactly as it was (v2 would store the traffic and fail the rollout).
// A revision the same request creates (template.metadata.name) may be named.
func (h *Handler) checkTrafficRevisions(ctx context.Context, name string, svc *runpb.Service) error {
	for i, t := range svc.GetTraffic() {
		rev := t.GetRevision()
		if rev == "" || rev == svc.GetTemplate().GetRevision() {
			continue
		}
		_, err := h.b.Revisions.GetRevision(ctx, &runpb.GetRevisionRequest{Name: name + "/revisions/" + rev})
		if status.Code(err) == codes.NotFound {
			return badRequest(fmt.Sprintf("spec.traffic[%d].revisionName", i), "Revision '%s' does not exist or is deleted. Update all traffic to route to currently available revisions.", rev)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteService is namespaces.services.delete, answered with a Kubernetes Status.
func (h *Handler) deleteService(ctx context.Context, name string) (*runv1.Status, error) {
	svc, err := h.b.Services.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		return nil, err
	}
	if _, err := h.b.Services.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: name}); err != nil {
		return nil, err
	}
	return &runv1.Status{Status: "Success", Details: &runv1.StatusDetails{Name: parseName(name).id, Kind: "services", Uid: svc.GetUid()}}, nil
}

func checkNamespace(meta *runv1.ObjectMeta, ns string) error {
	if meta == nil {
		return badRequest("metadata", "a resource needs metadata with its name")
	}
	if meta.Namespace != "" && meta.Namespace != ns {
		return &googleapi.Error{Code: 400, Message: fmt.Sprintf("Invalid value for field 'metadata.namespace': %q does not match the namespace %q of the URL.", meta.Namespace, ns)}
	}
	return nil
}
