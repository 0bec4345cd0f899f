package livestate

import (
	"encoding/json"
	"fmt"
	"reflect"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/deployment"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// DecodeDeployTarget decodes and validates the config of a deploy target as piped sent it.
func DecodeDeployTarget(dt *sdk.DeployTarget[deployment.DeployTargetConfig]) (config.DeployTargetConfig, error) {
	raw, err := rawJSON(dt.Config)
	if err != nil {
		return config.DeployTargetConfig{}, err
	}
	cfg, err := config.DecodeDeployTargetConfig(raw)
	if err != nil {
		return config.DeployTargetConfig{}, fmt.Errorf("deploy target %s in piped.yaml: %w", dt.Name, err)
	}
	return cfg, nil
}

// ProviderConfig says how to reach the Cloud Run API of a deploy target.
func ProviderConfig(cfg config.DeployTargetConfig) provider.Config {
	return provider.Config{CredentialsFile: cfg.CredentialsFile, Endpoint: cfg.Endpoint, Insecure: cfg.Insecure}
}

// Source is a deployment source (a commit of the application) with its plugin spec decoded and its
// service manifest loaded, as the deployment stages load it.
type Source struct {
	// Spec is the plugin's part of app.pipecd.yaml.
	Spec config.ApplicationSpec
	// Manifest is the service manifest, with input.image applied.
	Manifest *manifest.Manifest
	// Commit is the commit hash of the source.
	Commit string
}

// LoadSource decodes the plugin spec of ds and loads its service manifest. Errors name the file and field.
func LoadSource(ds sdk.DeploymentSource[deployment.ApplicationSpec]) (*Source, error) {
	file := ds.ApplicationConfigFilename
	if file == "" {
		file = "app.pipecd.yaml"
	}
	cfg, err := ds.AppConfig()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	raw := []byte("{}")
	if cfg.Spec != nil {
		if raw, err = rawJSON(*cfg.Spec); err != nil {
			return nil, err
		}
	}
	var spec config.ApplicationSpec
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m, err := manifest.Load(ds.ApplicationDirectory, spec.Input.ServiceManifestFile)
	if err != nil {
		return nil, err
	}
	if spec.Input.Image != "" {
		if err := m.SetImage(spec.Input.Image); err != nil {
			return nil, fmt.Errorf("%s: field \"spec.plugins.cloudrun.input.image\": %w", file, err)
		}
	}
	return &Source{Spec: spec, Manifest: m, Commit: ds.CommitHash}, nil
}

// Service returns the service the source describes for a deploy target: the manifest with its full name.
func (s *Source) Service(cfg config.DeployTargetConfig) (*runpb.Service, error) {
	return s.Manifest.Service(cfg.Project, cfg.Region)
}

// rawJSON returns the JSON that deployment.DeployTargetConfig and deployment.ApplicationSpec keep
// exactly as piped sent it. Those types have no exported accessor, so the field is read by reflection;
// a test fails if the field is renamed.
func rawJSON(v any) ([]byte, error) {
	f := reflect.ValueOf(v)
	if f.Kind() == reflect.Struct {
		f = f.FieldByName("raw")
	}
	if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Uint8 {
		return nil, fmt.Errorf("internal error: %T does not keep its raw JSON in a field named raw", v)
	}
	return f.Bytes(), nil
}
