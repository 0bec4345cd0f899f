package controlplane

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/pipe-cd/pipecd/pkg/app/server/service/pipedservice"
	"github.com/pipe-cd/pipecd/pkg/datastore"
	"github.com/pipe-cd/pipecd/pkg/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// deploymentCollection names the deployments' kind in the datastore, as pipecd's own deployment store does.
type deploymentCollection struct{}

func (deploymentCollection) Kind() string { return "Deployment" }

func (deploymentCollection) Factory() datastore.Factory {
	return func() interface{} { return &model.Deployment{} }
}

// seedPluginMetadata works around a crash of pipecd's deployment store at the pinned version: its
// UpdatePluginMetadata reads d.MetadataV2.Plugins[plugin].KeyValues, a nil pointer on a plugin's first save,
// so the first SaveDeploymentPluginMetadata of every deployment panics the server. Before that RPC the control
// plane adds the plugin's empty entry, and pipecd's handler then merges the metadata into it, as intended.
func (c *ControlPlane) seedPluginMetadata(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if r, ok := req.(*pipedservice.SaveDeploymentPluginMetadataRequest); ok && r.GetDeploymentId() != "" {
		err := c.ds.Update(ctx, deploymentCollection{}, r.GetDeploymentId(), func(e interface{}) error {
			d := e.(*model.Deployment)
			if d.MetadataV2 == nil {
				d.MetadataV2 = &model.DeploymentMetadata{}
			}
			if d.MetadataV2.Plugins == nil {
				d.MetadataV2.Plugins = map[string]*model.DeploymentMetadata_KeyValues{}
			}
			if d.MetadataV2.Plugins[r.GetPluginName()] == nil {
				d.MetadataV2.Plugins[r.GetPluginName()] = &model.DeploymentMetadata_KeyValues{}
			}
			return nil
		})
		if err != nil && !errors.Is(err, datastore.ErrNotFound) {
			return nil, status.Errorf(codes.Internal, "seed the plugin metadata of deployment %s: %v", r.GetDeploymentId(), err)
		}
	}
	return handler(ctx, req)
}

// recoverPanics answers Internal, naming the RPC, where one of pipecd's handlers panics: the real server's
// process would crash there (pkg/rpc has no recovery), this one stays up so that the test can report it.
func recoverPanics(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = status.Error(codes.Internal, fmt.Sprintf("controlplane: pipecd's %s handler panicked: %v\n%s", info.FullMethod, r, debug.Stack()))
		}
	}()
	return handler(ctx, req)
}
