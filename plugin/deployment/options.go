package deployment

import (
	"fmt"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// stageOptions checks the options (`with`) of each stage this plugin owns. Planning checks every stage of
// the pipeline with it, so that a bad option fails the deployment before any stage writes to Cloud Run. A
// new stage adds one line here.
var stageOptions = map[string]func(raw []byte) error{
	StageCloudRunSync:          checkWith(config.DecodeSyncStageOptions),
	StageCloudRunPromote:       checkWith(config.DecodePromoteStageOptions),
	StageCloudRunCanaryCleanup: checkWith(config.DecodeCleanupStageOptions),
	StageCloudRunRollback:      checkWith(config.DecodeRollbackStageOptions),
	StageCloudRunAnalysis:      checkWith(config.DecodeAnalysisStageOptions),
	StageCloudRunJobSync:       checkWith(config.DecodeJobSyncStageOptions),
	StageCloudRunJobRun:        checkWith(config.DecodeJobRunStageOptions),
	StageCloudRunVerify:        checkWith(config.DecodeVerifyStageOptions),
	StageCloudRunJobHook:       checkWith(config.DecodeJobHookStageOptions),
}

// checkWith turns a stage's options decoder into a check.
func checkWith[T any](decode func([]byte) (T, error)) func([]byte) error {
	return func(raw []byte) error {
		_, err := decode(raw)
		return err
	}
}

// checkPipelineOptions checks the options of every stage of the request, and names the first bad one by its
// place in spec.pipeline.stages and, when a stage is listed several times, which of them it is.
func checkPipelineOptions(stages []sdk.StageConfig) error {
	total := map[string]int{}
	for _, s := range stages {
		total[s.Name]++
	}
	nth := map[string]int{}
	for _, s := range stages {
		nth[s.Name]++
		check, ok := stageOptions[s.Name]
		if !ok {
			return fmt.Errorf("%s: unsupported stage %q, the Cloud Run plugin executes %v", stagePlace(s.Index), s.Name, allStages)
		}
		if err := check(s.Config); err != nil {
			return fmt.Errorf("%s, %s: %w", stagePlace(s.Index), stageOrdinal(s.Name, nth[s.Name], total[s.Name]), err)
		}
	}
	return nil
}

// checkStageOrder checks that every CLOUDRUN_VERIFY, and every CLOUDRUN_JOB_HOOK that names the tag URL,
// comes after a CLOUDRUN_SYNC with `tag: true`, and that a hook naming the new revision or the service URL
// comes after a CLOUDRUN_SYNC: otherwise the stage would fail after earlier stages had changed Cloud Run.
// The options have been checked already.
func checkStageOrder(stages []sdk.StageConfig) error {
	synced, tagged := false, false
	for _, s := range stages {
		var missing string
		switch s.Name {
		case StageCloudRunSync:
			opts, _ := config.DecodeSyncStageOptions(s.Config)
			synced, tagged = true, tagged || opts.Tag
		case StageCloudRunVerify:
			if !tagged {
				missing = "no earlier " + StageCloudRunSync + " has `tag: true`, so the new revision has no tag URL to verify"
			}
		case StageCloudRunJobHook:
			opts, _ := config.DecodeJobHookStageOptions(s.Config)
			switch {
			case opts.Uses(config.PlaceholderTagURL) && !tagged:
				missing = "its args or env name " + config.PlaceholderTagURL + ", but no earlier " + StageCloudRunSync + " has `tag: true`"
			case opts.Uses("") && !synced:
				missing = "its args or env name the revision or the service URL of " + StageCloudRunSync + ", but no " + StageCloudRunSync + " comes before it"
			}
		}
		if missing != "" {
			return fmt.Errorf("%s, %s: %s; set `tag: true` on a %s before it, or move the stage after it", stagePlace(s.Index), s.Name, missing, StageCloudRunSync)
		}
	}
	return nil
}

// stagePlace names a stage of the pipeline by its index in spec.pipeline.stages of the application config.
func stagePlace(index int) string {
	return fmt.Sprintf("application config spec.pipeline.stages[%d]", index)
}

// stageOrdinal says which of the stages named name a stage is, e.g. "CLOUDRUN_PROMOTE #2 of 3".
func stageOrdinal(name string, n, total int) string {
	if total == 1 {
		return name
	}
	return fmt.Sprintf("%s #%d of %d", name, n, total)
}

// logInvalidOptions reports stage options that fail to decode when the stage runs, naming the file and the
// stage's place in it. Planning has checked them, so this is met only when piped skipped planning's check.
func logInvalidOptions(lp sdk.StageLogPersister, input *sdk.ExecuteStageInput[config.RawApplicationSpec], err error) {
	file := input.Request.TargetDeploymentSource.ApplicationConfigFilename
	if file == "" {
		file = "app.pipecd.yaml"
	}
	lp.Errorf("Invalid stage options in %s spec.pipeline.stages[%d]: %v", file, input.Request.StageIndex, err)
}
