package knative

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/run/apiv2/runpb"
	runv1 "google.golang.org/api/run/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Backend is the v2 API the v1 API is a view of.
type Backend struct {
	Services    runpb.ServicesServer
	Revisions   runpb.RevisionsServer
	Jobs        runpb.JobsServer
	Executions  runpb.ExecutionsServer
	Tasks       runpb.TasksServer
	WorkerPools runpb.WorkerPoolsServer
}

// APIHost is the host of Cloud Run's global endpoint; regional endpoints are {region}-APIHost.
const APIHost = "run.googleapis.com"

// ResourceManagerHost is Cloud Resource Manager's host, whose projects.get gcloud calls to learn a
// project's number (gcloud run services replace does, for a file that names its namespace).
const ResourceManagerHost = "cloudresourcemanager.googleapis.com"

// Serves reports whether a request for host (lower case, without port or trailing dot) and path belongs
// to the v1 API: any path of a regional host, /v1/ paths and the worker pool list of the global host,
// and Cloud Resource Manager's /v1/projects/{id}.
func Serves(host, path string) bool {
	if host == APIHost {
		return strings.HasPrefix(path, "/v1/") || (strings.HasPrefix(path, "/apis/run.googleapis.com/v1/namespaces/") && strings.HasSuffix(path, "/workerpools"))
	}
	if host == ResourceManagerHost {
		return strings.HasPrefix(path, "/v1/")
	}
	return regionOf(host) != ""
}

// regionOf is the region of a regional host ({region}-run.googleapis.com), or "".
func regionOf(host string) string {
	region, ok := strings.CutSuffix(host, "-"+APIHost)
	if !ok || strings.Contains(region, ".") {
		return ""
	}
	return region
}

// Handler serves the v1 API for requests Serves accepts.
type Handler struct {
	b Backend
}

// NewHandler returns the v1 API over b.
func NewHandler(b Backend) *Handler { return &Handler{b: b} }

// Serves reports whether a request for host (lower case, without port or trailing dot) and path belongs
// to the v1 API; see the function Serves.
func (h *Handler) Serves(host, path string) bool { return Serves(host, path) }

// ServeHTTP dispatches on the host's region and the path:
//
//	/apis/serving.knative.dev/v1/namespaces/{ns}/{services|revisions|routes|configurations}[/{name}]
//	/apis/run.googleapis.com/v1/namespaces/{ns}/{jobs|executions|tasks|workerpools}[/{name}]
//	/v1/projects/{p}/locations
//	/v1/projects/{p}/locations/{l}/services[/{s}]
//	/v1/projects/{p}/locations/{l}/services/{s}:{getIamPolicy|setIamPolicy|testIamPermissions}
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := strings.TrimSuffix(strings.ToLower(r.Host), ".")
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	var resp any
	var err error
	if host == ResourceManagerHost {
		resp, err = getProject(r)
	} else {
		resp, err = h.serve(r, regionOf(host))
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if m, ok := resp.(proto.Message); ok {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
		if err != nil {
			writeError(w, err)
			return
		}
		_, _ = w.Write(append(b, '\n'))
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(resp)
}

func (h *Handler) serve(r *http.Request, region string) (any, error) {
	ctx := r.Context()
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(segs) >= 6 && segs[0] == "apis" && segs[1] == "serving.knative.dev" && segs[2] == "v1" && segs[3] == "namespaces":
		if region == "" {
			return nil, badRequest("host", "the Knative API is served on regional endpoints ({region}-run.googleapis.com); %s is not one", r.Host)
		}
		ns, kind := segs[4], segs[5]
		var name string
		if len(segs) == 7 {
			name = segs[6]
		} else if len(segs) > 7 {
			return nil, notFoundPath(r.URL.Path)
		}
		return h.serveServing(ctx, r, region, ns, kind, name)
	case len(segs) >= 6 && segs[0] == "apis" && segs[1] == "run.googleapis.com" && segs[2] == "v1" && segs[3] == "namespaces":
		if len(segs) > 7 {
			return nil, notFoundPath(r.URL.Path)
		}
		var name string
		if len(segs) == 7 {
			name = segs[6]
		}
		switch {
		case segs[5] == "workerpools" && h.b.WorkerPools != nil && (region != "" || len(segs) == 6):
			return h.serveWorkerPools(ctx, region, segs[4], name, r.Method)
		case region == "":
			return nil, notFoundPath(r.URL.Path)
		}
		return h.serveJobs(ctx, r, region, segs[4], segs[5], name)
	case len(segs) == 4 && segs[0] == "v1" && segs[1] == "projects" && segs[3] == "locations" && r.Method == http.MethodGet:
		return listLocations(segs[2]), nil
	case len(segs) == 6 && segs[0] == "v1" && segs[1] == "projects" && segs[3] == "locations" && segs[5] == "services" && r.Method == http.MethodGet:
		return h.listServicesAcross(ctx, segs[2], segs[4])
	case len(segs) == 7 && segs[0] == "v1" && segs[1] == "projects" && segs[3] == "locations" && segs[5] == "services":
		name := fmt.Sprintf("projects/%s/locations/%s/services/", segs[2], segs[4])
		id, method, custom := strings.Cut(segs[6], ":")
		if !custom && r.Method == http.MethodGet {
			return h.getService(ctx, name+id)
		}
		return h.serveIAM(ctx, r, name+id, method)
	}
	return nil, notFoundPath(r.URL.Path)
}

func (h *Handler) serveServing(ctx context.Context, r *http.Request, region, ns, kind, name string) (any, error) {
	parent := fmt.Sprintf("projects/%s/locations/%s", ns, region)
	switch {
	case kind == "services" && name == "" && r.Method == http.MethodGet:
		return h.listServices(ctx, parent)
	case kind == "services" && name == "" && r.Method == http.MethodPost:
		return h.createService(ctx, r, parent, ns)
	case kind == "services" && r.Method == http.MethodGet:
		return h.getService(ctx, parent+"/services/"+name)
	case kind == "services" && r.Method == http.MethodPut:
		return h.replaceService(ctx, r, parent+"/services/"+name, name, ns)
	case kind == "services" && r.Method == http.MethodDelete:
		return h.deleteService(ctx, parent+"/services/"+name)
	case kind == "revisions" && name == "" && r.Method == http.MethodGet:
		return h.listRevisions(ctx, parent, r.URL.Query().Get("labelSelector"))
	case kind == "revisions" && r.Method == http.MethodGet:
		return h.getRevision(ctx, parent, name)
	case kind == "revisions" && r.Method == http.MethodDelete:
		return h.deleteRevision(ctx, parent, name)
	case (kind == "routes" || kind == "configurations") && r.Method == http.MethodGet:
		return h.serveDerived(ctx, parent, kind, name)
	}
	return nil, notFoundPath(r.URL.Path)
}

// decode reads a JSON body into v, refusing fields the v1 API does not have.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return badRequest("body", "%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("body", "the request is not a valid v1 resource: %v", err)
	}
	return nil
}

func listLocations(project string) *runv1.ListLocationsResponse {
	out := &runv1.ListLocationsResponse{}
	for _, r := range regions {
		out.Locations = append(out.Locations, &runv1.Location{
			Name: fmt.Sprintf("projects/%s/locations/%s", project, r), LocationId: r, DisplayName: r,
			Labels: map[string]string{"cloud.googleapis.com/region": r},
		})
	}
	return out
}

// serveIAM answers a service's IAM methods through v2's.
func (h *Handler) serveIAM(ctx context.Context, r *http.Request, resource, method string) (any, error) {
	switch {
	case method == "getIamPolicy" && r.Method == http.MethodGet:
		return h.b.Services.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: resource})
	case method == "setIamPolicy" && r.Method == http.MethodPost:
		req := &iampb.SetIamPolicyRequest{}
		if err := decodeProto(r, req); err != nil {
			return nil, err
		}
		req.Resource = resource
		return h.b.Services.SetIamPolicy(ctx, req)
	case method == "testIamPermissions" && r.Method == http.MethodPost:
		req := &iampb.TestIamPermissionsRequest{}
		if err := decodeProto(r, req); err != nil {
			return nil, err
		}
		req.Resource = resource
		return h.b.Services.TestIamPermissions(ctx, req)
	}
	return nil, notFoundPath(r.URL.Path)
}

func decodeProto(r *http.Request, m proto.Message) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return badRequest("body", "%v", err)
	}
	if err := protojson.Unmarshal(body, m); err != nil {
		return badRequest("body", "%v", err)
	}
	return nil
}
