package rules

import (
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// invalidArgument is an INVALID_ARGUMENT status carrying a
// google.rpc.BadRequest field violation, as Cloud Run reports bad input.
func InvalidArgument(field, description string) error {
	st := status.New(codes.InvalidArgument, fmt.Sprintf("Invalid value for field '%s': %s", field, description))
	detailed, err := st.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: description}},
	})
	if err != nil {
		return st.Err()
	}
	return detailed.Err()
}

// notFound is Cloud Run's NOT_FOUND wording for a missing resource of the
// given kind ("SERVICE", "REVISION", "OPERATION") in a location name.
func NotFound(kind, id, location string) error {
	project, region, err := ParseLocation("name", location)
	if err != nil {
		return status.Errorf(codes.NotFound, "Resource '%s' of kind '%s' does not exist.", id, kind)
	}
	return status.Errorf(codes.NotFound, "Resource '%s' of kind '%s' in region '%s' in project '%s' does not exist.", id, kind, region, project)
}

// serviceNotFound reports a missing service by its full name.
func ServiceNotFound(name string) error {
	project, location, id, err := ParseServiceName("name", name)
	if err != nil {
		return err
	}
	return NotFound("SERVICE", id, LocationName(project, location))
}
