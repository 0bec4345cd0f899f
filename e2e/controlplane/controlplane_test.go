package controlplane

import (
	"context"
	"testing"
	"time"

	"github.com/pipe-cd/pipecd/pkg/app/server/service/pipedservice"
	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/pipe-cd/pipecd/pkg/rpc/rpcauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// start runs a control plane with one piped and one application, and returns a client authenticated as that
// piped (the piped token in the authorization header, as pipedv1 sends it).
func start(t *testing.T) (*ControlPlane, Piped, string, pipedservice.PipedServiceClient, *grpc.ClientConn) {
	t.Helper()
	ctx := t.Context()
	cp, err := Start(ctx, Options{})
	require.NoError(t, err)
	t.Cleanup(cp.Close)
	p, err := cp.AddPiped(ctx, "test")
	require.NoError(t, err)
	appID, err := cp.AddApplication(ctx, Application{
		Name: "canary", PipedID: p.ID, Path: "canary",
		Repo:          &model.ApplicationGitRepository{Id: "examples", Remote: "file:///repo", Branch: "main"},
		DeployTargets: map[string][]string{"cloudrun": {"local"}},
	})
	require.NoError(t, err)
	conn, err := grpc.NewClient(cp.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return cp, p, appID, pipedservice.NewPipedServiceClient(conn), conn
}

func asPiped(ctx context.Context, p Piped, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization",
		string(rpcauth.PipedTokenCredentials)+" "+rpcauth.MakePipedToken(p.ProjectID, p.ID, key))
}

func TestPipedKeyAuthentication(t *testing.T) {
	t.Parallel()
	_, p, appID, client, _ := start(t)

	_, err := client.ListApplications(t.Context(), &pipedservice.ListApplicationsRequest{})
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "no credentials")
	_, err = client.ListApplications(asPiped(t.Context(), p, "wrong-key"), &pipedservice.ListApplicationsRequest{})
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "a wrong key")

	res, err := client.ListApplications(asPiped(t.Context(), p, p.Key), &pipedservice.ListApplicationsRequest{})
	require.NoError(t, err)
	require.Len(t, res.Applications, 1)
	assert.Equal(t, appID, res.Applications[0].Id)
	assert.Equal(t, map[string]*model.DeployTargets{"cloudrun": {DeployTargets: []string{"local"}}}, res.Applications[0].DeployTargetsByPlugin)
}

func TestDeploymentAsPipedReportsIt(t *testing.T) {
	t.Parallel()
	cp, p, appID, client, _ := start(t)
	ctx := asPiped(t.Context(), p, p.Key)
	now := time.Now().Unix()

	d := &model.Deployment{
		Id: "d1", ApplicationId: appID, ApplicationName: "canary", PipedId: p.ID, ProjectId: p.ProjectID,
		GitPath: &model.ApplicationGitPath{Repo: &model.ApplicationGitRepository{Id: "examples"}, Path: "canary"},
		Trigger: &model.DeploymentTrigger{Commit: &model.Commit{Hash: "abc", Message: "m", Author: "a", Branch: "main", CreatedAt: now}, Timestamp: now},
		Status:  model.DeploymentStatus_DEPLOYMENT_PENDING,
	}
	_, err := client.CreateDeployment(ctx, &pipedservice.CreateDeploymentRequest{Deployment: d})
	require.NoError(t, err)
	stage := &model.PipelineStage{Id: "s1", Name: "CLOUDRUN_SYNC", Status: model.StageStatus_STAGE_NOT_STARTED_YET, CreatedAt: now, UpdatedAt: now}
	_, err = client.ReportDeploymentPlanned(ctx, &pipedservice.ReportDeploymentPlannedRequest{DeploymentId: "d1", Summary: "Quick sync", Stages: []*model.PipelineStage{stage}})
	require.NoError(t, err)
	_, err = client.ReportStageLogsFromLastCheckpoint(ctx, &pipedservice.ReportStageLogsFromLastCheckpointRequest{
		DeploymentId: "d1", StageId: "s1", Completed: true,
		Blocks: []*model.LogBlock{{Index: 1, Log: "Deploying", Severity: model.LogSeverity_INFO, CreatedAt: now}},
	})
	require.NoError(t, err)
	// The first plugin metadata of a deployment: pipecd's own store would dereference a nil entry here.
	_, err = client.SaveDeploymentPluginMetadata(ctx, &pipedservice.SaveDeploymentPluginMetadataRequest{
		DeploymentId: "d1", PluginName: "cloudrun", Metadata: map[string]string{"k": "v"},
	})
	require.NoError(t, err)
	_, err = client.ReportStageStatusChanged(ctx, &pipedservice.ReportStageStatusChangedRequest{DeploymentId: "d1", StageId: "s1", Status: model.StageStatus_STAGE_SUCCESS, CompletedAt: now})
	require.NoError(t, err)
	_, err = client.ReportDeploymentCompleted(ctx, &pipedservice.ReportDeploymentCompletedRequest{DeploymentId: "d1", Status: model.DeploymentStatus_DEPLOYMENT_SUCCESS, CompletedAt: now})
	require.NoError(t, err)

	got, err := cp.WaitDeployment(t.Context(), appID, 0, Completed)
	require.NoError(t, err)
	assert.Equal(t, model.DeploymentStatus_DEPLOYMENT_SUCCESS, got.Status)
	assert.Equal(t, "Quick sync", got.Summary)
	require.Len(t, got.Stages, 1)
	assert.Equal(t, model.StageStatus_STAGE_SUCCESS, got.Stages[0].Status)
	assert.Equal(t, map[string]string{"k": "v"}, got.MetadataV2.Plugins["cloudrun"].KeyValues)
	blocks, completed, err := cp.StageLogs(t.Context(), "d1", "s1")
	require.NoError(t, err)
	assert.True(t, completed)
	require.Len(t, blocks, 1)
	assert.Equal(t, "Deploying", blocks[0].Log)
}

func TestCommandsReachPipedAndTheirResultsComeBack(t *testing.T) {
	t.Parallel()
	cp, p, appID, client, _ := start(t)
	ctx := asPiped(t.Context(), p, p.Key)

	id, err := cp.Sync(t.Context(), appID, model.SyncStrategy_QUICK_SYNC)
	require.NoError(t, err)
	res, err := client.ListUnhandledCommands(ctx, &pipedservice.ListUnhandledCommandsRequest{})
	require.NoError(t, err)
	require.Len(t, res.Commands, 1)
	assert.Equal(t, model.Command_SYNC_APPLICATION, res.Commands[0].Type)
	assert.Equal(t, model.SyncStrategy_QUICK_SYNC, res.Commands[0].SyncApplication.SyncStrategy)

	_, err = client.ReportCommandHandled(ctx, &pipedservice.ReportCommandHandledRequest{
		CommandId: id, Status: model.CommandStatus_COMMAND_SUCCEEDED, HandledAt: time.Now().Unix(), Output: []byte("result"),
	})
	require.NoError(t, err)
	cmd, err := cp.WaitCommandHandled(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, model.CommandStatus_COMMAND_SUCCEEDED, cmd.Status)
	out, err := cp.CommandOutput(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, "result", string(out))
	res, err = client.ListUnhandledCommands(ctx, &pipedservice.ListUnhandledCommandsRequest{})
	require.NoError(t, err)
	assert.Empty(t, res.Commands)
}

func TestSyncStateAndLiveState(t *testing.T) {
	t.Parallel()
	cp, p, appID, client, _ := start(t)
	ctx := asPiped(t.Context(), p, p.Key)

	_, err := client.ReportApplicationSyncState(ctx, &pipedservice.ReportApplicationSyncStateRequest{
		ApplicationId: appID, State: &model.ApplicationSyncState{Status: model.ApplicationSyncStatus_OUT_OF_SYNC, ShortReason: "image", Timestamp: time.Now().Unix()},
	})
	require.NoError(t, err)
	app, err := cp.WaitApplication(t.Context(), appID, func(a *model.Application) bool { return a.SyncState != nil })
	require.NoError(t, err)
	assert.Equal(t, "image", app.SyncState.ShortReason)

	_, err = client.ReportApplicationLiveState(ctx, &pipedservice.ReportApplicationLiveStateRequest{Snapshot: &model.ApplicationLiveStateSnapshot{
		ApplicationId: appID, PipedId: p.ID, ProjectId: p.ProjectID,
		ApplicationLiveState: &model.ApplicationLiveState{Resources: []*model.ResourceState{{Id: "svc", Name: "canary", CreatedAt: time.Now().Unix(), UpdatedAt: time.Now().Unix()}}},
		Version:              &model.ApplicationLiveStateVersion{Timestamp: time.Now().Unix()},
	}})
	require.NoError(t, err)
	ls, err := cp.LiveState(t.Context(), appID)
	require.NoError(t, err)
	require.Len(t, ls.ApplicationLiveState.Resources, 1)
	assert.Equal(t, "canary", ls.ApplicationLiveState.Resources[0].Name)
}

func TestAnRPCOfAnotherServiceIsUnimplementedByName(t *testing.T) {
	t.Parallel()
	cp, _, _, _, conn := start(t)
	err := conn.Invoke(t.Context(), "/grpc.service.other.Other/Call", &emptypb.Empty{}, &emptypb.Empty{})
	assert.Equal(t, codes.Unimplemented, status.Code(err))
	assert.Contains(t, status.Convert(err).Message(), "/grpc.service.other.Other/Call")
	assert.Contains(t, cp.Calls(), Call{Method: "/grpc.service.other.Other/Call", Codes: map[string]int{"Unimplemented": 1}})
}

func TestWaitEndsWithItsContext(t *testing.T) {
	t.Parallel()
	cp, _, appID, _, _ := start(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := cp.WaitDeployment(ctx, appID, 0, Completed)
	assert.ErrorIs(t, err, context.Canceled)
}
