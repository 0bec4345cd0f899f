package livestate

import (
	"fmt"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/app"
	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
	"github.com/pipecd-cloudrun/cloudrun/plugin/traffic"
)

// maxPathsInShortReason bounds how many differing fields the one-line reason names.
const maxPathsInShortReason = 5

// targetSync is the sync state of one deploy target.
type targetSync struct {
	status sdk.ApplicationSyncStatus
	// short is one line; reason may span several lines.
	short, reason string
}

// outOfSync reports the fields in which the live kind ("service" or "job") id differs from git (commit), and
// the unified diff of the two.
func outOfSync[T proto.Message](kind, target, id, commit string, c *diff.Comparison[T]) targetSync {
	var reason strings.Builder
	fmt.Fprintf(&reason, "Deploy target %s: %s %s differs from git (commit %s) in %d field(s):\n", target, kind, id, naming.ShortCommit(commit), len(c.Differences))
	for _, d := range c.Differences {
		fmt.Fprintf(&reason, "  %s\n", d.Format("git", "live"))
	}
	reason.WriteString("\n")
	reason.WriteString(diff.UnifiedDiff("live "+kind+" "+id, "git "+naming.ShortCommit(commit), diff.ManifestYAML(c.Have), diff.ManifestYAML(c.Want)))
	return targetSync{
		status: sdk.ApplicationSyncStateOutOfSync,
		short:  fmt.Sprintf("%s%s %s differs from git: %s", strings.ToUpper(kind[:1]), kind[1:], id, joinPaths(c.Paths())),
		reason: reason.String(),
	}
}

// serviceSync compares the service in git (commit) with the live one of a deploy target.
//
// The revision template and the service settings must match git (see Compare), and so must public access
// when access.public is set. The traffic is the
// plugin's business, not git's: it is in sync when the revision running git's template serves all of
// it, or, while the live service carries the commit being compared (the plugin applied it, so a canary
// of that commit is in progress or was stopped half-way), any split of it. Any other split was made
// outside PipeCD, for example by a manual rollback in the console.
func serviceSync(target, commit string, git, live *runpb.Service, public access) targetSync {
	id := naming.ShortName(live.GetName())
	c := diff.Compare(git, live)
	c.Differences = append(c.Differences, public.differences()...)
	if !c.InSync() {
		return outOfSync("service", target, id, commit, c)
	}

	shares := traffic.Serving(live)
	rev := live.GetTemplate().GetRevision()
	if rev == "" {
		rev = naming.ShortName(live.GetLatestCreatedRevision())
	}
	percent := traffic.ShareOf(shares, rev)
	traffic := fmt.Sprintf("Deploy target %s: traffic of service %s: %s\n", target, id, traffic.DescribeShares(shares))
	switch {
	case percent == 100:
		return targetSync{
			status: sdk.ApplicationSyncStateSynced,
			short:  fmt.Sprintf("Service %s runs git's revision %s with all the traffic", id, rev),
			reason: traffic,
		}
	case commit != "" && live.GetLabels()[provider.LabelCommitHash] == app.LabelValue(commit):
		return targetSync{
			status: sdk.ApplicationSyncStateSynced,
			short:  fmt.Sprintf("Deployment of commit %s in progress or stopped: its revision %s of service %s serves %d%% of the traffic", naming.ShortCommit(commit), rev, id, percent),
			reason: traffic,
		}
	}
	return targetSync{
		status: sdk.ApplicationSyncStateOutOfSync,
		short:  fmt.Sprintf("Traffic of service %s was changed outside PipeCD: git's revision %s serves %d%% of it", id, rev, percent),
		reason: traffic + fmt.Sprintf("The service runs the template in git as revision %s, but that revision serves %d%% of the traffic "+
			"and no deployment of commit %s applied this split (for example, the traffic was rolled back in the console). "+
			"Deploy the application to route all the traffic to %s.\n", rev, percent, naming.ShortCommit(commit), rev),
	}
}

// combine merges the states of the deploy targets: the worst status wins, and every target that is not in
// sync contributes its reasons.
func combine(states []targetSync) sdk.ApplicationSyncState {
	if len(states) == 0 {
		return sdk.ApplicationSyncState{Status: sdk.ApplicationSyncStateUnknown}
	}
	rank := map[sdk.ApplicationSyncStatus]int{
		sdk.ApplicationSyncStateSynced: 0, sdk.ApplicationSyncStateUnknown: 1,
		sdk.ApplicationSyncStateOutOfSync: 2, sdk.ApplicationSyncStateInvalidConfig: 3,
	}
	worst := states[0].status
	for _, s := range states {
		if rank[s.status] > rank[worst] {
			worst = s.status
		}
	}
	var shorts, reasons []string
	for _, s := range states {
		if s.status == worst {
			shorts = append(shorts, s.short)
		}
		if s.status != sdk.ApplicationSyncStateSynced || worst == sdk.ApplicationSyncStateSynced {
			reasons = append(reasons, s.reason)
		}
	}
	return sdk.ApplicationSyncState{Status: worst, ShortReason: strings.Join(shorts, "; "), Reason: strings.Join(reasons, "\n")}
}

func joinPaths(paths []string) string {
	if len(paths) <= maxPathsInShortReason {
		return strings.Join(paths, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(paths[:maxPathsInShortReason], ", "), len(paths)-maxPathsInShortReason)
}
