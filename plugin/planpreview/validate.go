package planpreview

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

const validateTimeout = 30 * time.Second

// validators keeps one Cloud Run services client per deploy target for validate_only requests, which
// provider.Client does not send.
type validators struct {
	mu      sync.Mutex
	clients map[string]*validatorEntry
}

type validatorEntry struct {
	cfg    config.DeployTargetConfig
	client *run.ServicesClient
}

func newValidators() *validators {
	return &validators{clients: map[string]*validatorEntry{}}
}

// client returns the client of target, creating it (again, when its config changed) as needed.
func (v *validators) client(ctx context.Context, target string, cfg config.DeployTargetConfig) (*run.ServicesClient, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.clients[target]; ok {
		if e.cfg == cfg {
			return e.client, nil
		}
		_ = e.client.Close()
		delete(v.clients, target)
	}
	opts := []option.ClientOption{}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	switch {
	case cfg.Insecure:
		opts = append(opts, option.WithoutAuthentication(), option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	case cfg.CredentialsFile != "":
		opts = append(opts, option.WithAuthCredentialsFile(option.ServiceAccount, cfg.CredentialsFile))
	}
	c, err := run.NewServicesClient(context.WithoutCancel(ctx), opts...)
	if err != nil {
		return nil, fmt.Errorf("failed to create the Cloud Run services client: %w", err)
	}
	v.clients[target] = &validatorEntry{cfg: cfg, client: c}
	return c, nil
}

// close closes every client.
func (v *validators) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for name, e := range v.clients {
		_ = e.client.Close()
		delete(v.clients, name)
	}
}

// validateOnly asks Cloud Run to check svc without applying it: an update of the existing service, or a
// creation when create is true. It returns Cloud Run's objection, or nil when it accepts the request.
// The operation of a validate_only request is not waited for: Cloud Run does not keep it.
func validateOnly(ctx context.Context, c *run.ServicesClient, svc *runpb.Service, create bool) error {
	ctx, cancel := context.WithTimeout(ctx, validateTimeout)
	defer cancel()
	var err error
	if create {
		parent, id, ok := strings.Cut(svc.GetName(), "/services/")
		if !ok {
			return fmt.Errorf("service name %q is not a full resource name", svc.GetName())
		}
		body := cloneService(svc)
		body.Name = ""
		_, err = c.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: id, Service: body, ValidateOnly: true})
	} else {
		_, err = c.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc, ValidateOnly: true})
	}
	if err != nil {
		s := status.Convert(err)
		return fmt.Errorf("%s: %s", s.Code(), s.Message())
	}
	return nil
}
