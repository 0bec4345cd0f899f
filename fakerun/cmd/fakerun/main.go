// Command fakerun serves the in-memory Cloud Run Admin API v2 fake as a
// standalone process: gRPC (with reflection) and REST on one port for the
// Cloud Run Admin API and Cloud Monitoring's MetricService, the JSON admin
// API under /_fakerun/ (faults, readiness, behaviours, load, clock, call log,
// state, reset, healthz), the read-only web console under /_fakerun/console/,
// the services' own URLs, routed by Host, and the Admin API v1 that gcloud speaks (fakerun gcloud-env
// prints the environment that points gcloud at it).
//
//	go run ./fakerun/cmd/fakerun -port 8080 -readiness-delay 2s
//	eval "$(go run ./fakerun/cmd/fakerun gcloud-env -addr 127.0.0.1:8080)"
//
// Every flag falls back to a FAKERUN_* environment variable (flags win), e.g.
// FAKERUN_PORT, FAKERUN_READINESS_DELAY, FAKERUN_LOG_LEVEL. It listens on
// loopback unless told otherwise, and stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/console"
)

func main() {
	if versionRequested(os.Args[1:]) {
		fmt.Println(versionLine())
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "gcloud-env" {
		err = runGcloudEnv(os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		_, _ = fmt.Fprintln(os.Stderr, "fakerun:", err)
		stop()
		os.Exit(1)
	}
}

// run serves until ctx is done. It prints how to reach the server to stdout
// and logs to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))

	srv, err := fakerun.NewServer(cfg.options()...)
	if err != nil {
		return err
	}
	srv.Handle(fakerun.AdminPrefix, logRequests(log, srv.AdminHandler()))

	addr := srv.Addr()
	client := clientAddress(addr)
	if _, err := fmt.Fprintf(stdout, "fakerun listening on %s (gRPC and REST; admin API at http://%s%s)\n"+
		"Point the Cloud Run plugin at it with the deploy target config: endpoint: %s, insecure: true\n"+
		"Service URLs answer on the same port by Host: curl -H 'Host: <host of the service uri>' http://%s/\n"+
		"Web console (read-only, live): http://%s%s\n"+
		"Point gcloud at it: eval \"$(fakerun gcloud-env -addr %s)\"; gcloud run services list\n",
		addr, client, fakerun.AdminPrefix, client, client, client, console.Prefix, client); err != nil {
		return errors.Join(fmt.Errorf("writing to stdout: %w", err), srv.Close())
	}
	log.Info("fakerun started", "addr", addr, "readinessDelay", cfg.readinessDelay,
		"manualReadiness", cfg.manualReadiness, "failingImages", cfg.failingImages,
		"compatibility", fmt.Sprintf("%+v", cfg.compat), "seed", cfg.seed, "metricsRetention", cfg.retention,
		"ingestionDelay", cfg.ingestionDelay)
	if cfg.load != nil {
		id, err := srv.StartLoad(*cfg.load)
		if err != nil {
			return errors.Join(err, srv.Close())
		}
		log.Info("load started", "id", id, "url", cfg.load.URL, "rate", cfg.load.Rate, "duration", cfg.load.Duration)
	}

	<-ctx.Done()
	log.Info("fakerun shutting down", "reason", context.Cause(ctx))
	if err := srv.Close(); err != nil {
		return fmt.Errorf("stopping the server: %w", err)
	}
	log.Info("fakerun stopped")
	return nil
}

// clientAddress is the address a client on this host dials: a wildcard
// listen address (0.0.0.0, ::) is reached over loopback.
func clientAddress(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// logRequests logs admin API requests: changes at info level, reads at debug.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			level = slog.LevelDebug
		}
		log.Log(r.Context(), level, "admin request", "method", r.Method, "path", r.URL.Path, "status", rec.status)
	})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController flush the console's event stream.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
