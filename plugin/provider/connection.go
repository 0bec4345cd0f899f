package provider

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// defaultEndpoint is where the client connects when the deploy target sets no endpoint.
const defaultEndpoint = "run.googleapis.com:443"

// Messages of gRPC connection errors that mean the two ends disagree about TLS: a TLS client reading a
// plaintext server's bytes, and a plaintext client reading a TLS server's (no HTTP/2 preface comes back).
const (
	tlsToPlaintext = "tls: first record does not look like a TLS handshake"
	plaintextToTLS = "error reading server preface"
)

// protocolMismatch returns the error for a call whose connection failed because the endpoint speaks
// plaintext while the client uses TLS, or the reverse, and nil for any other error. Such a call is a
// configuration error: trying it again cannot help, so it is not retried.
func (c *Client) protocolMismatch(op, resource string, err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return nil
	}
	e := &Error{Op: op, Resource: resource, Code: st.Code(), Message: st.Message()}
	switch {
	case !c.insecure && strings.Contains(st.Message(), tlsToPlaintext):
		e.Hint = fmt.Sprintf("the endpoint %s speaks plaintext gRPC, but the deploy target connects with TLS: set insecure: true in the deploy target config for a local endpoint such as fakerun, or fix endpoint", c.endpoint)
	case c.insecure && strings.Contains(st.Message(), plaintextToTLS):
		e.Hint = fmt.Sprintf("the endpoint %s did not answer plaintext gRPC, most likely because it expects TLS: remove insecure: true from the deploy target config, or fix endpoint", c.endpoint)
	default:
		return nil
	}
	return e
}

// unanswered returns the error for a call whose every attempt ran out of time without an answer, saying
// how long the endpoint was given. It is transient: Cloud Run may answer again later.
func (c *Client) unanswered(op, resource string, err error, elapsed time.Duration, attempts int, timeout time.Duration) error {
	return &Error{
		Op: op, Resource: resource, Code: codes.DeadlineExceeded, kind: ErrTransient,
		Message: fmt.Sprintf("the endpoint %s did not answer within %s (%d attempts of at most %s each, and the waits between them; last error: %s)",
			c.endpoint, elapsed.Round(100*time.Millisecond), attempts, timeout, status.Convert(err).Message()),
		Hint: "check endpoint and insecure of the deploy target, and that piped can reach it; a call gets at most " +
			fmt.Sprintf("%d attempts, retried only within %s of the first", c.maxAttempts, c.retryBudget),
	}
}
