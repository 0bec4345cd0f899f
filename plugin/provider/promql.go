package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// prometheusEndpoint serves Cloud Monitoring's Prometheus HTTP API.
const prometheusEndpoint = "https://monitoring.googleapis.com"

// monitoringReadScope is the OAuth scope of read-only Cloud Monitoring calls.
const monitoringReadScope = "https://www.googleapis.com/auth/monitoring.read"

// PromSample is one element of a PromQL answer: a scalar is one sample without labels.
type PromSample struct {
	Labels map[string]string
	Value  float64
}

// QueryPromQL evaluates query at t through Cloud Monitoring's Prometheus API of project
// (https://cloud.google.com/stackdriver/docs/managed-prometheus/query#http-api-details), with the deploy
// target's credentials and endpoint. Errors are translated and transient ones retried like those of the
// Monitoring v3 calls; roles/monitoring.viewer suffices.
func (c *Client) QueryPromQL(ctx context.Context, project, query string, t time.Time) ([]PromSample, error) {
	hc, base, err := c.prometheusClient(ctx)
	if err != nil {
		return nil, err
	}
	target := base + "/v1/projects/" + url.PathEscape(project) + "/location/global/prometheus/api/v1/query"
	form := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)}}
	var out []PromSample
	err = c.send(ctx, "Cloud Monitoring", c.readTimeout, "evaluate the PromQL query of", "projects/"+project, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		if err != nil {
			return status.Error(codes.Unavailable, err.Error())
		}
		defer func() { _ = resp.Body.Close() }()
		out, err = decodePromAnswer(resp)
		return err
	})
	if err = monitoringHint(err); err != nil {
		if e := (*Error)(nil); errors.As(err, &e) && e.Code == codes.InvalidArgument {
			e.Hint = "fix the promql query of the CLOUDRUN_ANALYSIS stage options according to the message"
		}
		return nil, err
	}
	return out, nil
}

// prometheusClient is the HTTP client and base URL of the Prometheus API: fakerun's plain HTTP with
// insecure, else an OAuth client of the deploy target's credentials (Google's endpoint, or the custom one
// over TLS).
func (c *Client) prometheusClient(ctx context.Context) (*http.Client, string, error) {
	if c.insecure {
		return http.DefaultClient, "http://" + c.customEndpoint, nil
	}
	base := prometheusEndpoint
	if c.customEndpoint != "" {
		base = "https://" + c.customEndpoint
	}
	opts := []option.ClientOption{option.WithScopes(monitoringReadScope)}
	if c.credentialsFile != "" {
		key, err := readCredentialsFile(c.credentialsFile)
		if err != nil {
			return nil, "", err
		}
		opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	}
	hc, _, err := htransport.NewClient(context.WithoutCancel(ctx), opts...)
	if err != nil {
		return nil, "", fmt.Errorf("failed to create the Cloud Monitoring Prometheus API client: %w", err)
	}
	return hc, base, nil
}

// promAnswer is Prometheus's answer shape.
type promAnswer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// decodePromAnswer reads an answer: an error becomes a gRPC status of the HTTP status's meaning, so that
// send retries and translates it like any call's.
func decodePromAnswer(resp *http.Response) ([]PromSample, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	var a promAnswer
	decodeErr := json.Unmarshal(body, &a)
	if resp.StatusCode != http.StatusOK || a.Status != "success" {
		msg := a.Error
		if decodeErr != nil || msg == "" {
			msg = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 200)])))
		}
		return nil, status.Error(httpCode(resp.StatusCode), msg)
	}
	if decodeErr != nil {
		return nil, status.Errorf(codes.Internal, "the answer is not Prometheus's JSON: %v", decodeErr)
	}
	switch a.Data.ResultType {
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(a.Data.Result, &v); err != nil {
			return nil, status.Errorf(codes.Internal, "the scalar answer cannot be read: %v", err)
		}
		f, err := promValue(v[1])
		if err != nil {
			return nil, err
		}
		return []PromSample{{Labels: map[string]string{}, Value: f}}, nil
	case "vector":
		var vs []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(a.Data.Result, &vs); err != nil {
			return nil, status.Errorf(codes.Internal, "the vector answer cannot be read: %v", err)
		}
		out := make([]PromSample, 0, len(vs))
		for _, v := range vs {
			f, err := promValue(v.Value[1])
			if err != nil {
				return nil, err
			}
			out = append(out, PromSample{Labels: v.Metric, Value: f})
		}
		return out, nil
	}
	return nil, status.Errorf(codes.InvalidArgument, "the query gives a %s, allowed a query that gives a scalar or an instant vector", a.Data.ResultType)
}

func promValue(v any) (float64, error) {
	s, _ := v.(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, status.Errorf(codes.Internal, "the value %v is not a number", v)
	}
	return f, nil
}

// httpCode is the gRPC code of an HTTP status of a Google API.
func httpCode(code int) codes.Code {
	switch code {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	}
	return codes.Internal
}
