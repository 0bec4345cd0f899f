package provider

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

func TestNewClientNamesAMalformedCredentialsFileWithoutItsContent(t *testing.T) {
	t.Parallel()
	const secret = "S3CRET"
	testcases := []struct {
		name    string
		content string
		wantErr string
	}{
		{name: "truncated JSON", content: `{"type": "service_account", "private_key": "` + secret, wantErr: "it is not valid JSON (50 bytes, invalid at byte 50)"},
		{name: "not JSON", content: secret + " key", wantErr: "it is not valid JSON (10 bytes, invalid at byte 1)"},
		{name: "a list", content: `["` + secret + `"]`, wantErr: "it is not a JSON object of strings"},
		{name: "an OAuth client file", content: `{"installed": {"client_secret": "` + secret + `"}}`, wantErr: `field "type" is not "service_account"`},
		{name: "no client email", content: `{"type": "service_account", "private_key": "` + secret + `"}`, wantErr: `field "client_email" is missing`},
		{name: "no private key", content: `{"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com", "private_key_id": "` + secret + `"}`, wantErr: `field "private_key" is missing`},
		{name: "empty file", content: "", wantErr: "it is not valid JSON (0 bytes"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "sa.json")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
			_, err := NewClient(t.Context(), config.DeployTargetConfig{CredentialsFile: path})
			require.Error(t, err)
			assert.Contains(t, err.Error(), `credentialsFile "`+path+`" is not a service-account key file: `+tc.wantErr)
			assert.Contains(t, err.Error(), `"type": "service_account"`, "says what a key file looks like")
			assert.NotContains(t, err.Error(), secret)
		})
	}
}
