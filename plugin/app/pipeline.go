package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
)

// StageConfigs returns the `with` of every stage called name in the pipeline of ds's application config
// file (spec.pipeline.stages), as JSON, in pipeline order (an empty object for a stage without one). piped
// does not send the pipeline with every request, so the file is read again from the application
// directory; without a file name there is none to read.
func StageConfigs(ds sdk.DeploymentSource[config.RawApplicationSpec], name string) ([][]byte, error) {
	if ds.ApplicationConfigFilename == "" {
		return nil, nil
	}
	root, err := os.OpenRoot(ds.ApplicationDirectory)
	if err != nil {
		return nil, fmt.Errorf("failed to open the application directory: %w", err)
	}
	data, err := root.ReadFile(ds.ApplicationConfigFilename)
	if err := errors.Join(err, root.Close()); err != nil {
		return nil, fmt.Errorf("%s: failed to read it: %w", ds.ApplicationConfigFilename, err)
	}
	j, err := manifest.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ds.ApplicationConfigFilename, err)
	}
	var doc struct {
		Spec struct {
			Pipeline struct {
				Stages []struct {
					Name string          `json:"name"`
					With json.RawMessage `json:"with"`
				} `json:"stages"`
			} `json:"pipeline"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(j, &doc); err != nil {
		return nil, fmt.Errorf("%s: the pipeline cannot be read: %w", ds.ApplicationConfigFilename, err)
	}
	var out [][]byte
	for _, s := range doc.Spec.Pipeline.Stages {
		if s.Name != name {
			continue
		}
		with := []byte(s.With)
		if len(with) == 0 || string(with) == "null" {
			with = []byte("{}")
		}
		out = append(out, with)
	}
	return out, nil
}
