package knative

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	runv1 "google.golang.org/api/run/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// selector is a parsed Kubernetes label selector: requirements `key = value`, `key == value`,
// `key != value`, `key` and `!key`, joined by commas.
type selector []requirement

type requirement struct {
	key, value string
	op         string // "=", "!=", "exists", "!exists"
}

func parseSelector(s string) (selector, error) {
	var out selector
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		switch {
		case strings.Contains(part, "!="):
			k, v, _ := strings.Cut(part, "!=")
			out = append(out, requirement{strings.TrimSpace(k), strings.TrimSpace(v), "!="})
		case strings.Contains(part, "="):
			k, v, _ := strings.Cut(part, "=")
			out = append(out, requirement{strings.TrimSpace(k), strings.TrimSpace(strings.TrimPrefix(v, "=")), "="})
		case strings.HasPrefix(part, "!"):
			out = append(out, requirement{key: strings.TrimSpace(part[1:]), op: "!exists"})
		case part != "" && !strings.ContainsAny(part, " ()"):
			out = append(out, requirement{key: part, op: "exists"})
		default:
			return nil, badRequest("labelSelector", "%q is not a label requirement (key = value, key != value, key, !key)", part)
		}
	}
	return out, nil
}

func (s selector) matches(labels map[string]string) bool {
	for _, r := range s {
		v, ok := labels[r.key]
		switch r.op {
		case "=":
			if !ok || v != r.value {
				return false
			}
		case "!=":
			if ok && v == r.value {
				return false
			}
		case "exists":
			if !ok {
				return false
			}
		case "!exists":
			if ok {
				return false
			}
		}
	}
	return true
}

// value is the value an equality requirement of the selector gives key, or "".
func (s selector) value(key string) string {
	for _, r := range s {
		if r.key == key && r.op == "=" {
			return r.value
		}
	}
	return ""
}

// listRevisions is namespaces.revisions.list: the revisions of the service the selector names (every
// service's otherwise), newest first, filtered by the selector on their v1 labels.
func (h *Handler) listRevisions(ctx context.Context, parent, labelSelector string) (*runv1.ListRevisionsResponse, error) {
	sel, err := parseSelector(labelSelector)
	if err != nil {
		return nil, err
	}
	svcID := sel.value(labelService)
	if svcID == "" {
		svcID = "-"
	}
	serving, err := h.servingRevisions(ctx, parent, svcID)
	if err != nil {
		return nil, err
	}
	out := &runv1.ListRevisionsResponse{ApiVersion: servingAPIVersion, Kind: "RevisionList", Metadata: &runv1.ListMeta{}, Items: []*runv1.Revision{}}
	token := ""
	for {
		resp, err := h.b.Revisions.ListRevisions(ctx, &runpb.ListRevisionsRequest{Parent: parent + "/services/" + svcID, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, rev := range resp.GetRevisions() {
			v1 := toV1Revision(rev, serving[rev.GetName()])
			if sel.matches(v1.Metadata.Labels) {
				out.Items = append(out.Items, v1)
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// servingRevisions are the full names of the revisions that receive traffic or a tag in the services of
// parent (svcID, or every one for "-").
func (h *Handler) servingRevisions(ctx context.Context, parent, svcID string) (map[string]bool, error) {
	var svcs []*runpb.Service
	if svcID == "-" {
		token := ""
		for {
			resp, err := h.b.Services.ListServices(ctx, &runpb.ListServicesRequest{Parent: parent, PageToken: token})
			if err != nil {
				return nil, err
			}
			svcs = append(svcs, resp.GetServices()...)
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
	} else {
		svc, err := h.b.Services.GetService(ctx, &runpb.GetServiceRequest{Name: parent + "/services/" + svcID})
		if err != nil {
			return map[string]bool{}, nil //nolint:nilerr // an unknown service has no revisions to list; ListRevisions answers
		}
		svcs = append(svcs, svc)
	}
	out := map[string]bool{}
	for _, svc := range svcs {
		for _, t := range svc.GetTrafficStatuses() {
			if t.GetPercent() == 0 && t.GetTag() == "" {
				continue
			}
			rev := t.GetRevision()
			if rev == "" {
				rev = short(svc.GetLatestReadyRevision())
			}
			out[fmt.Sprintf("%s/services/%s/revisions/%s", parent, parseName(svc.GetName()).id, rev)] = true
		}
	}
	return out, nil
}

// revisionName finds the full name of a revision given by its short name: v1 names revisions by
// namespace alone, v2 under their service.
func (h *Handler) revisionName(ctx context.Context, parent, name string) (string, error) {
	token := ""
	for {
		resp, err := h.b.Revisions.ListRevisions(ctx, &runpb.ListRevisionsRequest{Parent: parent + "/services/-", PageToken: token})
		if err != nil {
			return "", err
		}
		for _, rev := range resp.GetRevisions() {
			if short(rev.GetName()) == name {
				return rev.GetName(), nil
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			n := parseName(parent + "/revisions/" + name)
			return "", status.Errorf(codes.NotFound, "Resource '%s' of kind 'REVISION' in region '%s' in project '%s' does not exist.", name, n.region, n.project)
		}
	}
}

func (h *Handler) getRevision(ctx context.Context, parent, name string) (*runv1.Revision, error) {
	full, err := h.revisionName(ctx, parent, name)
	if err != nil {
		return nil, err
	}
	rev, err := h.b.Revisions.GetRevision(ctx, &runpb.GetRevisionRequest{Name: full})
	if err != nil {
		return nil, err
	}
	serving, err := h.servingRevisions(ctx, parent, parseName(rev.GetService()).id)
	if err != nil {
		return nil, err
	}
	return toV1Revision(rev, serving[full]), nil
}

func (h *Handler) deleteRevision(ctx context.Context, parent, name string) (*runv1.Status, error) {
	full, err := h.revisionName(ctx, parent, name)
	if err != nil {
		return nil, err
	}
	rev, err := h.b.Revisions.GetRevision(ctx, &runpb.GetRevisionRequest{Name: full})
	if err != nil {
		return nil, err
	}
	if _, err := h.b.Revisions.DeleteRevision(ctx, &runpb.DeleteRevisionRequest{Name: full}); err != nil {
		return nil, err
	}
	return &runv1.Status{Status: "Success", Details: &runv1.StatusDetails{Name: name, Kind: "revisions", Uid: rev.GetUid()}}, nil
}

// serveDerived answers routes and configurations, which v1 derives from a service of the same name.
func (h *Handler) serveDerived(ctx context.Context, parent, kind, name string) (any, error) {
	view := func(s *runv1.Service) any {
		if kind == "routes" {
			return routeOf(s)
		}
		return configurationOf(s)
	}
	if name != "" {
		svc, err := h.getService(ctx, parent+"/services/"+name)
		if err != nil {
			return nil, err
		}
		return view(svc), nil
	}
	list, err := h.listServices(ctx, parent)
	if err != nil {
		return nil, err
	}
	if kind == "routes" {
		out := &runv1.ListRoutesResponse{ApiVersion: servingAPIVersion, Kind: "RouteList", Metadata: &runv1.ListMeta{}, Items: []*runv1.Route{}}
		for _, s := range list.Items {
			out.Items = append(out.Items, routeOf(s))
		}
		return out, nil
	}
	out := &runv1.ListConfigurationsResponse{ApiVersion: servingAPIVersion, Kind: "ConfigurationList", Metadata: &runv1.ListMeta{}, Items: []*runv1.Configuration{}}
	for _, s := range list.Items {
		out.Items = append(out.Items, configurationOf(s))
	}
	return out, nil
}
