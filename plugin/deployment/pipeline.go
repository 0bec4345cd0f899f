package deployment

import (
	"errors"
	"slices"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
)

// Stage names. They carry the CLOUDRUN_ prefix because stage names are global within a piped.
const (
	// StageCloudRunSync deploys the new revision: 100% of the traffic on quick sync, or 0% in a canary
	// pipeline with skipTrafficShift.
	StageCloudRunSync = "CLOUDRUN_SYNC"
	// StageCloudRunPromote routes `percent` of the traffic to the new revision.
	StageCloudRunPromote = "CLOUDRUN_PROMOTE"
	// StageCloudRunCanaryCleanup deletes old revisions, keeping `keepCount`.
	StageCloudRunCanaryCleanup = "CLOUDRUN_CANARY_CLEANUP"
	// StageCloudRunRollback puts the traffic back to where it was before the deployment; for a job, the
	// job's template.
	StageCloudRunRollback = "CLOUDRUN_ROLLBACK"
	// StageCloudRunAnalysis judges the new revision on Cloud Monitoring and fails when it is bad.
	StageCloudRunAnalysis = "CLOUDRUN_ANALYSIS"
	// StageCloudRunJobSync creates the job or updates its template.
	StageCloudRunJobSync = "CLOUDRUN_JOB_SYNC"
	// StageCloudRunJobRun runs the job once and waits for the execution to finish.
	StageCloudRunJobRun = "CLOUDRUN_JOB_RUN"
	// StageCloudRunVerify sends requests to the new revision's tag URL, at 0% of the traffic, and fails
	// when an answer is not as expected.
	StageCloudRunVerify = "CLOUDRUN_VERIFY"
	// StageCloudRunJobHook runs a Cloud Run job as a step of the pipeline (a migration, a smoke test) and
	// fails when its execution fails.
	StageCloudRunJobHook = "CLOUDRUN_JOB_HOOK"
)

// Stage descriptions, shown in the PipeCD UI for quick sync (pipeline stages show their `desc`).
const (
	StageCloudRunSyncDescription          = "Deploy the new revision and route all traffic to it (a job: create it or update its template)"
	StageCloudRunPromoteDescription       = "Route a share of the traffic to the new revision"
	StageCloudRunCanaryCleanupDescription = "Delete old revisions that serve no traffic"
	StageCloudRunRollbackDescription      = "Restore the traffic as it was before the deployment (a job: its template)"
	StageCloudRunAnalysisDescription      = "Judge the new revision on Cloud Monitoring"
)

// allStages is what FetchDefinedStages returns.
var allStages = []string{
	StageCloudRunSync,
	StageCloudRunPromote,
	StageCloudRunCanaryCleanup,
	StageCloudRunRollback,
	StageCloudRunAnalysis,
	StageCloudRunJobSync,
	StageCloudRunJobRun,
	StageCloudRunVerify,
	StageCloudRunJobHook,
}

// quickSyncMetadataKey marks the stages of a quick sync in their stage metadata, because ExecuteStage
// is not told which strategy planned the stage.
const quickSyncMetadataKey = "cloudrun.quickSync"

var errRollbackRequiresStages = errors.New("the pipeline has no Cloud Run stage: add at least one of " +
	StageCloudRunSync + ", " + StageCloudRunPromote + " or " + StageCloudRunCanaryCleanup + " (a service), or " +
	StageCloudRunJobSync + " or " + StageCloudRunJobRun + " (a job) to spec.pipeline.stages")

// buildQuickSyncPipeline returns CLOUDRUN_SYNC, followed by a rollback stage when auto-rollback is on.
func buildQuickSyncPipeline(autoRollback bool) []sdk.QuickSyncStage {
	marker := map[string]string{quickSyncMetadataKey: "true"}
	stages := []sdk.QuickSyncStage{{
		Name:        StageCloudRunSync,
		Description: StageCloudRunSyncDescription,
		Metadata:    marker,
	}}
	if autoRollback {
		stages = append(stages, sdk.QuickSyncStage{
			Name:        StageCloudRunRollback,
			Description: StageCloudRunRollbackDescription,
			Rollback:    true,
			Metadata:    marker,
		})
	}
	return stages
}

// buildPipelineStages keeps the requested stages with their indexes and, when auto-rollback is on, adds one
// rollback stage. A CLOUDRUN_ROLLBACK listed in the pipeline configures that rollback stage (its `with` is
// what the rollback stage receives) instead of running as a normal stage; otherwise the rollback stage
// borrows the smallest index of the request, as piped requires an index from the request.
func buildPipelineStages(req sdk.BuildPipelineSyncStagesRequest) ([]sdk.PipelineStage, error) {
	if len(req.Stages) == 0 {
		return nil, errRollbackRequiresStages
	}
	stages := make([]sdk.PipelineStage, 0, len(req.Stages)+1)
	var rollbackIndex *int
	for _, s := range req.Stages {
		if s.Name == StageCloudRunRollback {
			if rollbackIndex == nil {
				i := s.Index
				rollbackIndex = &i
			}
			continue
		}
		stages = append(stages, sdk.PipelineStage{Index: s.Index, Name: s.Name})
	}
	if len(stages) == 0 {
		return nil, errRollbackRequiresStages
	}
	if !req.Rollback {
		return stages, nil
	}
	index := slices.MinFunc(req.Stages, func(a, b sdk.StageConfig) int { return a.Index - b.Index }).Index
	if rollbackIndex != nil {
		index = *rollbackIndex
	}
	return append(stages, sdk.PipelineStage{Index: index, Name: StageCloudRunRollback, Rollback: true}), nil
}
