package controlplane

import (
	"context"
	"strings"

	"github.com/pipe-cd/pipecd/pkg/rpc/rpcauth"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// traceCollector receives the OpenTelemetry traces piped exports to its apiAddress, where PipeCD's gateway
// routes them to an OpenTelemetry collector. It authenticates the piped and drops the spans.
type traceCollector struct {
	collectortrace.UnimplementedTraceServiceServer
	verifier rpcauth.PipedTokenVerifier
}

func (t *traceCollector) Export(ctx context.Context, _ *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
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
	return &collectortrace.ExportTraceServiceResponse{}, nil
}
