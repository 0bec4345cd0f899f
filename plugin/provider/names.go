package provider

import (
	"fmt"
	"strings"
)

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

// ownerKind names what owns the revisions under name: "worker pool" for projects/…/workerPools/…, else
// "service".
func ownerKind(name string) string {
	if strings.Contains(name, "/workerPools/") {
		return "worker pool"
	}
	return "service"
}
