package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
)

// Invoker returns an HTTP client that calls the URLs of the deploy target's services (https://….run.app,
// tag URLs included) as an invoker. On Google Cloud every request carries a Google-signed ID token whose
// audience is audience (the service's run.app URL), minted from the deploy target's credentials, as
// Cloud Run requires of a private service (https://cloud.google.com/run/docs/authenticating/service-to-service);
// the identity needs roles/run.invoker on the service. With a custom endpoint the requests go to that
// endpoint with the URL's host as Host (fakerun serves the services' URLs on its own port); with
// insecure, over plain HTTP with a placeholder bearer token: there are no credentials to mint one from, and
// fakerun checks that an invoker sends a token, not its signature.
func (c *Client) Invoker(ctx context.Context, audience string) (*http.Client, error) {
	var base http.RoundTripper = http.DefaultTransport.(*http.Transport).Clone()
	if c.customEndpoint != "" {
		scheme := "https"
		if c.insecure {
			scheme = "http"
		}
		base = endpointTransport{scheme: scheme, endpoint: c.customEndpoint, base: base}
	}
	if c.insecure {
		return &http.Client{Transport: placeholderToken{base: base}}, nil
	}
	var opts []option.ClientOption
	if c.credentialsFile != "" {
		key, err := readCredentialsFile(c.credentialsFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	}
	ts, err := idtoken.NewTokenSource(context.WithoutCancel(ctx), audience, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot mint an ID token for %s from the deploy target's credentials: %w "+
			"(ID tokens need a service account: set credentialsFile, or run piped with a service account's Application Default Credentials)", audience, err)
	}
	return &http.Client{Transport: &oauth2.Transport{Source: ts, Base: base}}, nil
}

// endpointTransport sends every request to endpoint, keeping the URL's host as Host.
type endpointTransport struct {
	scheme, endpoint string
	base             http.RoundTripper
}

func (t endpointTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Hostname(), ".run.app") {
		return nil, fmt.Errorf("%s is not a Cloud Run URL (*.run.app)", req.URL.Redacted())
	}
	out := req.Clone(req.Context())
	out.Host = req.URL.Host
	u := *req.URL
	u.Scheme, u.Host = t.scheme, t.endpoint
	out.URL = &u
	return t.base.RoundTrip(out)
}

// placeholderToken sends "Authorization: Bearer insecure" with every request that carries no token of its own.
type placeholderToken struct {
	base http.RoundTripper
}

func (t placeholderToken) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		return t.base.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", "Bearer insecure")
	return t.base.RoundTrip(out)
}
