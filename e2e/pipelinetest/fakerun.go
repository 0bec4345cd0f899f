package pipelinetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// control is the fakerun an Env deploys to and the knobs the package turns: in process, or a running fakerun
// (its container image, its binary) through its admin API.
type control interface {
	addr() string
	clientOptions() []option.ClientOption
	setBehaviors(ctx context.Context, bs fakerun.Behaviors) error
	injectFault(ctx context.Context, f Fault) error
	clearFaults(ctx context.Context) error
	startLoad(ctx context.Context, l fakerun.Load) error
	close() error
}

// inProcess is a fakerun.Server of the Env's own.
type inProcess struct{ srv *fakerun.Server }

func (c inProcess) addr() string                         { return c.srv.Addr() }
func (c inProcess) clientOptions() []option.ClientOption { return c.srv.ClientOptions() }
func (c inProcess) close() error                         { return c.srv.Close() }

func (c inProcess) setBehaviors(_ context.Context, bs fakerun.Behaviors) error {
	return c.srv.SetBehaviors(bs)
}

func (c inProcess) injectFault(_ context.Context, f Fault) error {
	c.srv.InjectFault(f.Method, fakerun.Fault{Code: f.Code, Times: f.Times, Delay: f.Delay})
	return nil
}

func (c inProcess) clearFaults(context.Context) error {
	c.srv.ClearFaults()
	return nil
}

func (c inProcess) startLoad(_ context.Context, l fakerun.Load) error {
	_, err := c.srv.StartLoad(l)
	return err
}

// remote is a running fakerun at an address, turned through its admin API (fakerun.AdminPrefix).
type remote struct{ address string }

func (c remote) addr() string { return c.address }
func (c remote) close() error { return nil } // whoever started it stops it

func (c remote) clientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(c.address), option.WithoutAuthentication(), option.WithTelemetryDisabled(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

func (c remote) setBehaviors(ctx context.Context, bs fakerun.Behaviors) error {
	return c.call(ctx, http.MethodPut, "behaviors", bs)
}

func (c remote) injectFault(ctx context.Context, f Fault) error {
	body := map[string]any{"method": f.Method, "code": f.Code.String(), "times": f.Times}
	if f.Delay > 0 {
		body["delay"] = f.Delay.String()
	}
	return c.call(ctx, http.MethodPost, "faults", body)
}

func (c remote) clearFaults(ctx context.Context) error {
	return c.call(ctx, http.MethodDelete, "faults", nil)
}

func (c remote) startLoad(ctx context.Context, l fakerun.Load) error {
	return c.call(ctx, http.MethodPost, "load", map[string]any{"url": l.URL, "rate": l.Rate, "duration": l.Duration.String()})
}

func (c remote) call(ctx context.Context, method, path string, body any) error {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.address+fakerun.AdminPrefix+path, r)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fakerun admin API %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("fakerun admin API %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
