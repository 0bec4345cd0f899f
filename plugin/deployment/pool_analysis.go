package deployment

import (
	"fmt"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// checkPoolAnalysis refuses, for a worker pool application, every CLOUDRUN_ANALYSIS threshold but custom
// ones: a worker pool serves no requests, so Cloud Monitoring has no request count or latency of its
// revisions to judge.
func checkPoolAnalysis(ds sdk.DeploymentSource[config.RawApplicationSpec]) error {
	withs, err := app.StageConfigs(ds, StageCloudRunAnalysis)
	if err != nil {
		return err
	}
	for i, with := range withs {
		opts, err := config.DecodeAnalysisStageOptions(with)
		if err != nil {
			return fmt.Errorf("%s stage %d: %w", StageCloudRunAnalysis, i+1, err)
		}
		if err := poolThresholds(opts); err != nil {
			return fmt.Errorf("%s stage %d: %w", StageCloudRunAnalysis, i+1, err)
		}
	}
	return nil
}

// poolThresholds checks that every threshold of an analysis of a worker pool is a custom one.
func poolThresholds(opts config.AnalysisStageOptions) error {
	for i, m := range opts.Metrics {
		kind := ""
		switch {
		case m.ErrorRate != nil:
			kind = "errorRate"
		case m.Latency != nil:
			kind = "latency"
		default:
			continue
		}
		return fmt.Errorf("field \"metrics[%d].%s\": a worker pool serves no requests, so Cloud Monitoring has no request %s of its revisions to judge; "+
			"allowed for a worker pool: custom thresholds on a metric its instances write (custom: {filter: 'metric.type = \"custom.googleapis.com/...\"', max: ...})",
			i, kind, map[string]string{"errorRate": "errors", "latency": "latencies"}[kind])
	}
	return nil
}
