package provider

import (
	"context"
	"errors"
	"fmt"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// connectWorkerPools creates the worker pools client. A pool's revisions are read and deleted with the
// revisions client, under the pool's name.
func (c *Client) connectWorkerPools(ctx context.Context, opts []option.ClientOption) error {
	pools, err := run.NewWorkerPoolsClient(ctx, opts...)
	if err != nil {
		return fmt.Errorf("failed to create the Cloud Run worker pools client: %w", err)
	}
	pools.CallOptions = &run.WorkerPoolsCallOptions{}
	c.pools = pools
	return nil
}

// GetWorkerPool returns the worker pool, or an error wrapping ErrNotFound.
func (c *Client) GetWorkerPool(ctx context.Context, name string) (*runpb.WorkerPool, error) {
	return call(ctx, c, c.readTimeout, "get worker pool", name, func(ctx context.Context) (*runpb.WorkerPool, error) {
		return c.pools.GetWorkerPool(ctx, &runpb.GetWorkerPoolRequest{Name: name})
	})
}

// CreateWorkerPool creates pool (its Name is the full resource name) without waiting for the new revision
// to become ready, as CreateService does. An error wrapping ErrOperationFailed means Cloud Run accepted the
// request but its operation has already failed.
func (c *Client) CreateWorkerPool(ctx context.Context, pool *runpb.WorkerPool) (*runpb.WorkerPool, error) {
	op, err := create(ctx, c, pool, "worker pool", "workerPools", func(ctx context.Context, parent, id string, body *runpb.WorkerPool) (*run.CreateWorkerPoolOperation, error) {
		return c.pools.CreateWorkerPool(ctx, &runpb.CreateWorkerPoolRequest{Parent: parent, WorkerPoolId: id, WorkerPool: body})
	})
	if err != nil {
		return nil, err
	}
	return reported[runpb.WorkerPool](ctx, op, "create worker pool", pool.GetName())
}

// ReplaceWorkerPool replaces every writable field of the worker pool with pool (no update mask) without
// waiting for a new revision to become ready, as ReplaceService does. pool.Etag must be the etag of the
// read the change is based on.
func (c *Client) ReplaceWorkerPool(ctx context.Context, pool *runpb.WorkerPool) (*runpb.WorkerPool, error) {
	var op *run.UpdateWorkerPoolOperation
	if err := c.do(ctx, c.writeTimeout, "update worker pool", pool.GetName(), func(ctx context.Context) (err error) {
		op, err = c.pools.UpdateWorkerPool(ctx, &runpb.UpdateWorkerPoolRequest{WorkerPool: pool})
		return err
	}); err != nil {
		return nil, err
	}
	return reported[runpb.WorkerPool](ctx, op, "update worker pool", pool.GetName())
}

// ValidateWorkerPool asks Cloud Run to check pool without applying it (validate_only): a creation when
// create is true, else a replacement as ReplaceWorkerPool sends it.
func (c *Client) ValidateWorkerPool(ctx context.Context, pool *runpb.WorkerPool, create bool) error {
	return validate(ctx, c, pool, "worker pool", "workerPools", create, func(ctx context.Context) error {
		_, err := c.pools.UpdateWorkerPool(ctx, &runpb.UpdateWorkerPoolRequest{WorkerPool: pool, ValidateOnly: true})
		return err
	}, func(ctx context.Context, parent, id string, body *runpb.WorkerPool) error {
		_, err := c.pools.CreateWorkerPool(ctx, &runpb.CreateWorkerPoolRequest{Parent: parent, WorkerPoolId: id, WorkerPool: body, ValidateOnly: true})
		return err
	})
}

// UpdateInstanceSplit replaces only the instance split of the worker pool (update mask "instance_splits")
// and waits until Cloud Run has applied it. etag must be the etag of the read the new split is based on.
func (c *Client) UpdateInstanceSplit(ctx context.Context, name, etag string, splits []*runpb.InstanceSplit) (*runpb.WorkerPool, error) {
	req := &runpb.UpdateWorkerPoolRequest{
		WorkerPool: &runpb.WorkerPool{Name: name, Etag: etag, InstanceSplits: splits},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"instance_splits"}},
	}
	var op *run.UpdateWorkerPoolOperation
	if err := c.do(ctx, c.writeTimeout, "update instance split of worker pool", name, func(ctx context.Context) (err error) {
		op, err = c.pools.UpdateWorkerPool(ctx, req)
		return err
	}); err != nil {
		return nil, err
	}
	return wait[runpb.WorkerPool](ctx, c, op, "update instance split of worker pool", name)
}

// DeleteWorkerPool deletes the worker pool and waits for the deletion. A pool that is already gone counts
// as deleted.
func (c *Client) DeleteWorkerPool(ctx context.Context, name, etag string) error {
	var op *run.DeleteWorkerPoolOperation
	err := c.do(ctx, c.writeTimeout, "delete worker pool", name, func(ctx context.Context) (err error) {
		op, err = c.pools.DeleteWorkerPool(ctx, &runpb.DeleteWorkerPoolRequest{Name: name, Etag: etag})
		return err
	})
	if err == nil {
		_, err = wait[runpb.WorkerPool](ctx, c, op, "delete worker pool", name)
	}
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
