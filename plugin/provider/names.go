package provider

import (
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
)

// splitServiceName splits projects/p/locations/l/services/s into its parent and id.
func splitServiceName(name string) (parent, id string, err error) {
	return splitName(name, "service", "services")
}

// splitName splits the full name of a resource of kind in collection, such as
// projects/{project}/locations/{region}/jobs/{id}, into its parent and ID.
func splitName(name, kind, collection string) (parent, id string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != collection ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return "", "", fmt.Errorf("%s name %q is not of the form projects/{project}/locations/{region}/%s/{id}", kind, name, collection)
	}
	return strings.Join(parts[:4], "/"), parts[5], nil
}

// withoutName returns a copy of svc with an empty name, as CreateService requires.
func withoutName(svc *runpb.Service) *runpb.Service {
	c := proto.Clone(svc).(*runpb.Service)
	c.Name = ""
	return c
}

// ownerKind names what owns the revisions under name: "worker pool" for projects/…/workerPools/…, else
// "service".
func ownerKind(name string) string {
	if strings.Contains(name, "/workerPools/") {
		return "worker pool"
	}
	return "service"
}
