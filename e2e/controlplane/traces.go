package controlplane

import (
	"context"
	"strings"
	"sync"

	"github.com/pipe-cd/pipecd/pkg/rpc/rpcauth"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// traceCollector receives the OpenTelemetry traces piped exports to its apiAddress, where PipeCD's gateway
// routes them to an OpenTelemetry collector. It keeps the names of the spans of authenticated pipeds.
type traceCollector struct {
	collectortrace.UnimplementedTraceServiceServer
	verifier rpcauth.PipedTokenVerifier

	mu    sync.Mutex
	spans []string
}

func (t *traceCollector) Export(ctx context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	// piped sends "authorization: Bearer <piped token>" (pkg/app/pipedv1/cmd/piped createTracerProvider).
	md, _ := metadata.FromIncomingContext(ctx)
	token, ok := strings.CutPrefix(strings.Join(md.Get("authorization"), ""), "Bearer ")
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "missing piped token")
	}
	projectID, pipedID, key, err := rpcauth.ParsePipedToken(token)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	if err := t.verifier.Verify(ctx, projectID, pipedID, key); err != nil {
		return nil, status.Error(codes.Unauthenticated, "Unauthenticated")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				t.spans = append(t.spans, s.GetName())
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// Spans are the names of the trace spans pipeds exported, in the order received.
func (c *ControlPlane) Spans() []string {
	c.traces.mu.Lock()
	defer c.traces.mu.Unlock()
	return append([]string(nil), c.traces.spans...)
}
