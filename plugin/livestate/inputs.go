package livestate

import (
	"fmt"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// DecodeDeployTarget decodes and validates the config of a deploy target as piped sent it.
func DecodeDeployTarget(dt *sdk.DeployTarget[config.RawDeployTargetConfig]) (config.DeployTargetConfig, error) {
	cfg, err := dt.Config.Decode()
	if err != nil {
		return config.DeployTargetConfig{}, fmt.Errorf("deploy target %s in piped.yaml: %w", dt.Name, err)
	}
	return cfg, nil
}
