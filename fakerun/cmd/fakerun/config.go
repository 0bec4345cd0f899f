package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// config is the binary's settings after flags and FAKERUN_* variables.
type config struct {
	addr            string // host:port to listen on
	readinessDelay  time.Duration
	manualReadiness bool
	noInvokerCheck  bool // -invoker-check=false
	failingImages   []string
	behaviors       fakerun.Behaviors
	seed            uint64
	retention       time.Duration
	ingestionDelay  time.Duration
	load            *fakerun.Load // started once the server listens
	compat          fakerun.Compatibility
	logLevel        slog.Level
}

// options turns the config into fakerun server options.
func (c config) options() []fakerun.Option {
	opts := []fakerun.Option{fakerun.WithAddress(c.addr), fakerun.WithReadinessDelay(c.readinessDelay),
		fakerun.WithCompatibility(c.compat), fakerun.WithBehaviors(c.behaviors), fakerun.WithSeed(c.seed),
		fakerun.WithMetricsRetention(c.retention), fakerun.WithIngestionDelay(c.ingestionDelay)}
	// After WithBehaviors: a failing image keeps the rest of its behaviour.
	if c.manualReadiness {
		opts = append(opts, fakerun.WithManualReadiness())
	}
	if c.noInvokerCheck {
		opts = append(opts, fakerun.WithoutInvokerCheck())
	}
	for _, img := range c.failingImages {
		opts = append(opts, fakerun.WithFailingImage(img))
	}
	return opts
}

// envName is the environment variable that backs a flag: -readiness-delay
// reads FAKERUN_READINESS_DELAY.
func envName(flagName string) string {
	return "FAKERUN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads flags from args, falling back to FAKERUN_* variables
// read with getenv (an empty value counts as unset), then to defaults.
// Flags win over variables. Usage goes to usage; -h returns flag.ErrHelp.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	fs := flag.NewFlagSet("fakerun", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.String("host", "127.0.0.1", "interface to listen on; 0.0.0.0 for all (inside a container)")
	fs.String("port", "8080", "TCP port to listen on; 0 picks a free one")
	fs.String("addr", "", "host:port to listen on, instead of -host and -port")
	fs.String("readiness-delay", "0s", "time a new revision takes to become ready, e.g. 2s")
	fs.Bool("manual-readiness", false, "keep new revisions pending until marked ready or failed over the admin API")
	fs.Bool("invoker-check", true, "answer 403, as Cloud Run does, to a request without an 'Authorization: Bearer TOKEN' header (any token) to a service that is neither public nor invokerIamDisabled; false lets every request through")
	fs.String("failing-images", "", "comma-separated container images whose revisions never become ready (short for -behaviors '{\"images\":{\"IMAGE\":{\"fail\":true}}}')")
	fs.String("behaviors", "", `what revisions and job tasks do, by image and revision, as JSON: {"images":{"IMAGE":{"errorRate":0.2,"errorCode":503,"latency":"50ms","jitter":"10ms","latencyPercentiles":{"50":"20ms","99":"200ms"},"backend":"http://127.0.0.1:9000","docker":false,"fail":false,"task":{"duration":"30s","exitCode":1,"failTasks":[0],"failAttempts":1,"failureRate":0.1}}},"revisions":{"REVISION":{…}}}`)
	fs.String("seed", "1", "seed of the data plane's randomness (traffic split, error rates, latency draws)")
	fs.String("metrics-retention", "24h", "how long request metrics are kept, on the server clock")
	fs.String("ingestion-delay", "0s", "how long after its second a request metric point becomes visible to ListTimeSeries (Cloud Monitoring: up to 180s)")
	fs.String("load", "", `send load once started, as JSON: {"url":"https://SERVICE-URL/","rate":20,"duration":"60s"} (requests before the service exists get 404)`)
	fs.String("log-level", "info", "log level: debug, info, warn or error")
	// Behaviours Cloud Run has not settled (fakerun.Compatibility); the defaults are the likeliest.
	fs.Bool("accept-full-revision-names", false, "traffic targets may name revisions by full resource name (stored as the short name)")
	fs.Bool("bump-generation-on-noop-update", false, "an update that changes nothing still bumps generation and etag")
	fs.String("etag-mismatch-code", "aborted", "gRPC code for a stale etag: aborted or failed_precondition")
	fs.Bool("reject-update-while-reconciling", false, "refuse UpdateService with ABORTED while the service's rollout is pending, instead of superseding it")
	fs.Bool("allow-deleted-revision-names", false, "accept an explicit revision name of a deleted revision, instead of refusing it with ALREADY_EXISTS")
	fs.Bool("run-job-done-at-start", false, "make RunJob's operation done when the execution starts, instead of when it completes")
	fs.Usage = func() {
		_, _ = fmt.Fprintln(usage, "Usage: fakerun [flags]\n\n"+
			"An in-memory fake of the Cloud Run Admin API v2 and of Cloud Monitoring's MetricService, on one port:\n"+
			"gRPC and REST for both APIs, the admin API under /_fakerun/, and the services themselves: a request\n"+
			"whose Host is a service or tag URL fakerun reports (*.run.app) is routed by the traffic split and\n"+
			"answered, e.g. curl -H 'Host: svc-abcdefghij-uc.a.run.app' -H 'Authorization: Bearer any' http://127.0.0.1:8080/\n"+
			"A read-only web console shows the services, their traffic, revisions and live request charts:\n"+
			"open http://127.0.0.1:8080/_fakerun/console/ (with -port 8080) in a browser.\n"+
			"Every flag falls back to the FAKERUN_* variable named after it (-readiness-delay: FAKERUN_READINESS_DELAY); flags win.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q; fakerun takes only flags", fs.Args())
	}

	setByFlag := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { setByFlag[f.Name] = true })
	// value returns a setting's raw value and where it came from, for errors.
	value := func(name string) (raw, source string) {
		if setByFlag[name] {
			return fs.Lookup(name).Value.String(), "flag -" + name
		}
		if v := getenv(envName(name)); v != "" {
			return v, envName(name)
		}
		return fs.Lookup(name).DefValue, "default of -" + name
	}

	var c config
	var err error
	if c.addr, err = listenAddress(setByFlag, value, getenv); err != nil {
		return config{}, err
	}
	raw, source := value("readiness-delay")
	if c.readinessDelay, err = time.ParseDuration(raw); err != nil || c.readinessDelay < 0 {
		return config{}, fmt.Errorf("%s: invalid readiness delay %q; want a non-negative duration such as 500ms or 2s", source, raw)
	}
	raw, source = value("manual-readiness")
	if c.manualReadiness, err = strconv.ParseBool(raw); err != nil {
		return config{}, fmt.Errorf("%s: invalid value %q; want true or false", source, raw)
	}
	raw, source = value("invoker-check")
	check, err := strconv.ParseBool(raw)
	if err != nil {
		return config{}, fmt.Errorf("%s: invalid value %q; want true or false", source, raw)
	}
	c.noInvokerCheck = !check
	raw, _ = value("failing-images")
	for img := range strings.SplitSeq(raw, ",") {
		if img = strings.TrimSpace(img); img != "" {
			c.failingImages = append(c.failingImages, img)
		}
	}
	if raw, source = value("behaviors"); raw != "" {
		if c.behaviors, err = fakerun.ParseBehaviors([]byte(raw)); err != nil {
			return config{}, fmt.Errorf("%s: %w", source, err)
		}
	}
	raw, source = value("seed")
	if c.seed, err = strconv.ParseUint(raw, 10, 64); err != nil {
		return config{}, fmt.Errorf("%s: invalid seed %q; want a whole number from 0 to %d", source, raw, uint64(math.MaxUint64))
	}
	raw, source = value("ingestion-delay")
	if c.ingestionDelay, err = time.ParseDuration(raw); err != nil || c.ingestionDelay < 0 {
		return config{}, fmt.Errorf("%s: invalid ingestion delay %q; want a non-negative duration such as 0s or 3m", source, raw)
	}
	raw, source = value("metrics-retention")
	if c.retention, err = time.ParseDuration(raw); err != nil || c.retention <= 0 {
		return config{}, fmt.Errorf("%s: invalid retention %q; want a positive duration such as 1h or 24h", source, raw)
	}
	if raw, source = value("load"); raw != "" {
		l, err := fakerun.ParseLoad([]byte(raw))
		if err != nil {
			return config{}, fmt.Errorf("%s: %w", source, err)
		}
		c.load = &l
	}
	if c.compat, err = compatibility(value); err != nil {
		return config{}, err
	}
	raw, source = value("log-level")
	if err := c.logLevel.UnmarshalText([]byte(raw)); err != nil || !isPlainLevel(raw) {
		return config{}, fmt.Errorf("%s: invalid log level %q; allowed: debug, info, warn, error", source, raw)
	}
	return c, nil
}

// compatibility reads the flags of fakerun.Compatibility.
func compatibility(value func(string) (string, string)) (fakerun.Compatibility, error) {
	var c fakerun.Compatibility
	for _, b := range []struct {
		flag  string
		field *bool
	}{
		{"accept-full-revision-names", &c.AcceptFullRevisionNames},
		{"bump-generation-on-noop-update", &c.BumpGenerationOnNoOpUpdate},
		{"reject-update-while-reconciling", &c.RejectUpdateWhileReconciling},
		{"allow-deleted-revision-names", &c.AllowDeletedRevisionNames},
		{"run-job-done-at-start", &c.RunJobDoneAtStart},
	} {
		raw, source := value(b.flag)
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return c, fmt.Errorf("%s: invalid value %q; want true or false", source, raw)
		}
		*b.field = v
	}
	raw, source := value("etag-mismatch-code")
	switch strings.ToLower(raw) {
	case "aborted":
		c.EtagMismatchCode = codes.Aborted
	case "failed_precondition":
		c.EtagMismatchCode = codes.FailedPrecondition
	default:
		return c, fmt.Errorf("%s: invalid etag mismatch code %q; allowed: aborted, failed_precondition", source, raw)
	}
	return c, nil
}

// isPlainLevel accepts the four named slog levels without offsets ("info+2").
func isPlainLevel(s string) bool {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

// listenAddress picks the listen address. -addr and -host/-port are
// alternatives: a flag of either kind beats both variables, and -addr
// with -host or -port is an error.
func listenAddress(setByFlag map[string]bool, value func(string) (string, string), getenv func(string) string) (string, error) {
	hostPortFlag := setByFlag["host"] || setByFlag["port"]
	var raw, source string
	switch {
	case setByFlag["addr"] && hostPortFlag:
		return "", errors.New("flag -addr cannot be combined with -host or -port; use one or the other")
	case setByFlag["addr"]:
		raw, source = value("addr")
	case !hostPortFlag && getenv(envName("addr")) != "":
		raw, source = value("addr")
	default:
		host, hostSource := value("host")
		port, portSource := value("port")
		if host == "" {
			return "", fmt.Errorf("%s: host must not be empty; use 127.0.0.1 (loopback) or 0.0.0.0 (all interfaces)", hostSource)
		}
		if err := checkPort(port); err != nil {
			return "", fmt.Errorf("%s: %w", portSource, err)
		}
		return net.JoinHostPort(host, port), nil
	}
	host, port, err := net.SplitHostPort(raw)
	if err != nil {
		return "", fmt.Errorf("%s: invalid address %q; want host:port such as 127.0.0.1:8080", source, raw)
	}
	if host == "" {
		return "", fmt.Errorf("%s: address %q has no host; use 127.0.0.1:%s (loopback) or 0.0.0.0:%s (all interfaces)", source, raw, port, port)
	}
	if err := checkPort(port); err != nil {
		return "", fmt.Errorf("%s: %w", source, err)
	}
	return raw, nil
}

func checkPort(port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid port %q; want a number from 0 to 65535 (0 picks a free port)", port)
	}
	return nil
}
