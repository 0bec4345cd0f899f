// Package provider is the plugin's only door to Google Cloud: a Cloud Run Admin API v2 client
// (cloud.google.com/go/run/apiv2 over gRPC) and a Cloud Monitoring API v3 client
// (cloud.google.com/go/monitoring/apiv3/v2, created on first use) with retries of transient errors, error messages that say
// what to fix, and a registry that keeps one client per deploy target.
package provider

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/stagetime"
)

// Default timeouts and retries. They are Google's own per-call timeouts for the Cloud Run Admin API, and a
// retry budget that makes a call to an endpoint that does not answer fail within about 45 seconds (for
// example 4 reads: 10s + 0.5s + 10s + 1s + 10s + 2s + 10s = 43.5s), instead of minutes.
const (
	// defaultReadTimeout bounds one attempt of a read (get, list, poll of an operation).
	defaultReadTimeout = 10 * time.Second
	// defaultWriteTimeout bounds one attempt of a write (create, update, delete).
	defaultWriteTimeout = 15 * time.Second
	// defaultRetryBudget is the time after the first attempt of a call within which a retry may start.
	defaultRetryBudget  = 45 * time.Second
	defaultPollInterval = time.Second
	defaultRetryInitial = 500 * time.Millisecond
	defaultRetryMax     = 8 * time.Second
	defaultMaxAttempts  = 6
)

// Client talks to the Cloud Run Admin API v2 and the Cloud Monitoring API v3 of one deploy target. It is
// safe for concurrent use.
type Client struct {
	services     *run.ServicesClient
	revisions    *run.RevisionsClient
	clientOpts   []option.ClientOption
	metricsMu    sync.Mutex
	metrics      *monitoring.MetricClient // created on first use, see monitoringClient
	jobs         *run.JobsClient
	executions   *run.ExecutionsClient
	tasks        *run.TasksClient
	pools        *run.WorkerPoolsClient
	pollInterval time.Duration
	readTimeout  time.Duration
	writeTimeout time.Duration
	retryInitial time.Duration
	retryMax     time.Duration
	retryBudget  time.Duration
	maxAttempts  int
	extra        []option.ClientOption
	// endpoint and insecure say where and how the client connects, for error messages.
	endpoint string
	insecure bool
	// customEndpoint is the deploy target's endpoint (empty for Google's), which also serves the
	// services' URLs (see Invoker); credentialsFile its key file (empty for ADC).
	customEndpoint, credentialsFile string
}

// Option configures a Client.
type Option func(*Client)

// WithPollInterval sets how often a running operation is polled (default 1s).
func WithPollInterval(d time.Duration) Option {
	return func(c *Client) { c.pollInterval = d }
}

// WithRetry sets the backoff for transient errors (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED):
// the first retry waits initial, each next one twice as long up to max, and a call is sent at most attempts times
// (defaults 500ms, 8s, 6).
func WithRetry(initial, max time.Duration, attempts int) Option {
	return func(c *Client) {
		c.retryInitial, c.retryMax, c.maxAttempts = initial, max, attempts
	}
}

// WithCallTimeouts sets how long one attempt of a read (get, list, poll) and of a write (create, update,
// delete) may take before it counts as a transient DEADLINE_EXCEEDED (defaults 10s and 15s).
func WithCallTimeouts(read, write time.Duration) Option {
	return func(c *Client) { c.readTimeout, c.writeTimeout = read, write }
}

// WithRetryBudget sets how long after its first attempt a call may still be retried (default 45s). No
// retry starts after that, nor when it would start after the deadline of the caller's context.
func WithRetryBudget(d time.Duration) Option {
	return func(c *Client) { c.retryBudget = d }
}

// WithClientOptions appends options for the underlying Google API clients.
func WithClientOptions(opts ...option.ClientOption) Option {
	return func(c *Client) { c.extra = append(c.extra, opts...) }
}

// NewClient connects to the Cloud Run API of the deploy target cfg, which config has validated.
func NewClient(ctx context.Context, cfg config.DeployTargetConfig, opts ...Option) (*Client, error) {
	c := &Client{
		pollInterval: defaultPollInterval,
		readTimeout:  defaultReadTimeout,
		writeTimeout: defaultWriteTimeout,
		retryInitial: defaultRetryInitial,
		retryMax:     defaultRetryMax,
		retryBudget:  defaultRetryBudget,
		maxAttempts:  defaultMaxAttempts,
		endpoint:     cmp.Or(cfg.Endpoint, defaultEndpoint),
		insecure:     cfg.Insecure,

		customEndpoint:  cfg.Endpoint,
		credentialsFile: cfg.CredentialsFile,
	}
	for _, o := range opts {
		o(c)
	}
	clientOpts, err := clientOptions(cfg)
	if err != nil {
		return nil, err
	}
	clientOpts = append(clientOpts, c.extra...)

	// The clients outlive the stage that creates them, so they must not inherit its cancellation.
	ctx = context.WithoutCancel(ctx)
	services, err := run.NewServicesClient(ctx, clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("failed to create the Cloud Run services client: %w", err)
	}
	revisions, err := run.NewRevisionsClient(ctx, clientOpts...)
	if err != nil {
		_ = services.Close()
		return nil, fmt.Errorf("failed to create the Cloud Run revisions client: %w", err)
	}
	// The plugin retries and times out each attempt by itself (see do), so the generated clients get
	// no call options: their own timeouts would be ignored under a context with a deadline anyway.
	services.CallOptions = &run.ServicesCallOptions{}
	revisions.CallOptions = &run.RevisionsCallOptions{}
	c.services, c.revisions, c.clientOpts = services, revisions, clientOpts
	if err := c.connectJobs(ctx, clientOpts); err != nil {
		_ = errors.Join(services.Close(), revisions.Close())
		return nil, err
	}
	if err := c.connectWorkerPools(ctx, clientOpts); err != nil {
		_ = errors.Join(services.Close(), revisions.Close(), c.jobs.Close(), c.executions.Close(), c.tasks.Close())
		return nil, err
	}
	return c, nil
}

// clientOptions says how to reach the API: the endpoint, and plaintext without authentication or the
// credentials file (none: Application Default Credentials).
func clientOptions(cfg config.DeployTargetConfig) ([]option.ClientOption, error) {
	var opts []option.ClientOption
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	switch {
	case cfg.Insecure:
		opts = append(opts,
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	case cfg.CredentialsFile != "":
		key, err := readCredentialsFile(cfg.CredentialsFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	}
	return opts, nil
}

// Close releases the connections.
func (c *Client) Close() error {
	c.metricsMu.Lock()
	defer c.metricsMu.Unlock()
	errs := []error{c.services.Close(), c.revisions.Close(), c.jobs.Close(), c.executions.Close(), c.tasks.Close(), c.pools.Close()}
	if c.metrics != nil {
		errs = append(errs, c.metrics.Close())
	}
	return errors.Join(errs...)
}

// GetService returns the service, or an error wrapping ErrNotFound.
func (c *Client) GetService(ctx context.Context, name string) (*runpb.Service, error) {
	return call(ctx, c, c.readTimeout, "get service", name, func(ctx context.Context) (*runpb.Service, error) {
		return c.services.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	})
}

// CreateService creates svc (its Name is the full resource name) without waiting for the new revision to
// become ready. It returns the Service reported by the operation (see reported). An error wrapping
// ErrOperationFailed means Cloud Run accepted the request but its operation has already failed.
func (c *Client) CreateService(ctx context.Context, svc *runpb.Service) (*runpb.Service, error) {
	op, err := create(ctx, c, svc, "service", "services", func(ctx context.Context, parent, id string, body *runpb.Service) (*run.CreateServiceOperation, error) {
		return c.services.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: id, Service: body})
	})
	if err != nil {
		return nil, err
	}
	return reported[runpb.Service](ctx, op, "create service", svc.GetName())
}

// ReplaceService replaces every writable field of the service with svc (no update mask, as
// `gcloud run services replace` does) without waiting for a new revision to become ready.
// svc.Etag must be the etag of the read the change is based on. It returns the Service reported by the
// operation (see reported). An error wrapping ErrOperationFailed means Cloud Run accepted the request but
// its operation has already failed.
func (c *Client) ReplaceService(ctx context.Context, svc *runpb.Service) (*runpb.Service, error) {
	var op *run.UpdateServiceOperation
	if err := c.do(ctx, c.writeTimeout, "update service", svc.GetName(), func(ctx context.Context) (err error) {
		op, err = c.services.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
		return err
	}); err != nil {
		return nil, err
	}
	return reported[runpb.Service](ctx, op, "update service", svc.GetName())
}

// ValidateService asks Cloud Run to check svc without applying it (validate_only): a creation when create
// is true, else a replacement of the existing service as ReplaceService sends it. It returns nil when
// Cloud Run accepts the request, else its objection, translated and retried like every other call. The
// operation of a validate_only request is not waited for: Cloud Run does not keep it.
func (c *Client) ValidateService(ctx context.Context, svc *runpb.Service, create bool) error {
	return validate(ctx, c, svc, "service", "services", create, func(ctx context.Context) error {
		_, err := c.services.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc, ValidateOnly: true})
		return err
	}, func(ctx context.Context, parent, id string, body *runpb.Service) error {
		_, err := c.services.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: id, Service: body, ValidateOnly: true})
		return err
	})
}

// UpdateTraffic replaces only the traffic of the service (update mask "traffic") and waits until Cloud Run
// has applied it. etag must be the etag of the read the new traffic is based on.
func (c *Client) UpdateTraffic(ctx context.Context, name, etag string, traffic []*runpb.TrafficTarget) (*runpb.Service, error) {
	req := &runpb.UpdateServiceRequest{
		Service:    &runpb.Service{Name: name, Etag: etag, Traffic: traffic},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"traffic"}},
	}
	var op *run.UpdateServiceOperation
	if err := c.do(ctx, c.writeTimeout, "update traffic of service", name, func(ctx context.Context) (err error) {
		op, err = c.services.UpdateService(ctx, req)
		return err
	}); err != nil {
		return nil, err
	}
	return wait[runpb.Service](ctx, c, op, "update traffic of service", name)
}

// GetRevision returns the revision, or an error wrapping ErrNotFound.
func (c *Client) GetRevision(ctx context.Context, name string) (*runpb.Revision, error) {
	var rev *runpb.Revision
	err := c.do(ctx, c.readTimeout, "get revision", name, func(ctx context.Context) (err error) {
		rev, err = c.revisions.GetRevision(ctx, &runpb.GetRevisionRequest{Name: name})
		return err
	})
	return rev, err
}

// ListRevisions returns every revision of the service or worker pool (full name), in the order Cloud Run
// lists them.
func (c *Client) ListRevisions(ctx context.Context, service string) ([]*runpb.Revision, error) {
	var revs []*runpb.Revision
	err := c.do(ctx, c.readTimeout, "list revisions of "+ownerKind(service), service, func(ctx context.Context) (err error) {
		revs, err = collect(c.revisions.ListRevisions(ctx, &runpb.ListRevisionsRequest{Parent: service}), 0)
		return err
	})
	return revs, err
}

// collect reads a list iterator to its end, or up to limit items when limit is above 0. It is called once per
// attempt, so a retried list starts afresh.
func collect[T any](it interface{ Next() (T, error) }, limit int) ([]T, error) {
	var out []T
	for limit <= 0 || len(out) < limit {
		item, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}

// DeleteRevision deletes the revision and waits for the deletion. A revision that is already gone counts as deleted.
func (c *Client) DeleteRevision(ctx context.Context, name, etag string) error {
	var op *run.DeleteRevisionOperation
	err := c.do(ctx, c.writeTimeout, "delete revision", name, func(ctx context.Context) (err error) {
		op, err = c.revisions.DeleteRevision(ctx, &runpb.DeleteRevisionRequest{Name: name, Etag: etag})
		return err
	})
	if err == nil {
		_, err = wait[runpb.Revision](ctx, c, op, "delete revision", name)
	}
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// do sends call to Cloud Run (see send).
func (c *Client) do(ctx context.Context, timeout time.Duration, op, resource string, call func(context.Context) error) error {
	return c.send(ctx, "Cloud Run", timeout, op, resource, call)
}

// send sends call to api until it succeeds, fails with a non-transient error, runs out of attempts or
// retry budget, or ctx ends. Each attempt gets at most timeout; one that takes longer fails with
// DEADLINE_EXCEEDED, which is retried.
func (c *Client) send(ctx context.Context, api string, timeout time.Duration, op, resource string, call func(context.Context) error) error {
	start := time.Now()
	delay := c.retryInitial
	span := stagetime.From(ctx)
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		began := span.Now()
		err := call(actx)
		span.EndCall(began)
		timedOut := actx.Err() != nil // the attempt's own timeout passed: no answer in time
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || pastDeadline(ctx) {
			<-ctx.Done() // past the deadline, the context's own timer fires at once
			return fmt.Errorf("failed to %s %s: %w", op, resource, context.Cause(ctx))
		}
		if mismatch := c.protocolMismatch(op, resource, err); mismatch != nil {
			return mismatch
		}
		if !isTransient(err) || attempt >= c.maxAttempts || !c.mayRetry(ctx, start, delay) {
			if timedOut {
				return c.unanswered(op, resource, err, time.Since(start), attempt, timeout)
			}
			return translate(op, resource, err)
		}
		noticeRetry(ctx, api, op, resource, err, delay, attempt, c.maxAttempts)
		if err := stagetime.Sleep(ctx, delay); err != nil {
			return fmt.Errorf("failed to %s %s: %w", op, resource, err)
		}
		delay = min(2*delay, c.retryMax)
	}
}

// pastDeadline reports whether the deadline of ctx has passed. A call can end with DEADLINE_EXCEEDED an
// instant before the context's timer fires, and the caller must then see the context's cause, not a
// Cloud Run error.
func pastDeadline(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// mayRetry reports whether a retry that starts after delay is within the retry budget of a call that
// started at start, and before the deadline of ctx: a retry that ctx would cut short is not worth waiting for.
func (c *Client) mayRetry(ctx context.Context, start time.Time, delay time.Duration) bool {
	next := time.Now().Add(delay)
	if next.Sub(start) >= c.retryBudget {
		return false
	}
	deadline, ok := ctx.Deadline()
	return !ok || next.Before(deadline)
}

// operation is what the generated *Operation types of run/apiv2 have in common.
type operation[T any] interface {
	Poll(context.Context, ...gax.CallOption) (*T, error)
	Metadata() (*T, error)
	Done() bool
}

// reported returns what op says about its resource without sending a request: the result when op is done,
// else its metadata (the state being rolled out), which Cloud Run may leave empty (nil).
func reported[T any](ctx context.Context, op operation[T], what, resource string) (*T, error) {
	if op.Done() {
		return result(ctx, op, what, resource)
	}
	meta, err := op.Metadata()
	if err != nil {
		return nil, fmt.Errorf("failed to read the operation to %s %s: %w", what, resource, err)
	}
	return meta, nil
}

// result returns the response of op, which must be done, without sending a request.
func result[T any](ctx context.Context, op operation[T], what, resource string) (*T, error) {
	resp, err := op.Poll(ctx)
	if err != nil {
		return nil, operationFailed(what, resource, err)
	}
	return resp, nil
}

// wait polls op every poll interval until it is done. An operation that is already done is not polled.
func wait[T any](ctx context.Context, c *Client, op operation[T], what, resource string) (*T, error) {
	for {
		if op.Done() {
			return result(ctx, op, what, resource)
		}
		if err := c.do(ctx, c.readTimeout, "poll operation to "+what, resource, func(ctx context.Context) error {
			_, err := op.Poll(ctx)
			if op.Done() {
				return nil // The operation's own error is reported by result.
			}
			return err
		}); err != nil {
			return nil, err
		}
		if op.Done() {
			continue
		}
		if err := stagetime.Sleep(ctx, c.pollInterval); err != nil {
			return nil, fmt.Errorf("failed to wait for the operation to %s %s: %w", what, resource, err)
		}
	}
}

type retryNoticeKey struct{}

// WithRetryNotice returns a context under which every retry of a transient error is reported to notice
// with a one-line explanation, so that a stage log can show why a stage takes longer.
func WithRetryNotice(ctx context.Context, notice func(string)) context.Context {
	return context.WithValue(ctx, retryNoticeKey{}, notice)
}

func noticeRetry(ctx context.Context, api, op, resource string, err error, delay time.Duration, attempt, attempts int) {
	notice, ok := ctx.Value(retryNoticeKey{}).(func(string))
	if !ok {
		return
	}
	notice(fmt.Sprintf("%s answered %s to %s %s; retrying in %s (attempt %d of %d)",
		api, codeText(status.Code(err)), op, naming.ShortName(resource), delay, attempt+1, attempts))
}
