package provider

import (
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
)

// ServiceName returns the full resource name projects/{project}/locations/{region}/services/{id}.
func ServiceName(project, region, id string) string {
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", project, region, id)
}

// RevisionName returns the full resource name of the revision rev (a short name) of service (a full name).
func RevisionName(service, rev string) string {
	return service + "/revisions/" + rev
}

// ShortName returns the last segment of a resource name: the service id or the revision name.
func ShortName(name string) string {
	return name[strings.LastIndex(name, "/")+1:]
}

// splitServiceName splits projects/p/locations/l/services/s into its parent and id.
func splitServiceName(name string) (parent, id string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "services" ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return "", "", fmt.Errorf("service name %q is not of the form projects/{project}/locations/{region}/services/{id}", name)
	}
	return strings.Join(parts[:4], "/"), parts[5], nil
}

// withoutName returns a copy of svc with an empty name, as CreateService requires.
func withoutName(svc *runpb.Service) *runpb.Service {
	c := proto.Clone(svc).(*runpb.Service)
	c.Name = ""
	return c
}
