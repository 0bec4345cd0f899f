// Package docker runs revisions and job tasks as containers on the local Docker engine, over the Engine
// API with net/http: the containers of serving revisions whose behaviour is Docker (reconciled with what
// serves), the instances of worker pool revisions (reconciled with the applied instance split) and one
// container per task attempt.
package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Docker mode talks to the Docker Engine API over its socket with net/http:
// no SDK dependency and no docker CLI needed (see README.md).
const (
	defaultDockerHost = "unix:///var/run/docker.sock"
	containerStart    = 30 * time.Second       // how long a container may take to listen
	reconcileEvery    = 250 * time.Millisecond // real time between container reconciliations
	stopGrace         = 2                      // seconds between SIGTERM and SIGKILL
)

// Engine is the Docker Engine API at one address.
type Engine struct {
	client *http.Client
	base   string // http://docker or http://host:port
}

// NewEngine connects to dockerHost (DOCKER_HOST: unix:// or tcp://, default
// the local socket) lazily: nothing is dialled until a container is needed.
func NewEngine(dockerHost string) (*Engine, error) {
	client, base, err := Client(dockerHost)
	if err != nil {
		return nil, err
	}
	return &Engine{client: client, base: base}, nil
}

// Client returns an HTTP client and base URL for the Engine API at
// dockerHost (unix:// or tcp://; empty: the local socket).
func Client(dockerHost string) (*http.Client, string, error) {
	if dockerHost == "" {
		dockerHost = defaultDockerHost
	}
	switch {
	case strings.HasPrefix(dockerHost, "unix://"):
		sock := strings.TrimPrefix(dockerHost, "unix://")
		return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}, "http://docker", nil
	case strings.HasPrefix(dockerHost, "tcp://"):
		return &http.Client{}, "http://" + strings.TrimPrefix(dockerHost, "tcp://"), nil
	}
	return nil, "", fmt.Errorf("fakerun: DOCKER_HOST %q: want unix:///path/to/docker.sock or tcp://host:port (TLS is not supported)", dockerHost)
}

// ErrNotFound is the Engine API's 404 (an image or container that does not exist).
var ErrNotFound = errors.New("not found")

// Call sends one Engine API request with a JSON body and decodes the JSON answer into out.
func (m *Engine) Call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("the Docker engine is not reachable (set DOCKER_HOST to reach another): %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w", method, path, ErrNotFound)
	case resp.StatusCode >= 300:
		var e struct{ Message string }
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Message)
	case out != nil:
		return json.Unmarshal(data, out)
	}
	return nil
}
