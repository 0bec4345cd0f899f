package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// TestMain prints the table of figures after the measurements and removes the plugin binary built for them.
func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv("E2E_BENCH") != "" {
		printFigures(os.Stdout)
	}
	if os.Getenv("E2E_BENCH") != "" && os.Getenv(piped.PluginBinaryEnv) == "" {
		if bin, err := piped.BuildPlugin(); err == nil {
			_ = os.RemoveAll(filepath.Dir(bin))
		}
	}
	os.Exit(code)
}
