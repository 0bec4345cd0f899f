// Package controlplane is an in-memory PipeCD control plane for tests: it serves pipedv1's control-plane API
// (pipedservice.PipedService) on 127.0.0.1 with PipeCD's own handlers (pkg/app/server/grpcapi.PipedAPI), its
// piped-key authentication (rpcauth and pipedverifier) and its request validation, over in-memory
// implementations of the datastore, filestore and caches those handlers use. A test registers a piped and its
// applications, starts the real piped against Addr with the piped's key, and drives and observes it through
// the Go API (commands, deployments, stages and their logs, live state) as the PipeCD web console would.
package controlplane

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pipe-cd/pipecd/pkg/app/server/analysisresultstore"
	"github.com/pipe-cd/pipecd/pkg/app/server/applicationlivestatestore"
	"github.com/pipe-cd/pipecd/pkg/app/server/applicationsharedobjectstore"
	"github.com/pipe-cd/pipecd/pkg/app/server/commandoutputstore"
	"github.com/pipe-cd/pipecd/pkg/app/server/commandstore"
	"github.com/pipe-cd/pipecd/pkg/app/server/grpcapi"
	"github.com/pipe-cd/pipecd/pkg/app/server/pipedverifier"
	"github.com/pipe-cd/pipecd/pkg/app/server/service/pipedservice"
	"github.com/pipe-cd/pipecd/pkg/app/server/stagelogstore"
	"github.com/pipe-cd/pipecd/pkg/cache/memorycache"
	"github.com/pipe-cd/pipecd/pkg/config"
	"github.com/pipe-cd/pipecd/pkg/datastore"
	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/pipe-cd/pipecd/pkg/rpc"
	"github.com/pipe-cd/pipecd/pkg/rpc/rpcauth"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultProjectID is the project of a control plane started without Options.ProjectID.
const DefaultProjectID = "e2e"

// Options configure a control plane.
type Options struct {
	// ProjectID is the one project (default DefaultProjectID).
	ProjectID string
	// Logger receives the handlers' logs (default: none).
	Logger *zap.Logger
}

// ControlPlane is a running in-memory control plane. Close stops it.
type ControlPlane struct {
	projectID string
	lis       net.Listener
	server    *grpc.Server
	cancel    context.CancelFunc

	ds           *memDatastore
	applications datastore.ApplicationStore
	deployments  datastore.DeploymentStore
	pipeds       datastore.PipedStore
	commands     commandstore.Store
	stageLogs    stagelogstore.Store
	liveStates   applicationlivestatestore.Store
	outputs      commandoutputstore.Store

	calls  *callLog
	traces *traceCollector
}

// Start starts a control plane listening on 127.0.0.1 on a free port.
func Start(ctx context.Context, opts Options) (*ControlPlane, error) {
	if opts.ProjectID == "" {
		opts.ProjectID = DefaultProjectID
	}
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(ctx)
	var (
		ds  = newMemDatastore()
		fs  = newMemFilestore()
		c   = memorycache.NewCache()
		cp  = &ControlPlane{projectID: opts.ProjectID, cancel: cancel, ds: ds, calls: newCallLog()}
		cfg = &config.ControlPlaneSpec{}
	)
	cp.applications = datastore.NewApplicationStore(ds)
	cp.deployments = datastore.NewDeploymentStore(ds)
	cp.pipeds = datastore.NewPipedStore(ds)
	cp.commands = commandstore.NewStore(ds, c, logger)
	cp.stageLogs = stagelogstore.NewStore(fs, c, logger)
	cp.liveStates = applicationlivestatestore.NewStore(fs, c, logger)
	cp.outputs = commandoutputstore.NewStore(fs, logger)

	now := time.Now().Unix()
	if err := datastore.NewProjectStore(ds).Add(ctx, &model.Project{
		Id:          opts.ProjectID,
		Desc:        "in-memory control plane",
		StaticAdmin: &model.ProjectStaticUser{Username: "admin", PasswordHash: "no-login"},
		CreatedAt:   now,
		UpdatedAt:   now,
	}); err != nil {
		cancel()
		return nil, fmt.Errorf("add project %s: %w", opts.ProjectID, err)
	}

	api := grpcapi.NewPipedAPI(ctx, ds, c, cp.stageLogs, cp.liveStates,
		analysisresultstore.NewStore(fs, logger), memorycache.NewTTLCache(ctx, 5*time.Minute, time.Minute),
		cp.outputs, &memUnregisteredApps{}, applicationsharedobjectstore.NewStore(fs, logger), "", logger)
	verifier := pipedverifier.NewVerifier(ctx, cfg, datastore.NewProjectStore(ds), cp.pipeds, logger)
	// The same interceptors, in the same order, as pipecd's server gives its piped API, between the call log
	// and the workarounds (workarounds.go).
	piped := rpc.ChainUnaryServerInterceptors(
		recoverPanics,
		rpcauth.PipedTokenUnaryServerInterceptor(verifier, logger),
		rpc.RequestValidationUnaryServerInterceptor(),
		cp.seedPluginMetadata,
	)
	cp.server = grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if strings.HasPrefix(info.FullMethod, "/"+pipedservice.PipedService_ServiceDesc.ServiceName+"/") {
				handler = chain(piped, info, handler)
			}
			return cp.calls.interceptor(ctx, req, info, handler)
		}),
		// A service the control plane does not serve: Unimplemented naming the RPC, in the call log.
		grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			method, _ := grpc.MethodFromServerStream(stream)
			err := status.Errorf(codes.Unimplemented, "controlplane: %s is not served", method)
			cp.calls.record(method, err)
			return err
		}),
	)
	api.Register(cp.server)
	cp.traces = &traceCollector{verifier: verifier}
	collectortrace.RegisterTraceServiceServer(cp.server, cp.traces)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return nil, err
	}
	cp.lis = lis
	go func() { _ = cp.server.Serve(lis) }()
	return cp, nil
}

// Addr is the host:port piped's apiAddress names.
func (c *ControlPlane) Addr() string { return c.lis.Addr().String() }

// Close stops the server.
func (c *ControlPlane) Close() {
	c.server.Stop()
	c.cancel()
}

// Piped is a registered piped: what its piped.yaml needs.
type Piped struct {
	ID        string
	ProjectID string
	// Key is the piped key (pipedKeyFile's content); the control plane keeps only its bcrypt hash.
	Key string
}

// AddPiped registers a piped named name, as the console's "Add piped" does, and returns its new key.
func (c *ControlPlane) AddPiped(ctx context.Context, name string) (Piped, error) {
	key := rand.Text()
	// pipecd keeps a bcrypt hash of the key and compares each RPC's key with it; the minimum cost (instead of
	// model.GeneratePipedKey's default) keeps that check from weighing on tests.
	hash, err := bcrypt.GenerateFromPassword([]byte(key), bcrypt.MinCost)
	if err != nil {
		return Piped{}, err
	}
	now := time.Now()
	p := &model.Piped{
		Id:        uuid.New().String(),
		Name:      name,
		ProjectId: c.projectID,
		Status:    model.Piped_OFFLINE,
		CreatedAt: now.Unix(),
		UpdatedAt: now.Unix(),
	}
	if err := p.AddKey(string(hash), "controlplane", now); err != nil {
		return Piped{}, err
	}
	if err := c.pipeds.Add(ctx, p); err != nil {
		return Piped{}, fmt.Errorf("add piped %s: %w", name, err)
	}
	return Piped{ID: p.Id, ProjectID: c.projectID, Key: key}, nil
}

// Application is what registering an application takes, as the console's "Add application" form.
type Application struct {
	Name    string
	PipedID string
	// Repo is the piped's repository (id, remote and branch as in piped.yaml's repositories).
	Repo *model.ApplicationGitRepository
	// Path is the application directory in the repository; ConfigFilename its app.pipecd.yaml.
	Path           string
	ConfigFilename string
	// DeployTargets lists, per plugin name, the deploy targets the application deploys to.
	DeployTargets map[string][]string
	Labels        map[string]string
}

// AddApplication registers an application and returns its ID. Register them before piped starts: piped reads
// its applications at start and then once a minute.
func (c *ControlPlane) AddApplication(ctx context.Context, in Application) (string, error) {
	dts := make(map[string]*model.DeployTargets, len(in.DeployTargets))
	for plugin, names := range in.DeployTargets {
		dts[plugin] = &model.DeployTargets{DeployTargets: names}
	}
	if in.ConfigFilename == "" {
		in.ConfigFilename = model.DefaultApplicationConfigFilename
	}
	app := &model.Application{
		Id:        uuid.New().String(),
		Name:      in.Name,
		PipedId:   in.PipedID,
		ProjectId: c.projectID,
		GitPath: &model.ApplicationGitPath{
			Repo:           in.Repo,
			Path:           in.Path,
			ConfigFilename: in.ConfigFilename,
		},
		DeployTargetsByPlugin: dts,
		Labels:                in.Labels,
	}
	if err := c.applications.Add(ctx, app); err != nil {
		return "", fmt.Errorf("add application %s: %w", in.Name, err)
	}
	return app.Id, nil
}

// Sync asks piped to deploy the application's head commit, as the console's SYNC button does; strategy
// AUTO lets piped decide.
func (c *ControlPlane) Sync(ctx context.Context, appID string, strategy model.SyncStrategy) (string, error) {
	app, err := c.applications.Get(ctx, appID)
	if err != nil {
		return "", fmt.Errorf("application %s: %w", appID, err)
	}
	return c.addCommand(ctx, &model.Command{
		PipedId:       app.PipedId,
		ApplicationId: app.Id,
		Type:          model.Command_SYNC_APPLICATION,
		SyncApplication: &model.Command_SyncApplication{
			ApplicationId: app.Id,
			SyncStrategy:  strategy,
		},
	})
}

// CancelDeployment asks piped to cancel a running deployment, as the console's CANCEL button does (with
// neither force option, piped rolls back when the application's plan has rollback stages).
func (c *ControlPlane) CancelDeployment(ctx context.Context, deploymentID string) (string, error) {
	d, err := c.deployments.Get(ctx, deploymentID)
	if err != nil {
		return "", fmt.Errorf("deployment %s: %w", deploymentID, err)
	}
	return c.addCommand(ctx, &model.Command{
		PipedId:       d.PipedId,
		ApplicationId: d.ApplicationId,
		DeploymentId:  d.Id,
		Type:          model.Command_CANCEL_DEPLOYMENT,
		CancelDeployment: &model.Command_CancelDeployment{
			DeploymentId: d.Id,
		},
	})
}

// PlanPreview is what `pipectl plan-preview` asks a piped for.
type PlanPreview struct {
	PipedID, RepositoryID  string
	HeadBranch, HeadCommit string
	BaseBranch             string
	Timeout                time.Duration
}

// BuildPlanPreview asks a piped for the plan preview of a head commit against a base branch, as pipectl
// plan-preview does; PlanPreviewResults reads the answer.
func (c *ControlPlane) BuildPlanPreview(ctx context.Context, in PlanPreview) (string, error) {
	return c.addCommand(ctx, &model.Command{
		PipedId:   in.PipedID,
		Commander: "pipectl",
		Type:      model.Command_BUILD_PLAN_PREVIEW,
		BuildPlanPreview: &model.Command_BuildPlanPreview{
			RepositoryId: in.RepositoryID,
			HeadBranch:   in.HeadBranch,
			HeadCommit:   in.HeadCommit,
			BaseBranch:   in.BaseBranch,
			Timeout:      int64(in.Timeout / time.Second),
		},
	})
}

func (c *ControlPlane) addCommand(ctx context.Context, cmd *model.Command) (string, error) {
	cmd.Id = uuid.New().String()
	cmd.ProjectId = c.projectID
	if cmd.Commander == "" {
		cmd.Commander = "controlplane"
	}
	if err := c.commands.AddCommand(ctx, cmd); err != nil {
		return "", fmt.Errorf("add command %s: %w", cmd.Type, err)
	}
	return cmd.Id, nil
}

// GetCommand returns a command with its status and the metadata piped reported when it handled it.
func (c *ControlPlane) GetCommand(ctx context.Context, id string) (*model.Command, error) {
	return c.commands.GetCommand(ctx, id)
}

// WaitCommandHandled waits until piped has reported the command handled (succeeded, failed or timed out).
func (c *ControlPlane) WaitCommandHandled(ctx context.Context, id string) (*model.Command, error) {
	var cmd *model.Command
	err := c.wait(ctx, func() (bool, error) {
		var err error
		cmd, err = c.commands.GetCommand(ctx, id)
		return err == nil && cmd.IsHandled(), err
	})
	return cmd, err
}

// CommandOutput is the output piped attached when it reported the command handled (a plan preview's results).
func (c *ControlPlane) CommandOutput(ctx context.Context, id string) ([]byte, error) {
	return c.outputs.Get(ctx, id)
}

// GetDeployment returns a deployment as piped last reported it: its status, its stages with their statuses
// and metadata, its shared and plugin metadata.
func (c *ControlPlane) GetDeployment(ctx context.Context, id string) (*model.Deployment, error) {
	return c.deployments.Get(ctx, id)
}

// ListDeployments returns the application's deployments, oldest first.
func (c *ControlPlane) ListDeployments(ctx context.Context, appID string) ([]*model.Deployment, error) {
	ds, _, err := c.deployments.List(ctx, datastore.ListOptions{
		Filters: []datastore.ListFilter{{Field: "ApplicationId", Operator: datastore.OperatorEqual, Value: appID}},
		Orders:  []datastore.Order{{Field: "CreatedAt", Direction: datastore.Asc}, {Field: "Id", Direction: datastore.Asc}},
	})
	return ds, err
}

// WaitDeployment waits for the application's deployment number n (0 for the first piped created) and returns it
// once done says so (for example: it reached a status).
func (c *ControlPlane) WaitDeployment(ctx context.Context, appID string, n int, done func(*model.Deployment) bool) (*model.Deployment, error) {
	var d *model.Deployment
	err := c.wait(ctx, func() (bool, error) {
		ds, err := c.ListDeployments(ctx, appID)
		if err != nil || len(ds) <= n {
			return false, err
		}
		d = ds[n]
		return done(d), nil
	})
	return d, err
}

// Completed is a WaitDeployment condition: the deployment has ended (success, failure or cancelled).
func Completed(d *model.Deployment) bool { return d.Status.IsCompleted() }

// StageStatus is a WaitDeployment condition: the stage named name has the status.
func StageStatus(name string, s model.StageStatus) func(*model.Deployment) bool {
	return func(d *model.Deployment) bool {
		for _, st := range d.Stages {
			if st.Name == name && st.Status == s {
				return true
			}
		}
		return false
	}
}

// StageLogs returns the log blocks piped reported for a stage, and whether the stage's log is complete.
func (c *ControlPlane) StageLogs(ctx context.Context, deploymentID, stageID string) ([]*model.LogBlock, bool, error) {
	return c.stageLogs.FetchLogs(ctx, deploymentID, stageID, 0, -1)
}

// LiveState returns the last live state snapshot piped reported for the application.
func (c *ControlPlane) LiveState(ctx context.Context, appID string) (*model.ApplicationLiveStateSnapshot, error) {
	return c.liveStates.GetStateSnapshot(ctx, appID)
}

// WaitApplication waits until the application, as piped reported it (sync state, deploying, most recent
// deployments), satisfies done.
func (c *ControlPlane) WaitApplication(ctx context.Context, appID string, done func(*model.Application) bool) (*model.Application, error) {
	var app *model.Application
	err := c.wait(ctx, func() (bool, error) {
		var err error
		app, err = c.applications.Get(ctx, appID)
		return err == nil && done(app), err
	})
	return app, err
}

// wait re-checks cond after every write to the store until it holds, fails or ctx ends.
func (c *ControlPlane) wait(ctx context.Context, cond func() (bool, error)) error {
	for {
		changed := c.ds.Changed()
		ok, err := cond()
		if err != nil && !errors.Is(err, datastore.ErrNotFound) {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Call is what the control plane answered to one RPC method.
type Call struct {
	Method string
	// Codes counts the answers by gRPC status code name ("OK", "Unimplemented", ...).
	Codes map[string]int
}

// Calls lists every RPC method piped called, by name, with its answers.
func (c *ControlPlane) Calls() []Call { return c.calls.list() }

// callLog counts each RPC's answers.
type callLog struct {
	mu    sync.Mutex
	calls map[string]map[string]int
}

func newCallLog() *callLog { return &callLog{calls: map[string]map[string]int{}} }

func (l *callLog) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	l.record(info.FullMethod, err)
	return resp, err
}

func (l *callLog) record(method string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls[method] == nil {
		l.calls[method] = map[string]int{}
	}
	l.calls[method][status.Code(err).String()]++
}

// chain makes handler run behind the interceptor i.
func chain(i grpc.UnaryServerInterceptor, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) grpc.UnaryHandler {
	return func(ctx context.Context, req any) (any, error) { return i(ctx, req, info, handler) }
}

func (l *callLog) list() []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	calls := make([]Call, 0, len(l.calls))
	for m, codes := range l.calls {
		cp := make(map[string]int, len(codes))
		for k, v := range codes {
			cp[k] = v
		}
		calls = append(calls, Call{Method: m, Codes: cp})
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].Method < calls[j].Method })
	return calls
}
