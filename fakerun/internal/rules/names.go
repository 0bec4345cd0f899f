package rules

import (
	"fmt"
	"regexp"
	"strings"
)

// ServiceIDPattern is the rule for service ids documented in the v2 protos:
// lowercase letters, digits and hyphens, starting with a letter, not ending
// with a hyphen, fewer than 50 characters.
var ServiceIDPattern = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)

// DnsLabelPattern is the rule for revision names and traffic tags.
var DnsLabelPattern = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// locationName returns projects/{project}/locations/{location}.
func LocationName(project, location string) string {
	return "projects/" + project + "/locations/" + location
}

// revisionName returns {serviceName}/revisions/{revision}: the full resource
// name of a service's revision from its short name.
func RevisionName(serviceName, revision string) string {
	return serviceName + "/revisions/" + revision
}

// AppendRevisionName appends RevisionName(serviceName, revision) to dst, for lookups that build the
// name in a stack buffer.
func AppendRevisionName(dst []byte, serviceName, revision string) []byte {
	return append(append(append(dst, serviceName...), "/revisions/"...), revision...)
}

// parseLocation splits "projects/{p}/locations/{l}".
func ParseLocation(field, name string) (project, location string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "locations" || parts[1] == "" || parts[3] == "" {
		return "", "", InvalidArgument(field, fmt.Sprintf("%q is not a location name of the form projects/{project}/locations/{location}", name))
	}
	return parts[1], parts[3], nil
}

// ParseConcreteLocation is ParseLocation for a request that needs one location: it refuses the '-'
// wildcard, which only reads across locations allow.
func ParseConcreteLocation(field, name string) (project, location string, err error) {
	project, location, err = ParseLocation(field, name)
	if err == nil && location == "-" {
		return "", "", InvalidArgument(field, "the location must not be the '-' wildcard")
	}
	return project, location, err
}

// parseServiceName splits "projects/{p}/locations/{l}/services/{s}".
func ParseServiceName(field, name string) (project, location, id string, err error) {
	var parts [6]string // split without allocating: every RPC on a service parses its name
	rest, n := name, 0
	for ; n < len(parts); n++ {
		var more bool
		if parts[n], rest, more = strings.Cut(rest, "/"); !more {
			break
		}
	}
	if n != 5 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "services" ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return "", "", "", InvalidArgument(field, fmt.Sprintf("%q is not a service name of the form projects/{project}/locations/{location}/services/{service}", name))
	}
	return parts[1], parts[3], parts[5], nil
}

// parseRevisionName splits ".../services/{s}/revisions/{r}" into the full
// service name and the short revision name.
func ParseRevisionName(field, name string) (serviceName, revision string, err error) {
	i := strings.LastIndex(name, "/revisions/")
	if i < 0 {
		return "", "", InvalidArgument(field, fmt.Sprintf("%q is not a revision name of the form projects/{project}/locations/{location}/services/{service}/revisions/{revision}", name))
	}
	serviceName, revision = name[:i], name[i+len("/revisions/"):]
	if _, _, _, err := ParseServiceName(field, serviceName); err != nil || revision == "" || strings.Contains(revision, "/") {
		return "", "", InvalidArgument(field, fmt.Sprintf("%q is not a revision name of the form projects/{project}/locations/{location}/services/{service}/revisions/{revision}", name))
	}
	return serviceName, revision, nil
}

// parseOperationName checks "projects/{p}/locations/{l}/operations/{id}" and
// returns the location part.
func ParseOperationName(field, name string) (location string, err error) {
	i := strings.LastIndex(name, "/operations/")
	if i < 0 || strings.Contains(name[i+len("/operations/"):], "/") || name[i+len("/operations/"):] == "" {
		return "", InvalidArgument(field, fmt.Sprintf("%q is not an operation name of the form projects/{project}/locations/{location}/operations/{operation}", name))
	}
	if _, _, err := ParseLocation(field, name[:i]); err != nil {
		return "", err
	}
	return name[:i], nil
}

// shortName returns the last path segment of a resource name.
func ShortName(name string) string {
	return name[strings.LastIndexByte(name, '/')+1:]
}
