package manifest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseImage(t *testing.T) {
	t.Parallel()
	sha := "sha256:" + strings.Repeat("ab", 32)
	testcases := []struct {
		name        string
		ref         string
		want        Image
		wantVersion string
		wantErr     string
	}{
		{name: "success: bare name", ref: "nginx", want: Image{Name: "nginx"}, wantVersion: "latest"},
		{name: "success: name and tag", ref: "nginx:1.27", want: Image{Name: "nginx", Tag: "1.27"}, wantVersion: "1.27"},
		{name: "success: registry with port and tag", ref: "localhost:5000/app:v1", want: Image{Name: "localhost:5000/app", Tag: "v1"}, wantVersion: "v1"},
		{name: "success: registry with port, no tag", ref: "localhost:5000/app", want: Image{Name: "localhost:5000/app"}, wantVersion: "latest"},
		{name: "success: registry host with port and nested path", ref: "registry.example.com:443/team/app:2024.1-rc_1", want: Image{Name: "registry.example.com:443/team/app", Tag: "2024.1-rc_1"}, wantVersion: "2024.1-rc_1"},
		{name: "success: artifact registry", ref: "us-docker.pkg.dev/my-proj/repo/app:v0.5.0", want: Image{Name: "us-docker.pkg.dev/my-proj/repo/app", Tag: "v0.5.0"}, wantVersion: "v0.5.0"},
		{name: "success: digest", ref: "gcr.io/p/app@" + sha, want: Image{Name: "gcr.io/p/app", Digest: sha}, wantVersion: sha},
		{name: "success: port and digest", ref: "localhost:5000/app@" + sha, want: Image{Name: "localhost:5000/app", Digest: sha}, wantVersion: sha},
		{name: "success: tag and digest", ref: "localhost:5000/app:v1@" + sha, want: Image{Name: "localhost:5000/app", Tag: "v1", Digest: sha}, wantVersion: "v1"},
		{name: "success: IPv6 registry", ref: "[::1]:5000/app:v1", want: Image{Name: "[::1]:5000/app", Tag: "v1"}, wantVersion: "v1"},
		{name: "success: docker hub user repository", ref: "library/my_app__x:latest", want: Image{Name: "library/my_app__x", Tag: "latest"}, wantVersion: "latest"},
		{name: "fail: empty", ref: "", wantErr: "it is empty"},
		{name: "fail: upper case repository", ref: "gcr.io/p/App:v1", wantErr: `repository path component "App" must be lowercase`},
		{name: "fail: empty tag", ref: "app:", wantErr: `tag "" must be`},
		{name: "fail: tag starting with a dot", ref: "app:.v1", wantErr: `tag ".v1"`},
		{name: "fail: two tags", ref: "app:v1:v2", wantErr: `repository path component "app:v1"`},
		{name: "fail: scheme", ref: "https://gcr.io/p/app", wantErr: "must not have a scheme"},
		{name: "fail: short digest", ref: "app@sha256:abc", wantErr: `digest "sha256:abc" is not like sha256:<hex>`},
		{name: "fail: sha256 of wrong length", ref: "app@sha256:" + strings.Repeat("a", 40), wantErr: "64 hexadecimal digits"},
		{name: "fail: white space", ref: "app :v1", wantErr: "white space"},
		{name: "fail: empty path component", ref: "gcr.io//app", wantErr: `repository path component ""`},
		{name: "fail: bad registry", ref: "-bad.io/app", wantErr: `registry "-bad.io" is not a host name`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseImage(tc.ref)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantVersion, got.Version())
			assert.Equal(t, tc.ref, got.String())
		})
	}
}
