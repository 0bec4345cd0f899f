package provider

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// TestNewClientKeepsKeyMaterialOutOfErrors gives NewClient a service-account key file whose key cannot be used:
// the error, which the stage log shows, carries none of the file's secrets.
func TestNewClientKeepsKeyMaterialOutOfErrors(t *testing.T) {
	const secret = "S3CRET-KEY-MATERIAL-0123456789"
	key, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "p",
		"private_key_id": secret + "-id",
		"private_key":    "-----BEGIN PRIVATE KEY-----\n" + secret + "\n-----END PRIVATE KEY-----\n",
		"client_email":   "sa@p.iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      "https://oauth2.googleapis.com/token",
	})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "sa.json")
	require.NoError(t, os.WriteFile(path, key, 0o600))

	c, err := NewClient(t.Context(), config.DeployTargetConfig{CredentialsFile: path})
	if err == nil {
		_, err = c.GetService(t.Context(), "projects/p/locations/us-central1/services/s")
		_ = c.Close()
	}
	require.Error(t, err, "an unusable key must fail")
	assert.NotContains(t, err.Error(), secret)
}
