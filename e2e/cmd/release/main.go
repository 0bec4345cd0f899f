// Command release writes the release artifacts (see package release) into a directory; `make release` runs it.
//
//	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) go run ./cmd/release -root .. -dist ../dist -version v0.1.0 -commit $(git rev-parse HEAD)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/e2e/release"
)

// tagPattern is what an OCI tag may be: the version tags the plugin's artifact.
var tagPattern = regexp.MustCompile(`^v[a-zA-Z0-9_][a-zA-Z0-9._-]{0,126}$`)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv("SOURCE_DATE_EPOCH")); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, sourceDateEpoch string) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	cfg := release.Config{Log: os.Stdout}
	fs.StringVar(&cfg.Root, "root", "..", "repository root")
	fs.StringVar(&cfg.Dist, "dist", "../dist", "directory receiving the artifacts")
	fs.StringVar(&cfg.Version, "version", "", "release version, e.g. v0.1.0 (also the OCI artifact's tag)")
	fs.StringVar(&cfg.Commit, "commit", "", "commit the release is built from")
	fs.BoolVar(&cfg.Image, "image", true, "save the fakerun and pipelinetest images with docker when an engine answers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !tagPattern.MatchString(cfg.Version) {
		return fmt.Errorf("-version %q must start with v and be a valid OCI tag (letters, digits, '.', '_', '-')", cfg.Version)
	}
	if cfg.Commit == "" {
		return fmt.Errorf("-commit is required")
	}
	epoch, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
	if err != nil {
		return fmt.Errorf("SOURCE_DATE_EPOCH=%q must be the commit's Unix time (git log -1 --format=%%ct): %w", sourceDateEpoch, err)
	}
	cfg.Created = time.Unix(epoch, 0)
	if err := release.Build(ctx, cfg); err != nil {
		return err
	}
	fmt.Printf("release %s written to %s\n", cfg.Version, cfg.Dist)
	return nil
}
