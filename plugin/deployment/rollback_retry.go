package deployment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/stagetime"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// retryRestore runs restore, the rollback's read-and-write, again while it fails with an internal or a
// transient error, waiting one poll interval at first and up to eight, until rollbackBudget has passed since
// the first attempt. Trying again is safe: each attempt reads the service again and writes with its etag,
// so a write that did go through is seen and not repeated. what names the workload, e.g. "service web".
func (p *Plugin) retryRestore(ctx context.Context, t *target.Target, what string, restore func() error) error {
	start, delay := time.Now(), p.pollInterval
	for attempt := 1; ; attempt++ {
		err := restore()
		if err == nil || !errors.Is(err, provider.ErrInternal) && !errors.Is(err, provider.ErrTransient) {
			return err
		}
		if time.Since(start)+delay > p.rollbackBudget {
			return fmt.Errorf("gave up restoring %s after %d attempts in %s: %w", what, attempt, time.Since(start).Round(time.Millisecond), err)
		}
		t.Log.Infof("Restoring %s failed (attempt %d), trying again in %s: %v", what, attempt, delay, err)
		if err := stagetime.Sleep(ctx, delay); err != nil {
			return fmt.Errorf("stopped restoring %s: %w", what, err)
		}
		delay = min(2*delay, 8*p.pollInterval)
	}
}

// leftAsIs describes a service that a rollback could not restore: what runs and serves now, and how to
// finish the rollback by deploying again or by hand with want, the traffic the rollback was writing.
func leftAsIs(ctx context.Context, t *target.Target, rec *syncRecord, want []*runpb.TrafficTarget) string {
	id := naming.ShortName(rec.Service)
	var b strings.Builder
	if live, err := t.Client.GetService(ctx, rec.Service); err != nil {
		fmt.Fprintf(&b, "Service %s could not be read to say what is left (%v).", id, err)
	} else {
		fmt.Fprintf(&b, "Service %s is left as it is: template revision %s (image %s, commit label %q), traffic:\n%s",
			id, live.GetTemplate().GetRevision(), strings.Join(images(live), ", "), live.GetLabels()[provider.LabelCommitHash], traffic.Table(live.GetTraffic()))
		if rec.PreviewTag != "" && hasTag(live.GetTraffic(), rec.PreviewTag) {
			fmt.Fprintf(&b, "The deployment's preview tag %s is still there.\n", rec.PreviewTag)
		}
	}
	fmt.Fprintf(&b, "To finish the rollback, deploy the commit that ran before this deployment again once Cloud Run recovers")
	if cmd := updateTrafficCommand(id, t.Config.Region, want, rec.PreviewTag); cmd != "" {
		fmt.Fprintf(&b, ", or restore the traffic by hand: %s", cmd)
	}
	return b.String()
}

// updateTrafficCommand is the gcloud command that writes traffic (pinned, as a rollback writes it) and
// removes the deployment's preview tag; "" when there is no traffic to write.
func updateTrafficCommand(id, region string, want []*runpb.TrafficTarget, previewTag string) string {
	var routes, tags []string
	for _, e := range want {
		if e.GetPercent() > 0 {
			routes = append(routes, fmt.Sprintf("%s=%d", e.GetRevision(), e.GetPercent()))
		}
		if e.GetTag() != "" {
			tags = append(tags, e.GetTag()+"="+e.GetRevision())
		}
	}
	if len(routes) == 0 {
		return ""
	}
	cmd := fmt.Sprintf("gcloud run services update-traffic %s --region %s --to-revisions %s", id, region, strings.Join(routes, ","))
	if len(tags) > 0 {
		cmd += " --set-tags " + strings.Join(tags, ",")
	}
	if previewTag != "" {
		cmd += " --remove-tags " + previewTag
	}
	return cmd
}

func hasTag(entries []*runpb.TrafficTarget, tag string) bool {
	for _, e := range entries {
		if e.GetTag() == tag {
			return true
		}
	}
	return false
}
