package provider

import (
	"context"
	"errors"
	"sync"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
)

// Registry keeps one Client per deploy target, created on first use and reused by every stage.
// It is safe for concurrent use; concurrent first calls for the same target create one client.
type Registry struct {
	opts []Option

	mu      sync.Mutex
	clients map[string]*registryEntry
}

type registryEntry struct {
	cfg    config.DeployTargetConfig
	ready  chan struct{} // closed when client or err is set
	client *Client
	err    error
}

// NewRegistry returns an empty registry; opts are applied to every client it creates.
func NewRegistry(opts ...Option) *Registry {
	return &Registry{opts: opts, clients: make(map[string]*registryEntry)}
}

// Client returns the client of the deploy target named target, creating it when needed. A target whose
// configuration changed gets a new client (the old one stays open for calls in flight). A failed creation
// is not cached, so the next call tries again.
func (r *Registry) Client(ctx context.Context, target string, cfg config.DeployTargetConfig) (*Client, error) {
	r.mu.Lock()
	e, ok := r.clients[target]
	if !ok || e.cfg != cfg {
		e = &registryEntry{cfg: cfg, ready: make(chan struct{})}
		r.clients[target] = e
		r.mu.Unlock()
		e.client, e.err = NewClient(ctx, cfg, r.opts...)
		if e.err != nil {
			r.mu.Lock()
			if r.clients[target] == e {
				delete(r.clients, target)
			}
			r.mu.Unlock()
		}
		close(e.ready)
	} else {
		r.mu.Unlock()
	}
	select {
	case <-e.ready:
		return e.client, e.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// Close closes every client created so far.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for name, e := range r.clients {
		select {
		case <-e.ready:
			if e.client != nil {
				errs = append(errs, e.client.Close())
			}
		default:
		}
		delete(r.clients, name)
	}
	return errors.Join(errs...)
}
