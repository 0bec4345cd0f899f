// Package target is where the end-to-end suites deploy: an in-process fakerun (the default) or a real Google
// Cloud project. A Target gives the Cloud Run client options, the plugin's deploy target config and the
// cleanup; the specs do not know which one they run against.
package target

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// Environment variables that select real Cloud Run.
const (
	// ProjectEnv names the Google Cloud project; when set, the suites run against real Cloud Run.
	ProjectEnv = "E2E_GCP_PROJECT"
	// RegionEnv names the region (default DefaultRegion).
	RegionEnv = "E2E_GCP_REGION"
	// CredentialsEnv is the standard variable naming a service account key file; without it the
	// application default credentials (gcloud auth application-default login) are used.
	CredentialsEnv = "GOOGLE_APPLICATION_CREDENTIALS"
	// DefaultRegion is the region used when RegionEnv is not set.
	DefaultRegion = "asia-northeast1"
)

// Kinds of targets.
const (
	KindFakerun  = "fakerun"
	KindCloudRun = "cloudrun"
)

// Target is a Cloud Run Admin API v2 endpoint with a project and a region.
type Target interface {
	// Kind is KindFakerun or KindCloudRun.
	Kind() string
	// Project and Region are where the specs' services live.
	Project() string
	Region() string
	// ClientOptions connect a cloud.google.com/go/run/apiv2 client to the target.
	ClientOptions() []option.ClientOption
	// DeployTargetConfig is the plugin's deploy target config (piped.yaml) for the target in region.
	DeployTargetConfig(region string) map[string]any
	// Close releases the target (stops fakerun); it deletes nothing on Cloud Run.
	Close() error
}

// Fakerun is a target served by an in-process fakerun with a project of its own.
type Fakerun struct {
	srv     *fakerun.Server
	project string
}

// NewFakerun starts fakerun with opts.
func NewFakerun(opts ...fakerun.Option) (*Fakerun, error) {
	srv, err := fakerun.NewServer(opts...)
	if err != nil {
		return nil, err
	}
	return &Fakerun{srv: srv, project: "e2e-" + RandomHex(6)}, nil
}

// Server returns the fakerun server, for the specs that use its knobs.
func (f *Fakerun) Server() *fakerun.Server { return f.srv }

func (f *Fakerun) Kind() string    { return KindFakerun }
func (f *Fakerun) Project() string { return f.project }
func (f *Fakerun) Region() string  { return DefaultRegion }
func (f *Fakerun) Close() error    { return f.srv.Close() }

func (f *Fakerun) ClientOptions() []option.ClientOption { return f.srv.ClientOptions() }

func (f *Fakerun) DeployTargetConfig(region string) map[string]any {
	return map[string]any{"project": f.project, "region": region, "endpoint": f.srv.Addr(), "insecure": true}
}

// Endpoint is a target served by a Cloud Run fake at an address, without TLS or credentials: a fakerun in
// another process or in a container.
type Endpoint struct {
	addr, project, region string
}

// NewEndpoint returns the target at addr (host:port) whose services live in project and region.
func NewEndpoint(addr, project, region string) *Endpoint {
	return &Endpoint{addr: addr, project: project, region: region}
}

// Addr is the endpoint's host:port.
func (e *Endpoint) Addr() string { return e.addr }

func (e *Endpoint) Kind() string    { return KindFakerun }
func (e *Endpoint) Project() string { return e.project }
func (e *Endpoint) Region() string  { return e.region }

// Close does nothing: whoever started the fake stops it.
func (e *Endpoint) Close() error { return nil }

func (e *Endpoint) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(e.addr), option.WithoutAuthentication(), option.WithTelemetryDisabled(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

func (e *Endpoint) DeployTargetConfig(region string) map[string]any {
	return map[string]any{"project": e.project, "region": region, "endpoint": e.addr, "insecure": true}
}

// CloudRunConfig selects a real Google Cloud project.
type CloudRunConfig struct {
	Project         string
	Region          string
	CredentialsFile string // empty: application default credentials
}

// CloudRunFromEnv reads ProjectEnv, RegionEnv and CredentialsEnv; ok is false when ProjectEnv is not set.
func CloudRunFromEnv() (cfg CloudRunConfig, ok bool) {
	cfg = CloudRunConfig{
		Project:         os.Getenv(ProjectEnv),
		Region:          os.Getenv(RegionEnv),
		CredentialsFile: os.Getenv(CredentialsEnv),
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return cfg, cfg.Project != ""
}

// CheckCredentials returns an error saying what is missing when no Google credentials can be found.
func (c CloudRunConfig) CheckCredentials(ctx context.Context) error {
	if c.CredentialsFile != "" {
		if _, err := os.Stat(c.CredentialsFile); err != nil {
			return fmt.Errorf("%s=%s: %w", CredentialsEnv, c.CredentialsFile, err)
		}
		return nil
	}
	if _, err := google.FindDefaultCredentials(ctx, run.DefaultAuthScopes()...); err != nil {
		return fmt.Errorf("%s=%s is set but no Google credentials were found (set %s to a service account key file "+
			"or run `gcloud auth application-default login`): %w", ProjectEnv, c.Project, CredentialsEnv, err)
	}
	return nil
}

// CloudRun is a real Google Cloud project.
type CloudRun struct {
	cfg CloudRunConfig
}

// NewCloudRun returns the target of cfg.
func NewCloudRun(cfg CloudRunConfig) *CloudRun { return &CloudRun{cfg: cfg} }

func (c *CloudRun) Kind() string    { return KindCloudRun }
func (c *CloudRun) Project() string { return c.cfg.Project }
func (c *CloudRun) Region() string  { return c.cfg.Region }
func (c *CloudRun) Close() error    { return nil }

// ClientOptions are empty: the client library finds the credentials (CredentialsEnv or the application
// default credentials) itself.
func (c *CloudRun) ClientOptions() []option.ClientOption { return nil }

func (c *CloudRun) DeployTargetConfig(region string) map[string]any {
	cfg := map[string]any{"project": c.cfg.Project, "region": region}
	if c.cfg.CredentialsFile != "" {
		cfg["credentialsFile"] = c.cfg.CredentialsFile
	}
	return cfg
}

// minPrefix is the shortest prefix Sweep accepts, so that it never deletes services it did not create.
const minPrefix = 6

// Sweep deletes every service of the target's project and region whose ID starts with prefix, waits for the
// deletions and returns the IDs deleted. Deleting a service deletes its revisions.
func Sweep(ctx context.Context, t Target, prefix string) ([]string, error) {
	if len(prefix) < minPrefix {
		return nil, fmt.Errorf("sweep: prefix %q is shorter than %d characters", prefix, minPrefix)
	}
	client, err := run.NewServicesClient(ctx, t.ClientOptions()...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = client.Close() }()
	parent := fmt.Sprintf("projects/%s/locations/%s", t.Project(), t.Region())
	var names []string
	it := client.ListServices(ctx, &runpb.ListServicesRequest{Parent: parent})
	for {
		svc, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("sweep: list services of %s: %w", parent, err)
		}
		if strings.HasPrefix(naming.ShortName(svc.GetName()), prefix) {
			names = append(names, svc.GetName())
		}
	}
	var deleted []string
	var errs []error
	for _, name := range names {
		op, err := client.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: name})
		if err == nil {
			_, err = op.Wait(ctx)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep: delete %s: %w", name, err))
			continue
		}
		deleted = append(deleted, naming.ShortName(name))
	}
	return deleted, errors.Join(errs...)
}

// RandomHex returns n random lowercase hex digits.
func RandomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
