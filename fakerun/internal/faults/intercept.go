package faults

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Interceptor applies inj's faults to every unary call and records it in log at the time now reads (REST
// requests are transcoded to gRPC, so they pass here too), except health checks.
func Interceptor(inj *Injector, log *Log, now func() time.Time) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if strings.HasPrefix(info.FullMethod, "/"+healthpb.Health_ServiceDesc.ServiceName+"/") {
			return handler(ctx, req)
		}
		method := info.FullMethod[strings.LastIndexByte(info.FullMethod, '/')+1:]
		f, faulty := inj.take(method)

		var resp any
		var err error
		if faulty && f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				err = status.FromContextError(ctx.Err()).Err()
			}
		}
		switch {
		case err != nil:
		case faulty && f.Code != codes.OK:
			msg := f.Message
			if msg == "" {
				msg = fmt.Sprintf("fakerun: injected %s fault for %s", f.Code, method)
			}
			err = status.Error(f.Code, msg)
		default:
			resp, err = handler(ctx, req)
		}

		reqCopy, _ := req.(proto.Message)
		if reqCopy != nil {
			reqCopy = proto.Clone(reqCopy)
		}
		log.Record(method, reqCopy, status.Code(err), now())
		return resp, err
	}
}
