package deployment

import (
	"context"
	"fmt"
	"strings"

	"github.com/pipecd-cloudrun/cloudrun/plugin/analysis"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/target"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// inconclusiveReasons joins the reasons of an inconclusive analysis. A new revision that served no request
// is told what share of the traffic it gets now, read from the service: 0% means the traffic was moved away
// from it during the analysis.
func inconclusiveReasons(ctx context.Context, t *target.Target, service, revision string, reasons []analysis.Reason) string {
	texts := make([]string, 0, len(reasons))
	for _, r := range reasons {
		text := r.Text
		if r.Cause == analysis.NoRequests {
			text += "; " + trafficNow(ctx, t, service, revision)
		}
		texts = append(texts, text)
	}
	return strings.Join(texts, "; ")
}

// trafficNow says what share of the service's traffic revision gets now, and what to do about it.
func trafficNow(ctx context.Context, t *target.Target, service, revision string) string {
	svc, err := t.Client.GetService(ctx, service)
	if err != nil {
		return fmt.Sprintf("its traffic now cannot be read (%v)", err)
	}
	shares := traffic.Serving(svc)
	percent := traffic.ShareOf(shares, revision)
	now := fmt.Sprintf("it gets %d%% of the traffic now (%s)", percent, traffic.DescribeShares(shares))
	if percent == 0 {
		return now + ": the traffic was moved away from it"
	}
	return now + fmt.Sprintf(": send service %s traffic during the analysis", naming.ShortName(service))
}
