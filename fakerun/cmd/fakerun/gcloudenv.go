package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// gcloudEnvUsage heads `fakerun gcloud-env -help`.
const gcloudEnvUsage = `Usage: fakerun gcloud-env [flags]

Prints the environment that points the gcloud CLI at a running fakerun, as shell export lines:
	eval "$(fakerun gcloud-env -addr 127.0.0.1:8080)"
	gcloud run services list
gcloud sends its Cloud Run requests to fakerun as its HTTP proxy; it keeps its configuration in a
private directory, so your own gcloud settings and credentials are neither read nor changed.

Flags:
`

// runGcloudEnv prints GcloudEnv's variables for the fakerun at -addr and creates the private gcloud
// configuration directory.
func runGcloudEnv(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakerun gcloud-env", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = fmt.Fprint(stderr, gcloudEnvUsage)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", orDefault(getenv("FAKERUN_ADDR"), "127.0.0.1:"+orDefault(getenv("FAKERUN_PORT"), "8080")), "host:port of the running fakerun")
	project := fs.String("project", "my-project", "the project gcloud uses (CLOUDSDK_CORE_PROJECT)")
	region := fs.String("region", "us-central1", "the region gcloud run uses (CLOUDSDK_RUN_REGION)")
	config := fs.String("config", "", "gcloud's private configuration directory (default: fakerun-gcloud-PORT under the temporary directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gcloud-env takes no arguments, got %q", fs.Args())
	}
	dir := *config
	if dir == "" {
		port := (*addr)[strings.LastIndexByte(*addr, ':')+1:]
		dir = filepath.Join(os.TempDir(), "fakerun-gcloud-"+port)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating gcloud's configuration directory: %w", err)
	}
	for _, kv := range fakerun.GcloudEnv(*addr, dir, *project, *region) {
		k, v, _ := strings.Cut(kv, "=")
		if _, err := fmt.Fprintf(stdout, "export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`)); err != nil {
			return err
		}
	}
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
