package planpreview

import (
	"context"
	"errors"
	"fmt"

	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
)

// readLive connects to the deploy target cfg and reads the live resource name with get; the resource is nil
// when it does not exist.
func readLive[R any](ctx context.Context, pv *preview, cfg config.DeployTargetConfig, name string, get func(*provider.Client, context.Context, string) (R, error)) (*provider.Client, R, error) {
	var none R
	client, err := target.Connect(ctx, pv.plugin.registry, pv.target, cfg)
	if err != nil {
		return nil, none, err
	}
	live, err := get(client, ctx, name)
	if errors.Is(err, provider.ErrNotFound) {
		return client, none, nil
	}
	return client, live, err
}

// writeChange writes what the deployment changes: with nothing to compare (cmp nil), the whole new
// manifest (created, as the diff views show it) against absent (e.g. "(no job)"); else that before and
// after are the same, or their diff.
func writeChange[T proto.Message](pv *preview, cmp *diff.Comparison[T], absent, before, after string, created T) {
	switch {
	case cmp == nil:
		pv.detail.WriteString(diff.UnifiedDiff(absent, after, "", diff.ManifestYAML(created)))
	case cmp.InSync():
		fmt.Fprintf(&pv.detail, "The manifest of the %s is the same as the %s.\n", after, before)
	default:
		pv.detail.WriteString(diff.UnifiedDiff(before, after, diff.ManifestYAML(cmp.Have), diff.ManifestYAML(cmp.Want)))
	}
}

// validated records the answer to the validate_only request of the kind ("job" or "worker pool"): err is
// Cloud Run's objection, nil when it accepts.
func (pv *preview) validated(kind string, err error) {
	if err != nil {
		pv.add(levelError, "Cloud Run refuses the %s (validate_only): %v", kind, err)
		return
	}
	pv.add(levelOK, "Cloud Run accepts the %s (validate_only)", kind)
}

// result writes the pre-flight checks and returns the preview; its summary counts the checks that did not
// pass.
func (pv *preview) result(noChange bool) sdk.PlanPreviewResult {
	pv.detail.WriteString("\nPre-flight checks:\n")
	problems := 0
	for _, f := range pv.findings {
		fmt.Fprintf(&pv.detail, "  %s\n", f)
		if f.level != levelOK {
			problems++
		}
	}
	summary := pv.summary.String()
	if problems > 0 {
		summary += fmt.Sprintf(" (pre-flight: %d warning(s) or error(s))", problems)
	}
	return sdk.PlanPreviewResult{DeployTarget: pv.target, Summary: summary, NoChange: noChange, Details: []byte(pv.detail.String()), DiffLanguage: "diff"}
}

// compare compares want with what runs now: the running commit's resource (running gives it; nil when piped
// sent no running commit of this kind), else the live resource with withLive; nothing (nil) when neither
// exists. before names what want is compared with, liveName when it is the live resource.
func compare[T proto.Message](pv *preview, want, live T, liveName string, running func() (T, error), manifests, withLive func(want, have T) *diff.Comparison[T]) (cmp *diff.Comparison[T], before string, err error) {
	switch {
	case running != nil:
		r, err := running()
		if err != nil {
			return nil, "", fmt.Errorf("running commit %s: %w", naming.ShortCommit(pv.running.Commit), err)
		}
		return manifests(r, want), "running commit " + naming.ShortCommit(pv.running.Commit), nil
	case live.ProtoReflect().IsValid():
		return withLive(want, live), liveName, nil
	}
	return nil, liveName, nil
}
