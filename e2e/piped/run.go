package piped

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pipe-cd/pipecd/pkg/app/pipedv1/deploysource"
	config "github.com/pipe-cd/pipecd/pkg/configv1"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/protobuf/proto"
)

// Deployment describes one deployment to run: an application directory at a commit.
type Deployment struct {
	// AppDir is the application directory holding the application config file. Required.
	AppDir string
	// AppID identifies the application; the previous successful deployment of the same AppID is the running
	// source. Default: the base name of AppDir.
	AppID string
	// ConfigFilename is the application config file inside AppDir. Default "app.pipecd.yaml".
	ConfigFilename string
	// Commit is the commit hash of this deployment. Default: a random 40-digit hex string.
	Commit string
	// CommitMessage is the trigger commit's message. Default "Deploy <AppID>".
	CommitMessage string
	// Files overrides or adds files (path relative to AppDir → content), e.g. a service.yaml with another image.
	Files map[string]string
	// DeployTargets names the plugin's deploy targets to use. Default: the first one configured.
	DeployTargets []string
	// SyncStrategy forces a strategy, as the web console's sync button does. Default: decided by the planner.
	SyncStrategy model.SyncStrategy
	// Hooks observe and steer the run.
	Hooks Hooks
}

// Hooks are callbacks invoked while a deployment runs. They run on the scheduler's goroutine (OnLog on the
// goroutine delivering the log) and must not block for long.
type Hooks struct {
	// OnPlanned is called once the stages are known.
	OnPlanned func(r *Run)
	// OnStageStart is called right before a stage is sent to its plugin.
	OnStageStart func(r *Run, s StageRecord)
	// OnStageEnd is called once the stage's status is final.
	OnStageEnd func(r *Run, s StageRecord)
	// OnLog is called for every new log line of a stage, in order of arrival.
	OnLog func(r *Run, s StageRecord, line LogLine)
}

// StageRecord is the state and timing of one planned stage.
type StageRecord struct {
	ID       string
	Name     string
	Desc     string
	Index    int
	Rollback bool
	Status   model.StageStatus
	// Executions counts ExecuteStage calls (more than one when a stage was re-run after a restart).
	Executions int
	Started    time.Time
	Finished   time.Time
	// Err is the error returned by the plugin's ExecuteStage, if any.
	Err error
	// Logs are the stage's log lines (filled when the stage ends).
	Logs []LogLine
}

// Latency is the time the stage's last ExecuteStage call took.
func (s StageRecord) Latency() time.Duration { return s.Finished.Sub(s.Started) }

// PluginTime estimates how long the plugin worked on the stage: until its last log line was written
// (log lines carry a creation time of one-second resolution).
func (s StageRecord) PluginTime() time.Duration {
	if len(s.Logs) == 0 {
		return s.Latency()
	}
	last := s.Logs[len(s.Logs)-1].Created.Add(time.Second)
	d := min(last.Sub(s.Started), s.Latency())
	return max(d, 0)
}

// FlushWait is the rest of the latency: the SDK holding the reply until its log persister has flushed.
func (s StageRecord) FlushWait() time.Duration { return s.Latency() - s.PluginTime() }

// LogText returns the stage's log lines joined by newlines.
func (s StageRecord) LogText() string {
	var b strings.Builder
	for _, l := range s.Logs {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// Result is the outcome of a deployment.
type Result struct {
	DeploymentID string
	Status       model.DeploymentStatus
	StatusReason string
	Strategy     model.SyncStrategy
	Summary      string
	Versions     []*model.ArtifactVersion
	Stages       []StageRecord
	// Terminated is true when piped "went down" (KillPlugin or a cancelled context) before the deployment
	// finished; Run.Resume continues it.
	Terminated bool
}

// Executed returns the stages that ran, in order of execution.
func (r *Result) Executed() []StageRecord {
	var out []StageRecord
	for _, s := range r.Stages {
		if s.Executions > 0 {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b StageRecord) int { return a.Started.Compare(b.Started) })
	return out
}

// Report renders the stages, their statuses and logs, for failure output.
func (r *Result) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deployment %s: %s (%s), strategy %s\n", r.DeploymentID, r.Status, r.StatusReason, r.Strategy)
	for _, s := range r.Stages {
		fmt.Fprintf(&b, "  stage %d %s rollback=%v: %s (executions %d)", s.Index, s.Name, s.Rollback, s.Status, s.Executions)
		if s.Err != nil {
			fmt.Fprintf(&b, " error: %v", s.Err)
		}
		b.WriteByte('\n')
		for _, l := range s.Logs {
			fmt.Fprintf(&b, "    | %s\n", l.Text)
		}
	}
	return b.String()
}

// Run is a deployment in progress.
type Run struct {
	p    *Piped
	spec Deployment

	// Set by planning; read-only afterwards.
	model      *model.Deployment
	genericCfg *config.GenericApplicationSpec
	targetDSP  deploysource.Provider
	runningDSP deploysource.Provider
	target     *runningSource

	mu       sync.Mutex
	records  []*StageRecord
	result   *Result
	err      error
	done     chan struct{}
	cancel   chan struct{}
	canceled bool
	current  string // id of the running stage
}

// Deploy plans and runs a deployment and waits for its end.
func (p *Piped) Deploy(ctx context.Context, d Deployment) (*Result, error) {
	r, err := p.Start(ctx, d)
	if err != nil {
		return nil, err
	}
	return r.Wait()
}

// Start plans a deployment and runs its stages in the background. Planning errors are returned here.
func (p *Piped) Start(ctx context.Context, d Deployment) (*Run, error) {
	r, err := p.plan(ctx, d)
	if err != nil {
		return nil, err
	}
	if d.Hooks.OnPlanned != nil {
		d.Hooks.OnPlanned(r)
	}
	go r.schedule(ctx)
	return r, nil
}

// ID returns the deployment ID.
func (r *Run) ID() string { return r.model.Id }

// Model returns a copy of the deployment model sent to plugins.
func (r *Run) Model() *model.Deployment { return proto.Clone(r.model).(*model.Deployment) }

// Stages returns a snapshot of the stage records.
func (r *Run) Stages() []StageRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]StageRecord, len(r.records))
	for i, s := range r.records {
		out[i] = *s
	}
	return out
}

// Wait blocks until the run ends (or is terminated) and returns its result.
func (r *Run) Wait() (*Result, error) {
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.result, r.err
}

// Cancel cancels the deployment as the web console's cancel button does: the running stage is stopped and
// becomes CANCELLED, then the rollback stages run.
func (r *Run) Cancel() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.canceled {
		r.canceled = true
		close(r.cancel)
	}
}

// Approve approves the running WAIT_APPROVAL stage.
func (r *Run) Approve(commander string) error {
	id, err := r.currentStage(StageWaitApproval)
	if err != nil {
		return err
	}
	r.p.cp.addCommand(r.model.Id, id, &model.Command{
		Id: uuid.NewString(), PipedId: PipedID, ApplicationId: r.model.ApplicationId, DeploymentId: r.model.Id,
		StageId: id, Commander: commander, Type: model.Command_APPROVE_STAGE,
		ApproveStage: &model.Command_ApproveStage{DeploymentId: r.model.Id, StageId: id},
		CreatedAt:    time.Now().Unix(), UpdatedAt: time.Now().Unix(),
	})
	return nil
}

// Reject rejects the running WAIT_APPROVAL stage, which then fails.
func (r *Run) Reject(commander string) error {
	id, err := r.currentStage(StageWaitApproval)
	if err != nil {
		return err
	}
	r.p.cp.reject(r.model.Id, id, commander)
	return nil
}

func (r *Run) currentStage(name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.records {
		if s.ID == r.current && s.Name == name {
			return s.ID, nil
		}
	}
	return "", fmt.Errorf("no %s stage is running", name)
}

// Resume continues a terminated run, as a restarted piped does: stages that did not succeed run again.
func (r *Run) Resume(ctx context.Context) error {
	r.mu.Lock()
	if r.result == nil || !r.result.Terminated {
		r.mu.Unlock()
		return errors.New("piped: only a terminated run can be resumed")
	}
	r.result, r.err = nil, nil
	r.done = make(chan struct{})
	// The control plane hands the restarted piped the stage statuses and persisted metadata.
	for i, s := range r.model.Stages {
		s.Status = r.records[i].Status
	}
	r.mu.Unlock()
	r.p.cp.persistedMetadata(r.model)
	r.p.svc.register(r.model)
	go r.schedule(ctx)
	return nil
}
