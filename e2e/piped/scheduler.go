package piped

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/common"
	"github.com/pipe-cd/pipecd/pkg/plugin/api/v1alpha1/deployment"
)

// stopReason says why a stage was stopped, as pipedv1's StopSignal does.
type stopReason int

const (
	stopNone stopReason = iota
	stopCancel
	stopTimeout
	stopTerminate
)

// stopSignal cancels one stage's context and remembers why.
type stopSignal struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	reason stopReason
}

func newStopSignal() *stopSignal {
	ctx, cancel := context.WithCancel(context.Background())
	return &stopSignal{ctx: ctx, cancel: cancel}
}

func (s *stopSignal) stop(reason stopReason) {
	s.mu.Lock()
	if s.reason == stopNone {
		s.reason = reason
	}
	s.mu.Unlock()
	s.cancel()
}

func (s *stopSignal) get() stopReason {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// schedule runs the stages like pipedv1's scheduler and publishes the result.
func (r *Run) schedule(ctx context.Context) {
	res := r.runStages(ctx)
	if !res.Terminated {
		r.p.svc.unregister(r.model.Id)
		r.p.mu.Lock()
		delete(r.p.runs, r.model.Id)
		if res.Status == model.DeploymentStatus_DEPLOYMENT_SUCCESS {
			r.p.lastSuccess[r.spec.AppID] = r.target
		}
		r.p.mu.Unlock()
	}
	r.mu.Lock()
	r.result = res
	r.current = ""
	done := r.done
	r.mu.Unlock()
	close(done)
}

func (r *Run) newResult(status model.DeploymentStatus, reason string, terminated bool) *Result {
	return &Result{
		DeploymentID: r.model.Id,
		Status:       status,
		StatusReason: reason,
		Strategy:     r.model.Trigger.SyncStrategy,
		Summary:      r.model.Summary,
		Versions:     r.model.Versions,
		Stages:       r.Stages(),
		Terminated:   terminated,
	}
}

func (r *Run) runStages(ctx context.Context) *Result {
	status := model.DeploymentStatus_DEPLOYMENT_SUCCESS
	reason := "The deployment was completed successfully"
	timer := time.NewTimer(r.genericCfg.Timeout.Duration())
	defer timer.Stop()

stages:
	for i, ps := range r.model.Stages {
		if ps.Rollback {
			continue
		}
		switch r.stageStatus(i) {
		case model.StageStatus_STAGE_SUCCESS, model.StageStatus_STAGE_SKIPPED:
			continue
		case model.StageStatus_STAGE_CANCELLED:
			status, reason = model.DeploymentStatus_DEPLOYMENT_CANCELLED, fmt.Sprintf("Deployment was cancelled while executing stage %s", ps.Id)
			break stages
		case model.StageStatus_STAGE_FAILURE:
			status, reason = model.DeploymentStatus_DEPLOYMENT_FAILURE, fmt.Sprintf("Failed while executing stage %s", ps.Id)
			break stages
		case model.StageStatus_STAGE_EXITED:
			break stages
		}

		sig := newStopSignal()
		var timeout <-chan time.Time
		if cfg, ok := r.genericCfg.GetStage(ps.Index); ok {
			stageTimer := time.NewTimer(cfg.Timeout.Duration())
			defer stageTimer.Stop()
			timeout = stageTimer.C
		}
		done := make(chan model.StageStatus, 1)
		go func() { done <- r.executeStage(sig, i) }()

		var result model.StageStatus
		select {
		case <-ctx.Done():
			sig.stop(stopTerminate)
			result = <-done
		case <-timer.C:
			sig.stop(stopTimeout)
			result = <-done
		case <-r.cancel:
			sig.stop(stopCancel)
			result = <-done
		case <-timeout:
			sig.stop(stopTimeout)
			result = <-done
		case result = <-done:
		}

		switch result {
		case model.StageStatus_STAGE_SUCCESS, model.StageStatus_STAGE_SKIPPED:
			continue
		case model.StageStatus_STAGE_EXITED:
			break stages
		case model.StageStatus_STAGE_CANCELLED:
			status, reason = model.DeploymentStatus_DEPLOYMENT_CANCELLED, fmt.Sprintf("Cancelled while executing stage %s", ps.Id)
			break stages
		case model.StageStatus_STAGE_FAILURE:
			status = model.DeploymentStatus_DEPLOYMENT_FAILURE
			reason = fmt.Sprintf("Failed while executing stage %s", ps.Id)
			if sig.get() == stopTimeout {
				reason = fmt.Sprintf("Timed out while executing stage %s", ps.Id)
			}
			break stages
		}
		// Terminated: the stage keeps its status and a resumed run executes it again.
		return r.newResult(r.model.Status, "piped was terminated while executing stage "+ps.Name, true)
	}

	if status == model.DeploymentStatus_DEPLOYMENT_CANCELLED || status == model.DeploymentStatus_DEPLOYMENT_FAILURE {
		if rollbacks, ok := r.model.FindRollbackStages(); ok {
			for _, rs := range rollbacks {
				i := r.stageIndex(rs.Id)
				sig := newStopSignal()
				done := make(chan model.StageStatus, 1)
				go func() { done <- r.executeStage(sig, i) }()
				select {
				case <-ctx.Done():
					sig.stop(stopTerminate)
					<-done
					return r.newResult(r.model.Status, "piped was terminated while rolling back", true)
				case <-done:
				}
				if r.p.isCrashed() {
					return r.newResult(r.model.Status, "piped was terminated while rolling back", true)
				}
			}
		}
	}
	return r.newResult(status, reason, false)
}

func (r *Run) stageStatus(i int) model.StageStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.records[i].Status
}

func (r *Run) stageIndex(id string) int {
	for i, s := range r.model.Stages {
		if s.Id == id {
			return i
		}
	}
	return -1
}

func (r *Run) update(i int, f func(s *StageRecord)) StageRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.records[i])
	return *r.records[i]
}

// executeStage mirrors pipedv1's scheduler.executeStage for the i-th planned stage.
func (r *Run) executeStage(sig *stopSignal, i int) (final model.StageStatus) {
	ps := r.model.Stages[i]
	ctx := sig.ctx
	original := r.stageStatus(i)
	defer func() {
		logs := r.p.cp.stageLogs(r.model.Id, ps.Id)
		rec := r.update(i, func(s *StageRecord) {
			s.Status = final
			s.Logs = logs
			if s.Finished.IsZero() {
				s.Finished = time.Now()
			}
		})
		if r.spec.Hooks.OnStageEnd != nil {
			r.spec.Hooks.OnStageEnd(r, rec)
		}
	}()
	fail := func(err error) model.StageStatus {
		r.update(i, func(s *StageRecord) { s.Err = err })
		return model.StageStatus_STAGE_FAILURE
	}

	tds, err := r.targetDSP.Get(ctx, io.Discard)
	if err != nil {
		return fail(fmt.Errorf("failed to get the target deploy source: %w", err))
	}
	var rds *common.DeploymentSource
	if r.runningDSP != nil {
		src, err := r.runningDSP.Get(ctx, io.Discard)
		if err != nil {
			return fail(fmt.Errorf("failed to get the running deploy source: %w", err))
		}
		rds = src.ToPluginDeploySource()
	}
	if model.CanUpdateStageStatus(original, model.StageStatus_STAGE_RUNNING) {
		original = model.StageStatus_STAGE_RUNNING
	}
	var stageConfig []byte
	if !r.model.IsQuickSync() {
		cfg, ok := r.genericCfg.GetStageConfigByte(ps.Index)
		if !ok {
			return fail(fmt.Errorf("unable to find the stage configuration of stage %d %s", ps.Index, ps.Name))
		}
		stageConfig = cfg
	}

	rec := r.update(i, func(s *StageRecord) {
		s.Status = original
		s.Executions++
		s.Started = time.Now()
		s.Finished = time.Time{}
		s.Err = nil
	})
	r.mu.Lock()
	r.current = ps.Id
	r.mu.Unlock()
	if r.spec.Hooks.OnStageStart != nil {
		r.spec.Hooks.OnStageStart(r, rec)
	}

	// Looked up after the hook, which may have waited for a restarted plugin.
	plg, err := r.p.pluginRegistry().GetPluginClientByStageName(ps.Name)
	if err != nil {
		return fail(fmt.Errorf("no plugin for stage %s: %w", ps.Name, err))
	}
	res, err := plg.ExecuteStage(ctx, &deployment.ExecuteStageRequest{Input: &deployment.ExecutePluginInput{
		Deployment:              r.model,
		Stage:                   ps,
		StageConfig:             stageConfig,
		RunningDeploymentSource: rds,
		TargetDeploymentSource:  tds.ToPluginDeploySource(),
	}})
	r.update(i, func(s *StageRecord) { s.Finished = time.Now(); s.Err = err })
	if err != nil {
		if r.p.isCrashed() {
			sig.stop(stopTerminate)
			return original
		}
		if ctx.Err() == nil {
			return model.StageStatus_STAGE_FAILURE
		}
	}
	got := res.GetStatus()
	var status model.StageStatus
	switch sig.get() {
	case stopNone:
		status = got
	case stopTerminate:
		return original
	case stopCancel:
		status = model.StageStatus_STAGE_CANCELLED
	default:
		status = model.StageStatus_STAGE_FAILURE
	}
	switch status {
	case model.StageStatus_STAGE_SUCCESS, model.StageStatus_STAGE_CANCELLED, model.StageStatus_STAGE_SKIPPED,
		model.StageStatus_STAGE_EXITED, model.StageStatus_STAGE_FAILURE:
		return status
	}
	// A plugin answering NOT_STARTED_YET or RUNNING ends the stage as a failure, as in piped.
	return model.StageStatus_STAGE_FAILURE
}

func (r *Run) onLog(stageID string, line LogLine) {
	if r.spec.Hooks.OnLog == nil {
		return
	}
	i := r.stageIndex(stageID)
	if i < 0 {
		return
	}
	r.mu.Lock()
	rec := *r.records[i]
	r.mu.Unlock()
	r.spec.Hooks.OnLog(r, rec, line)
}
