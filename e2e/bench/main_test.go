package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// TestMain removes the plugin binary built for the measurements.
func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv("E2E_BENCH") != "" && os.Getenv(piped.PluginBinaryEnv) == "" {
		if bin, err := piped.BuildPlugin(); err == nil {
			_ = os.RemoveAll(filepath.Dir(bin))
		}
	}
	os.Exit(code)
}
