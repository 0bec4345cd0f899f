// Package target is a deploy target ready to use: its config decoded and validated once (config owns every
// rule), its Cloud Run client from the shared registry, a stage log that names it when a deployment has
// several, and running one function on every target of a deployment concurrently.
package target

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// DeployTarget is a deploy target as piped sends it.
type DeployTarget = sdk.DeployTarget[config.RawDeployTargetConfig]

// Target is one deploy target, decoded and connected.
type Target struct {
	Name   string
	Config config.DeployTargetConfig
	Client *provider.Client
	// Log writes to the stage log, prefixed with the target name when the deployment has several targets.
	Log sdk.StageLogPersister
}

// Decode decodes and validates the config of dt. The error names the deploy target and piped.yaml.
func Decode(dt *DeployTarget) (config.DeployTargetConfig, error) {
	cfg, err := dt.Config.Decode()
	if err != nil {
		return config.DeployTargetConfig{}, fmt.Errorf("deploy target %s in piped.yaml: %w", dt.Name, err)
	}
	return cfg, nil
}

// Connect returns the Cloud Run client of the deploy target name with the config cfg.
func Connect(ctx context.Context, registry *provider.Registry, name string, cfg config.DeployTargetConfig) (*provider.Client, error) {
	client, err := registry.Client(ctx, name, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to Cloud Run for deploy target %s: %w", name, err)
	}
	return client, nil
}

// ForEach decodes and connects every deploy target, then runs fn on all of them concurrently, each with its
// own log and with retries of transient errors announced in it. A failure of fn (or a panic in it) is
// written to the target's log as an error; an error of fn that wraps Stopped is written after the failures,
// as info. It returns failure if there is no target, if one cannot be used, or if fn failed for any target.
func ForEach(ctx context.Context, registry *provider.Registry, lp sdk.StageLogPersister, dts []*DeployTarget, fn func(ctx context.Context, t *Target) error) sdk.StageStatus {
	if len(dts) == 0 {
		lp.Errorf("The deployment has no deploy target for this plugin: add the application's deploy target (one of spec.plugins[].deployTargets[].name of the %s plugin in piped.yaml) to the application", config.PluginName())
		return sdk.StageStatusFailure
	}
	targets := make([]*Target, 0, len(dts))
	failed := false
	for _, dt := range dts {
		t := &Target{Name: dt.Name, Log: lp}
		if len(dts) > 1 {
			t.Log = prefixedLog{prefix: "[" + dt.Name + "] ", lp: lp}
		}
		cfg, err := Decode(dt)
		if err == nil {
			t.Config = cfg
			t.Client, err = Connect(ctx, registry, dt.Name, cfg)
		}
		if err != nil {
			t.Log.Errorf("%v", err)
			failed = true
			continue
		}
		targets = append(targets, t)
	}
	if failed {
		return sdk.StageStatusFailure
	}

	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					errs[i] = fmt.Errorf("internal error (this is a bug, please report it): %v\n%s", r, debug.Stack())
				}
			}()
			errs[i] = fn(provider.WithRetryNotice(ctx, func(msg string) { t.Log.Info(msg) }), t)
		})
	}
	wg.Wait()
	// The failures first, then the targets they stopped: the first error line is a failure's own.
	for i, err := range errs {
		if err != nil && !errors.As(err, new(Stopped)) {
			targets[i].Log.Errorf("%v", err)
			failed = true
		}
	}
	for i, err := range errs {
		if err != nil && errors.As(err, new(Stopped)) {
			targets[i].Log.Infof("%v", err)
			failed = true
		}
	}
	if failed {
		return sdk.StageStatusFailure
	}
	return sdk.StageStatusSuccess
}

// Stopped is the cause with which a function run by ForEach stops the others when its deploy target fails.
// An error that wraps it is not a failure of its own target: ForEach logs it at info level after the
// failures, so that the first error line of the stage is the failing target's.
type Stopped struct {
	// Reason says which deploy target failed, e.g. "the analysis of deploy target us failed".
	Reason string
}

func (s Stopped) Error() string { return s.Reason }

// prefixedLog prefixes every line with the deploy target name.
type prefixedLog struct {
	prefix string
	lp     sdk.StageLogPersister
}

func (l prefixedLog) Write(b []byte) (int, error) {
	if _, err := l.lp.Write(append([]byte(l.prefix), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}
func (l prefixedLog) Info(s string)                 { l.lp.Info(l.prefix + s) }
func (l prefixedLog) Infof(format string, a ...any) { l.lp.Info(l.prefix + fmt.Sprintf(format, a...)) }
func (l prefixedLog) Success(s string)              { l.lp.Success(l.prefix + s) }
func (l prefixedLog) Successf(format string, a ...any) {
	l.lp.Success(l.prefix + fmt.Sprintf(format, a...))
}
func (l prefixedLog) Error(s string) { l.lp.Error(l.prefix + s) }
func (l prefixedLog) Errorf(format string, a ...any) {
	l.lp.Error(l.prefix + fmt.Sprintf(format, a...))
}
