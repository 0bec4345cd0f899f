package piped

import (
	"context"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pipe-cd/pipecd/pkg/app/pipedv1/cmd/piped/grpcapi"
	"github.com/pipe-cd/pipecd/pkg/app/pipedv1/metadatastore"
	"github.com/pipe-cd/pipecd/pkg/app/server/service/pipedservice"
	config "github.com/pipe-cd/pipecd/pkg/configv1"
	"github.com/pipe-cd/pipecd/pkg/model"
	service "github.com/pipe-cd/pipecd/pkg/plugin/pipedservice"
	"github.com/pipe-cd/pipecd/pkg/rpc"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// LogLine is one stage log block reported by a plugin.
type LogLine struct {
	Index    int64
	Severity model.LogSeverity
	Text     string
	// Created is when the plugin wrote the line (second resolution, as in model.LogBlock).
	Created time.Time
	// Arrived is when the stand-in received it.
	Arrived time.Time
}

// stageLog collects the blocks of one stage, deduplicated by index.
type stageLog struct {
	lines map[int64]LogLine
}

// controlPlane is the in-memory stand-in of the PipeCD control plane, as far as the plugin API needs one:
// stage logs, metadata persistence, application shared objects and stage commands.
type controlPlane struct {
	mu            sync.Mutex
	logs          map[string]*stageLog // key: deploymentID/stageID
	stageMeta     map[string]map[string]string
	pluginMeta    map[pluginKey]map[string]string
	sharedObjects map[string][]byte           // key: appID/plugin/key
	commands      map[string][]*model.Command // key: deploymentID/stageID
	rejections    map[string]string           // key: deploymentID/stageID, value: who rejected
	onLog         func(deploymentID, stageID string, line LogLine)
}

func newControlPlane() *controlPlane {
	return &controlPlane{
		logs:          map[string]*stageLog{},
		stageMeta:     map[string]map[string]string{},
		pluginMeta:    map[pluginKey]map[string]string{},
		sharedObjects: map[string][]byte{},
		commands:      map[string][]*model.Command{},
		rejections:    map[string]string{},
	}
}

type pluginKey struct{ deploymentID, plugin string }

func stageKey(deploymentID, stageID string) string { return deploymentID + "/" + stageID }

func (c *controlPlane) addBlocks(deploymentID, stageID string, blocks []*model.LogBlock) {
	now := time.Now()
	var fresh []LogLine
	c.mu.Lock()
	key := stageKey(deploymentID, stageID)
	sl, ok := c.logs[key]
	if !ok {
		sl = &stageLog{lines: map[int64]LogLine{}}
		c.logs[key] = sl
	}
	for _, b := range blocks {
		if _, dup := sl.lines[b.Index]; dup {
			continue
		}
		line := LogLine{Index: b.Index, Severity: b.Severity, Text: b.Log, Created: time.Unix(b.CreatedAt, 0), Arrived: now}
		sl.lines[b.Index] = line
		fresh = append(fresh, line)
	}
	onLog := c.onLog
	c.mu.Unlock()
	if onLog != nil {
		slices.SortFunc(fresh, func(a, b LogLine) int { return int(a.Index - b.Index) })
		for _, l := range fresh {
			onLog(deploymentID, stageID, l)
		}
	}
}

// stageLogs returns the stage's log lines ordered by index.
func (c *controlPlane) stageLogs(deploymentID, stageID string) []LogLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	sl, ok := c.logs[stageKey(deploymentID, stageID)]
	if !ok {
		return nil
	}
	lines := make([]LogLine, 0, len(sl.lines))
	for _, l := range sl.lines {
		lines = append(lines, l)
	}
	slices.SortFunc(lines, func(a, b LogLine) int { return int(a.Index - b.Index) })
	return lines
}

func (c *controlPlane) ReportStageLogs(_ context.Context, req *pipedservice.ReportStageLogsRequest, _ ...grpc.CallOption) (*pipedservice.ReportStageLogsResponse, error) {
	c.addBlocks(req.DeploymentId, req.StageId, req.Blocks)
	return &pipedservice.ReportStageLogsResponse{}, nil
}

func (c *controlPlane) ReportStageLogsFromLastCheckpoint(_ context.Context, req *pipedservice.ReportStageLogsFromLastCheckpointRequest, _ ...grpc.CallOption) (*pipedservice.ReportStageLogsFromLastCheckpointResponse, error) {
	c.addBlocks(req.DeploymentId, req.StageId, req.Blocks)
	return &pipedservice.ReportStageLogsFromLastCheckpointResponse{}, nil
}

func (c *controlPlane) GetApplicationSharedObject(_ context.Context, req *pipedservice.GetApplicationSharedObjectRequest, _ ...grpc.CallOption) (*pipedservice.GetApplicationSharedObjectResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	obj, ok := c.sharedObjects[req.ApplicationId+"/"+req.PluginName+"/"+req.Key]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "shared object %q of plugin %q not found", req.Key, req.PluginName)
	}
	return &pipedservice.GetApplicationSharedObjectResponse{Object: obj}, nil
}

func (c *controlPlane) PutApplicationSharedObject(_ context.Context, req *pipedservice.PutApplicationSharedObjectRequest, _ ...grpc.CallOption) (*pipedservice.PutApplicationSharedObjectResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sharedObjects[req.ApplicationId+"/"+req.PluginName+"/"+req.Key] = slices.Clone(req.Object)
	return &pipedservice.PutApplicationSharedObjectResponse{}, nil
}

func (c *controlPlane) SaveDeploymentPluginMetadata(_ context.Context, req *pipedservice.SaveDeploymentPluginMetadataRequest, _ ...grpc.CallOption) (*pipedservice.SaveDeploymentPluginMetadataResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pluginMeta[pluginKey{req.DeploymentId, req.PluginName}] = cloneMap(req.Metadata)
	return &pipedservice.SaveDeploymentPluginMetadataResponse{}, nil
}

func (c *controlPlane) SaveStageMetadata(_ context.Context, req *pipedservice.SaveStageMetadataRequest, _ ...grpc.CallOption) (*pipedservice.SaveStageMetadataResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stageMeta[stageKey(req.DeploymentId, req.StageId)] = cloneMap(req.Metadata)
	return &pipedservice.SaveStageMetadataResponse{}, nil
}

// persistedMetadata copies the saved metadata into d, as the control plane does when piped reloads a deployment.
func (c *controlPlane) persistedMetadata(d *model.Deployment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range d.Stages {
		if md, ok := c.stageMeta[stageKey(d.Id, s.Id)]; ok {
			s.Metadata = cloneMap(md)
		}
	}
	for key, md := range c.pluginMeta {
		if key.deploymentID != d.Id {
			continue
		}
		if d.MetadataV2 == nil {
			d.MetadataV2 = &model.DeploymentMetadata{}
		}
		if d.MetadataV2.Plugins == nil {
			d.MetadataV2.Plugins = map[string]*model.DeploymentMetadata_KeyValues{}
		}
		d.MetadataV2.Plugins[key.plugin] = &model.DeploymentMetadata_KeyValues{KeyValues: cloneMap(md)}
	}
}

// ListStageCommands implements the stage command lister of the plugin API.
func (c *controlPlane) ListStageCommands(deploymentID, stageID string) []*model.Command {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.commands[stageKey(deploymentID, stageID)])
}

func (c *controlPlane) addCommand(deploymentID, stageID string, cmd *model.Command) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := stageKey(deploymentID, stageID)
	c.commands[key] = append(c.commands[key], cmd)
}

// reject records that the WAIT_APPROVAL stage was rejected by commander.
func (c *controlPlane) reject(deploymentID, stageID, commander string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rejections[stageKey(deploymentID, stageID)] = commander
}

func (c *controlPlane) rejection(deploymentID, stageID string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	by, ok := c.rejections[stageKey(deploymentID, stageID)]
	return by, ok
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// pluginService serves piped's real PluginAPI (grpcapi.PluginAPI). The metadata registry it uses is a plain map,
// so registration and the metadata RPCs (lockMetadata) are serialised by mu.
type pluginService struct {
	*grpcapi.PluginAPI
	mu       sync.RWMutex
	registry *metadatastore.MetadataStoreRegistry
	// tmpDirs are the temporary directories NewPluginAPI created (it never removes them).
	tmpDirs []string
}

// removeTempDirs removes the tool registry's temporary directories while they are empty.
func (s *pluginService) removeTempDirs() {
	for _, dir := range s.tmpDirs {
		_ = os.Remove(dir)
	}
}

func (s *pluginService) register(d *model.Deployment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.registry.Register(d)
}

func (s *pluginService) unregister(deploymentID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.registry.Delete(deploymentID)
}

// metadataRPCs are the PluginService methods that read or write the metadata registry.
var metadataRPCs = []string{
	"GetStageMetadata", "PutStageMetadata", "PutStageMetadataMulti",
	"GetDeploymentPluginMetadata", "PutDeploymentPluginMetadata", "PutDeploymentPluginMetadataMulti",
	"GetDeploymentSharedMetadata",
}

// lockMetadata is a unary interceptor that runs the metadata RPCs under the read lock, so that they never
// meet a registration or a deletion of the registry.
func (s *pluginService) lockMetadata(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if slices.Contains(metadataRPCs, path.Base(info.FullMethod)) {
		s.mu.RLock()
		defer s.mu.RUnlock()
	}
	return handler(ctx, req)
}

// toolRegistryPattern matches the temporary directory pipedv1's NewPluginAPI creates for its tool registry.
var toolRegistryPattern = filepath.Join(os.TempDir(), "tool-registry*")

// servePluginService starts piped's PluginService on 127.0.0.1 with piped's request validation.
func servePluginService(cp *controlPlane, toolsDir string, logger *zap.Logger) (*pluginService, *grpc.Server, net.Listener, error) {
	registry := metadatastore.NewMetadataStoreRegistry(cp)
	before, _ := filepath.Glob(toolRegistryPattern)
	api, err := grpcapi.NewPluginAPI(&config.PipedSpec{}, cp, toolsDir, logger, registry, cp)
	if err != nil {
		return nil, nil, nil, err
	}
	svc := &pluginService{PluginAPI: api, registry: registry}
	after, _ := filepath.Glob(toolRegistryPattern)
	for _, dir := range after {
		if !slices.Contains(before, dir) {
			svc.tmpDirs = append(svc.tmpDirs, dir)
		}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, err
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(rpc.RequestValidationUnaryServerInterceptor(), svc.lockMetadata))
	service.RegisterPluginServiceServer(srv, svc)
	go func() { _ = srv.Serve(lis) }()
	return svc, srv, lis, nil
}
