package fakerun

import (
	"fmt"
	"regexp"
	"strings"
)

// serviceIDPattern is the rule for service ids documented in the v2 protos:
// lowercase letters, digits and hyphens, starting with a letter, not ending
// with a hyphen, fewer than 50 characters.
var serviceIDPattern = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)

// dnsLabelPattern is the rule for revision names and traffic tags.
var dnsLabelPattern = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// locationName returns projects/{project}/locations/{location}.
func locationName(project, location string) string {
	return "projects/" + project + "/locations/" + location
}

// revisionName returns {serviceName}/revisions/{revision}: the full resource
// name of a service's revision from its short name.
func revisionName(serviceName, revision string) string {
	return serviceName + "/revisions/" + revision
}

// parseLocation splits "projects/{p}/locations/{l}".
func parseLocation(field, name string) (project, location string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "locations" || parts[1] == "" || parts[3] == "" {
		return "", "", invalidArgument(field, fmt.Sprintf("%q is not a location name of the form projects/{project}/locations/{location}", name))
	}
	return parts[1], parts[3], nil
}

// parseServiceName splits "projects/{p}/locations/{l}/services/{s}".
func parseServiceName(field, name string) (project, location, id string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "services" ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return "", "", "", invalidArgument(field, fmt.Sprintf("%q is not a service name of the form projects/{project}/locations/{location}/services/{service}", name))
	}
	return parts[1], parts[3], parts[5], nil
}

// parseRevisionName splits ".../services/{s}/revisions/{r}" into the full
// service name and the short revision name.
func parseRevisionName(field, name string) (serviceName, revision string, err error) {
	i := strings.LastIndex(name, "/revisions/")
	if i < 0 {
		return "", "", invalidArgument(field, fmt.Sprintf("%q is not a revision name of the form projects/{project}/locations/{location}/services/{service}/revisions/{revision}", name))
	}
	serviceName, revision = name[:i], name[i+len("/revisions/"):]
	if _, _, _, err := parseServiceName(field, serviceName); err != nil || revision == "" || strings.Contains(revision, "/") {
		return "", "", invalidArgument(field, fmt.Sprintf("%q is not a revision name of the form projects/{project}/locations/{location}/services/{service}/revisions/{revision}", name))
	}
	return serviceName, revision, nil
}

// parseOperationName checks "projects/{p}/locations/{l}/operations/{id}" and
// returns the location part.
func parseOperationName(field, name string) (location string, err error) {
	i := strings.LastIndex(name, "/operations/")
	if i < 0 || strings.Contains(name[i+len("/operations/"):], "/") || name[i+len("/operations/"):] == "" {
		return "", invalidArgument(field, fmt.Sprintf("%q is not an operation name of the form projects/{project}/locations/{location}/operations/{operation}", name))
	}
	if _, _, err := parseLocation(field, name[:i]); err != nil {
		return "", err
	}
	return name[:i], nil
}

// shortName returns the last path segment of a resource name.
func shortName(name string) string {
	return name[strings.LastIndexByte(name, '/')+1:]
}
