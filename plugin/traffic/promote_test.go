package traffic

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPromote(t *testing.T) {
	t.Parallel()
	canary := block(rev("s-1", 100, ""), rev("new", 0, "preview"))
	testcases := []struct {
		name     string
		current  []*runpb.TrafficTarget
		baseline []*runpb.TrafficTarget
		percent  int
		want     []*runpb.TrafficTarget
		wantErr  string
	}{
		{name: "success: canary 10%", current: canary, baseline: block(rev("s-1", 100, "")), percent: 10,
			want: block(rev("new", 10, ""), rev("s-1", 90, ""), rev("new", 0, "preview"))},
		{name: "success: 100% drops the old revision", current: canary, baseline: block(rev("s-1", 100, "")), percent: 100,
			want: block(rev("new", 100, ""), rev("new", 0, "preview"))},
		{name: "success: 0% restores the baseline", current: block(rev("new", 30, ""), rev("s-1", 70, ""), rev("new", 0, "preview")), baseline: block(rev("s-1", 100, "")), percent: 0,
			want: block(rev("s-1", 100, ""), rev("new", 0, "preview"))},
		{name: "success: baseline split is scaled", current: block(rev("s-1", 70, ""), rev("s-2", 30, "")), baseline: block(rev("s-1", 70, ""), rev("s-2", 30, "")), percent: 50,
			want: block(rev("new", 50, ""), rev("s-1", 35, ""), rev("s-2", 15, ""))},
		{name: "success: largest remainder, ties to the earlier baseline entry", current: block(rev("a", 50, ""), rev("b", 50, "")), baseline: block(rev("a", 50, ""), rev("b", 50, "")), percent: 33,
			want: block(rev("new", 33, ""), rev("a", 34, ""), rev("b", 33, ""))},
		{name: "success: ties go to the new revision first", current: block(rev("a", 100, "")), baseline: block(rev("a", 100, "")), percent: 1,
			want: block(rev("new", 1, ""), rev("a", 99, ""))},
		{name: "success: baseline tags are kept", current: block(rev("s-1", 100, "prod")), baseline: block(rev("s-1", 100, "prod")), percent: 20,
			want: block(rev("new", 20, ""), rev("s-1", 80, "prod"))},
		{name: "success: baseline tag at 100% stays as tag-only", current: block(rev("s-1", 100, "prod")), baseline: block(rev("s-1", 100, "prod")), percent: 100,
			want: block(rev("new", 100, ""), rev("s-1", 0, "prod"))},
		{name: "success: foreign tag-only entry is untouched", current: block(rev("s-1", 100, ""), rev("s-0", 0, "blue")), baseline: block(rev("s-1", 100, ""), rev("s-0", 0, "blue")), percent: 40,
			want: block(rev("new", 40, ""), rev("s-1", 60, ""), rev("s-0", 0, "blue"))},
		{name: "success: out-of-band traffic is left exactly", current: block(rev("s-1", 80, ""), rev("hotfix", 20, "hf")), baseline: block(rev("s-1", 100, "")), percent: 50,
			want: block(rev("new", 40, ""), rev("s-1", 40, ""), rev("hotfix", 20, "hf"))},
		{name: "success: tag moved by hand to a foreign revision stays there", current: block(rev("s-1", 100, ""), rev("other", 0, "prod")), baseline: block(rev("s-1", 100, "prod")), percent: 10,
			want: block(rev("new", 10, ""), rev("s-1", 90, ""), rev("other", 0, "prod"))},
		{name: "success: first deployment at 100%", current: block(rev("new", 100, "")), percent: 100, want: block(rev("new", 100, ""))},
		{name: "success: new revision already in the baseline", current: block(rev("new", 100, "")), baseline: block(rev("new", 60, ""), rev("s-1", 40, "")), percent: 25,
			want: block(rev("new", 25, ""), rev("s-1", 75, ""))},
		{name: "success: out-of-band traffic holds everything and percent is 0", current: block(rev("hotfix", 100, "")), baseline: block(rev("s-1", 100, "")), percent: 0,
			want: block(rev("hotfix", 100, ""))},
		{name: "success: out-of-band traffic holds everything, no baseline, percent 0", current: block(rev("hotfix", 100, "")), percent: 0,
			want: block(rev("hotfix", 100, ""))},
		{name: "fail: out-of-band traffic holds everything", current: block(rev("hotfix", 100, ""), rev("s-0", 0, "blue")), baseline: block(rev("s-1", 100, "")), percent: 10,
			wantErr: "cannot give the new revision 10%: revisions outside this deployment (hotfix 100%) hold all the traffic"},
		{name: "fail: first deployment below 100%", current: block(rev("new", 100, "")), percent: 50,
			wantErr: "cannot keep 50% of the traffic on the previous revisions: none served traffic before this deployment"},
		{name: "fail: current not pinned", current: block(latest(100, "")), baseline: block(rev("s-1", 100, "")), percent: 10, wantErr: "the current traffic has a LATEST entry"},
		{name: "fail: baseline not pinned", current: canary, baseline: block(latest(100, "")), percent: 10, wantErr: "the baseline traffic has a LATEST entry"},
		{name: "fail: percent out of range", current: canary, baseline: block(rev("s-1", 100, "")), percent: 101, wantErr: "percent 101 is out of range, allowed 0-100"},
		{name: "fail: invalid current", current: block(rev("x", 100, ""), rev("y", 50, "")), baseline: block(rev("s-1", 100, "")), percent: 10, wantErr: "the current traffic is invalid"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			current, baseline := Clone(tc.current), Clone(tc.baseline)
			got, err := Promote(tc.current, tc.baseline, "new", tc.percent)
			assert.True(t, Equal(current, tc.current) && Equal(baseline, tc.baseline), "input modified")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assertSame(t, tc.want, got)
			require.NoError(t, Validate(got))
		})
	}
	_, err := Promote(canary, nil, "", 10)
	require.ErrorContains(t, err, "the new revision name is empty")
}

// TestPromoteProperties runs Promote on random deployments (fixed seed) and checks its invariants.
func TestPromoteProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		baseline := randomBlock(r, "b")
		current, err := KeepExisting(baseline, "new", pick(r, "", "preview"))
		require.NoError(t, err)
		current = outOfBand(r, current)
		percent := r.IntN(101)
		name := fmt.Sprintf("case %d: baseline\n%scurrent\n%spercent %d", i, Table(baseline), Table(current), percent)

		currentCopy, baselineCopy := Clone(current), Clone(baseline)
		got, err := Promote(current, baseline, "new", percent)
		require.True(t, Equal(current, currentCopy) && Equal(baseline, baselineCopy), "input modified: %s", name)

		owned := map[string]bool{"new": true}
		for _, t := range baseline {
			owned[t.Revision] = owned[t.Revision] || t.Percent > 0
		}
		var foreign []*runpb.TrafficTarget
		var foreignPercent int32
		for _, t := range current {
			if !owned[t.Revision] {
				foreign = append(foreign, t)
				foreignPercent += t.Percent
			}
		}
		share := 100 - foreignPercent
		if share == 0 && percent > 0 {
			require.Error(t, err, name)
			continue
		}
		require.NoError(t, err, name)

		require.NoError(t, Validate(got), "%s\ngot\n%s", name, Table(got))
		for _, f := range foreign {
			require.Truef(t, containsExactly(got, f), "foreign entry %v lost or changed: %s\ngot\n%s", f, name, Table(got))
		}
		want := float64(percent) * float64(share) / 100
		require.InDelta(t, want, float64(PercentOf(got, "new")), 1, "%s\ngot\n%s", name, Table(got))
		for _, tag := range tags(current) {
			require.Contains(t, tags(got), tag, "tag lost: %s\ngot\n%s", name, Table(got))
		}

		full, err := Promote(current, baseline, "new", 100)
		require.NoError(t, err, name)
		require.Equal(t, share, PercentOf(full, "new"), name)

		zero, err := Promote(current, baseline, "new", 0)
		require.NoError(t, err, name)
		require.Equal(t, int32(0), PercentOf(zero, "new"), name)
		var baselineTotal int32
		for _, b := range baseline {
			if b.Revision != "new" {
				baselineTotal += b.Percent
			}
		}
		for _, b := range Merge(baseline) {
			if foreignPercent == 0 {
				require.Equal(t, PercentOf(baseline, b.Revision), PercentOf(zero, b.Revision), "baseline not restored: %s\ngot\n%s", name, Table(zero))
			}
			if baselineTotal > 0 {
				want := float64(PercentOf(baseline, b.Revision)) * float64(share) / float64(baselineTotal)
				require.InDelta(t, want, float64(PercentOf(zero, b.Revision)), 1, "baseline shares not scaled: %s\ngot\n%s", name, Table(zero))
			}
		}
	}
}

// randomBlock builds a pinned, valid block of 1-4 revisions with random percents and tags.
func randomBlock(r *rand.Rand, prefix string) []*runpb.TrafficTarget {
	n := 1 + r.IntN(4)
	left := int32(100)
	var out []*runpb.TrafficTarget
	for i := range n {
		p := left
		if i < n-1 {
			p = int32(r.IntN(int(left) + 1))
		}
		left -= p
		tag := ""
		if r.IntN(3) == 0 {
			tag = fmt.Sprintf("t%s%d", prefix, i)
		}
		out = append(out, rev(fmt.Sprintf("%s%d", prefix, i), p, tag))
		if r.IntN(4) == 0 {
			out = append(out, rev(fmt.Sprintf("%s%d", prefix, i), 0, fmt.Sprintf("z%s%d", prefix, i)))
		}
	}
	return out
}

// outOfBand sometimes moves traffic from the first entry with traffic to a revision outside the deployment.
func outOfBand(r *rand.Rand, traffic []*runpb.TrafficTarget) []*runpb.TrafficTarget {
	out := Clone(traffic)
	if r.IntN(3) != 0 {
		return out
	}
	for _, t := range out {
		if t.Percent > 0 {
			moved := int32(r.IntN(int(t.Percent) + 1))
			t.Percent -= moved
			return append(out, rev("hotfix", moved, pick(r, "", "hf")))
		}
	}
	return out
}

func pick(r *rand.Rand, options ...string) string { return options[r.IntN(len(options))] }

func containsExactly(traffic []*runpb.TrafficTarget, want *runpb.TrafficTarget) bool {
	for _, t := range traffic {
		if Equal(block(t), block(want)) {
			return true
		}
	}
	return false
}

func tags(traffic []*runpb.TrafficTarget) []string {
	var out []string
	for _, t := range traffic {
		if t.Tag != "" {
			out = append(out, t.Tag)
		}
	}
	return out
}

// TestSyncProperties checks KeepExisting and RouteAll on random blocks (fixed seed): results are
// valid, inputs untouched, KeepExisting keeps every entry and RouteAll keeps every tag.
func TestSyncProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		current := outOfBand(r, randomBlock(r, "c"))
		tag := pick(r, "", "preview", "tc0")
		name := fmt.Sprintf("case %d: tag %q current\n%s", i, tag, Table(current))
		currentCopy := Clone(current)

		kept, err := KeepExisting(current, "new", tag)
		require.NoError(t, err, name)
		require.NoError(t, Validate(kept), name)
		require.True(t, Equal(current, currentCopy), "input modified: %s", name)
		require.Equal(t, int32(0), PercentOf(kept, "new"), name)
		for _, c := range current {
			if c.Tag == "" || c.Tag != tag {
				require.True(t, containsExactly(kept, c), "entry %v changed: %s\ngot\n%s", c, name, Table(kept))
			}
		}

		all, err := RouteAll(current, "new", tag)
		require.NoError(t, err, name)
		require.NoError(t, Validate(all), name)
		require.True(t, Equal(current, currentCopy), "input modified: %s", name)
		require.Equal(t, int32(100), PercentOf(all, "new"), name)
		require.ElementsMatch(t, uniq(append(tags(current), tags(block(rev("new", 0, tag)))...)), tags(all), name)
	}
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
