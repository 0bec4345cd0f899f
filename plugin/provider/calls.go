package provider

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
)

// named is a Cloud Run resource with a full name: a service, a job or a worker pool.
type named interface {
	proto.Message
	GetName() string
}

// call sends request (what, on resource) with timeout, retried as do retries, and returns its result.
func call[T any](ctx context.Context, c *Client, timeout time.Duration, what, resource string, request func(context.Context) (T, error)) (T, error) {
	var out T
	err := c.do(ctx, timeout, what, resource, func(ctx context.Context) (err error) {
		out, err = request(ctx)
		return err
	})
	return out, err
}

// creation splits the full name of res, of kind in collection, into the parent and ID of a create request
// and returns a copy of res with an empty name, as the create requests require.
func creation[R named](res R, kind, collection string) (parent, id string, body R, err error) {
	parent, id, err = splitName(res.GetName(), kind, collection)
	if err != nil {
		return "", "", body, err
	}
	body = proto.Clone(res).(R)
	m := body.ProtoReflect()
	m.Clear(m.Descriptor().Fields().ByName("name"))
	return parent, id, body, nil
}

// create sends the create request of res, of kind in collection; send builds it from the parent, the ID and
// res without its name.
func create[R named, O any](ctx context.Context, c *Client, res R, kind, collection string, send func(ctx context.Context, parent, id string, body R) (O, error)) (O, error) {
	parent, id, body, err := creation(res, kind, collection)
	if err != nil {
		var none O
		return none, err
	}
	return call(ctx, c, c.writeTimeout, "create "+kind, res.GetName(), func(ctx context.Context) (O, error) {
		return send(ctx, parent, id, body)
	})
}

// validate asks Cloud Run to check res, of kind in collection, without applying it (validate_only): the
// creation send builds when create is true, else the replacement update sends.
func validate[R named](ctx context.Context, c *Client, res R, kind, collection string, create bool,
	update func(context.Context) error, send func(ctx context.Context, parent, id string, body R) error) error {
	if !create {
		return c.do(ctx, c.writeTimeout, "validate the update of "+kind, res.GetName(), update)
	}
	parent, id, body, err := creation(res, kind, collection)
	if err != nil {
		return err
	}
	return c.do(ctx, c.writeTimeout, "validate the creation of "+kind, res.GetName(), func(ctx context.Context) error {
		return send(ctx, parent, id, body)
	})
}
