package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestParseConcreteLocation(t *testing.T) {
	t.Parallel()
	project, location, err := ParseConcreteLocation("parent", "projects/p/locations/us-central1")
	require.NoError(t, err)
	assert.Equal(t, []string{"p", "us-central1"}, []string{project, location})

	for name, tc := range map[string]struct{ name, want string }{
		"wildcard":  {"projects/p/locations/-", "Invalid value for field 'parent': the location must not be the '-' wildcard"},
		"malformed": {"projects/p", `Invalid value for field 'parent': "projects/p" is not a location name of the form projects/{project}/locations/{location}`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			project, location, err := ParseConcreteLocation("parent", tc.name)
			assert.Equal(t, codes.InvalidArgument, status.Code(err))
			assert.Equal(t, tc.want, status.Convert(err).Message())
			assert.Empty(t, project+location)
		})
	}
}
