package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// BenchmarkStartup: from starting the fakerun process (this test binary
// acting as fakerun) to its first answered gRPC request, a health check on
// a new connection (target ≤ 100 ms). The process is stopped with SIGTERM
// after each start.
func BenchmarkStartup(b *testing.B) {
	var startup time.Duration
	for b.Loop() {
		start := time.Now()
		cmd := exec.CommandContext(b.Context(), os.Args[0], "-port", "0")
		cmd.Env = append(os.Environ(), runMainEnv+"=1")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		if !lines.Scan() {
			b.Fatalf("fakerun printed no address: %v", lines.Err())
		}
		addr, _, _ := strings.Cut(strings.TrimPrefix(lines.Text(), "fakerun listening on "), " ")
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			b.Fatalf("health check: %v, %v", resp.GetStatus(), err)
		}
		startup += time.Since(start)
		_ = conn.Close()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(startup.Microseconds())/1000/float64(b.N), "ms/startup(≤100)")
}
