package traffic

import (
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func latest(percent int32, tag string) *runpb.TrafficTarget {
	return &runpb.TrafficTarget{Type: typeLatest, Percent: percent, Tag: tag}
}

func rev(name string, percent int32, tag string) *runpb.TrafficTarget {
	return Revision(name, percent, tag)
}

func block(targets ...*runpb.TrafficTarget) []*runpb.TrafficTarget { return targets }

// assertSame compares blocks in order, with readable output on failure.
func assertSame(t *testing.T, want, got []*runpb.TrafficTarget) {
	t.Helper()
	assert.Equal(t, Table(want), Table(got))
	assert.True(t, Equal(want, got), "want\n%s\ngot\n%s", Table(want), Table(got))
}

func TestPin(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		traffic []*runpb.TrafficTarget
		latest  string
		want    []*runpb.TrafficTarget
		wantErr string
	}{
		{name: "success: empty traffic means latest 100", latest: "s-1", want: block(rev("s-1", 100, ""))},
		{name: "success: full latest name", traffic: block(latest(100, "")), latest: "projects/p/locations/r/services/s/revisions/s-1", want: block(rev("s-1", 100, ""))},
		{name: "success: tag on latest is kept", traffic: block(latest(100, "prod")), latest: "s-1", want: block(rev("s-1", 100, "prod"))},
		{
			name:    "success: latest and the same revision merge",
			traffic: block(latest(50, ""), rev("s-1", 30, ""), rev("s-0", 20, ""), rev("s-1", 0, "blue")),
			latest:  "s-1",
			want:    block(rev("s-1", 80, ""), rev("s-0", 20, ""), rev("s-1", 0, "blue")),
		},
		{
			name:    "success: unspecified type with a revision is a revision",
			traffic: block(&runpb.TrafficTarget{Revision: "s-0", Percent: 100}),
			want:    block(rev("s-0", 100, "")),
		},
		{
			name:    "success: an entry without type or revision follows the latest ready revision",
			traffic: block(&runpb.TrafficTarget{Percent: 100}),
			latest:  "s-1",
			want:    block(rev("s-1", 100, "")),
		},
		{name: "success: already pinned needs no latest", traffic: block(rev("s-0", 100, "")), want: block(rev("s-0", 100, ""))},
		{name: "fail: latest entry without a ready revision", traffic: block(latest(100, "")), wantErr: "the service has no ready revision"},
		{name: "fail: empty traffic without a ready revision", wantErr: "the service has no ready revision"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := Clone(tc.traffic)
			got, err := Pin(tc.traffic, tc.latest)
			assert.True(t, Equal(before, tc.traffic), "input modified")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assertSame(t, tc.want, got)
			require.NoError(t, checkPinned("result", got))
		})
	}
}

func TestKeepExisting(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		current []*runpb.TrafficTarget
		tag     string
		want    []*runpb.TrafficTarget
		wantErr string
	}{
		{name: "success: no tag keeps everything", current: block(rev("s-1", 70, ""), rev("s-0", 30, "old")), want: block(rev("s-1", 70, ""), rev("s-0", 30, "old"))},
		{
			name:    "success: tag adds a 0% entry",
			current: block(rev("s-1", 100, ""), rev("s-0", 0, "blue")),
			tag:     "preview-abc",
			want:    block(rev("s-1", 100, ""), rev("s-0", 0, "blue"), rev("new", 0, "preview-abc")),
		},
		{
			name:    "success: idempotent when the tag is already on the new revision",
			current: block(rev("s-1", 100, ""), rev("new", 0, "preview-abc")),
			tag:     "preview-abc",
			want:    block(rev("s-1", 100, ""), rev("new", 0, "preview-abc")),
		},
		{
			name:    "success: tag moves from a tag-only entry",
			current: block(rev("s-1", 100, ""), rev("s-0", 0, "preview-abc")),
			tag:     "preview-abc",
			want:    block(rev("s-1", 100, ""), rev("new", 0, "preview-abc")),
		},
		{
			name:    "success: tag moves from an entry with traffic",
			current: block(rev("s-1", 100, "preview-abc")),
			tag:     "preview-abc",
			want:    block(rev("s-1", 100, ""), rev("new", 0, "preview-abc")),
		},
		{name: "fail: not pinned", current: block(latest(100, "")), wantErr: "has a LATEST entry at index 0: pin it to a revision first"},
		{name: "fail: empty current", wantErr: "percents sum to 0, want 100"},
		{name: "fail: bad sum", current: block(rev("s-1", 90, "")), wantErr: "percents sum to 90"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := Clone(tc.current)
			got, err := KeepExisting(tc.current, "new", tc.tag)
			assert.True(t, Equal(before, tc.current), "input modified")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assertSame(t, tc.want, got)
			require.NoError(t, Validate(got))
			again, err := KeepExisting(got, "new", tc.tag)
			require.NoError(t, err)
			assertSame(t, got, again)
		})
	}
	_, err := KeepExisting(block(rev("s-1", 100, "")), "", "")
	require.ErrorContains(t, err, "the new revision name is empty")
}

func TestRouteAll(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		current []*runpb.TrafficTarget
		tag     string
		want    []*runpb.TrafficTarget
	}{
		{name: "success: first deployment", want: block(rev("new", 100, ""))},
		{
			name:    "success: untagged entries are dropped, tags survive at 0%",
			current: block(rev("s-1", 60, ""), rev("s-0", 40, "blue"), latest(0, "edge")),
			want:    block(rev("new", 100, ""), rev("s-0", 0, "blue"), latest(0, "edge")),
		},
		{
			name:    "success: own tag is taken over",
			current: block(rev("s-1", 100, ""), rev("s-0", 0, "preview-abc")),
			tag:     "preview-abc",
			want:    block(rev("new", 100, ""), rev("new", 0, "preview-abc")),
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := Clone(tc.current)
			got, err := RouteAll(tc.current, "new", tc.tag)
			require.NoError(t, err)
			assert.True(t, Equal(before, tc.current), "input modified")
			assertSame(t, tc.want, got)
			require.NoError(t, Validate(got))
		})
	}
	_, err := RouteAll(nil, "", "")
	require.ErrorContains(t, err, "the new revision name is empty")
}

func TestMergeSumPercentOf(t *testing.T) {
	t.Parallel()
	in := block(rev("a", 10, ""), latest(20, ""), rev("a", 30, ""), rev("a", 0, "t"), latest(40, ""), rev("b", 0, ""))
	got := Merge(in)
	assertSame(t, block(rev("a", 40, ""), latest(60, ""), rev("a", 0, "t")), got)
	assert.Equal(t, int32(100), Sum(got))
	assert.Equal(t, int32(40), PercentOf(in, "projects/p/locations/r/services/s/revisions/a"))
	assert.Equal(t, int32(0), PercentOf(in, "b"))
	assert.Len(t, in, 6, "input modified")
}

func TestValidate(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		traffic []*runpb.TrafficTarget
		wantErr string
	}{
		{name: "success: tagged zero entries", traffic: block(rev("a", 100, ""), rev("a", 0, "x"), latest(0, "y"))},
		{name: "fail: sum", traffic: block(rev("a", 50, "")), wantErr: "percents sum to 50, want 100"},
		{name: "fail: negative", traffic: block(rev("a", 110, ""), rev("b", -10, "")), wantErr: "traffic[0]: percent 110 is out of range"},
		{name: "fail: duplicate tag", traffic: block(rev("a", 100, "x"), rev("b", 0, "x")), wantErr: `tag "x" is used twice`},
		{name: "fail: revision entry without name", traffic: block(rev("", 100, "")), wantErr: "needs a revision name"},
		{name: "fail: latest with name", traffic: block(&runpb.TrafficTarget{Type: typeLatest, Revision: "a", Percent: 100}), wantErr: "must not name a revision"},
		{name: "fail: nil entry", traffic: block(nil), wantErr: "traffic[0] is empty"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Validate(tc.traffic)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestEqualAndDiff(t *testing.T) {
	t.Parallel()
	a := block(rev("a", 90, ""), rev("b", 10, "t"))
	assert.True(t, Equal(a, block(rev("b", 10, "t"), rev("a", 90, ""))))
	assert.False(t, Equal(a, block(rev("a", 90, ""), rev("b", 10, ""))))
	assert.False(t, Equal(a, block(rev("a", 100, ""))))
	assert.Empty(t, Diff(a, block(rev("b", 10, "t"), rev("a", 90, ""))))
	assert.Equal(t, []Change{
		{Revision: "a", Before: 90, After: 50, InBefore: true, InAfter: true},
		{Revision: "b", Tag: "t", Before: 10, InBefore: true},
		{Revision: "c", After: 50, InAfter: true},
	}, Diff(a, block(rev("a", 50, ""), rev("c", 50, ""))))
}

func TestRender(t *testing.T) {
	t.Parallel()
	before := block(rev("hello-00001", 100, ""), rev("hello-00000", 0, "blue"))
	after := block(rev("hello-00001", 60, ""), rev("hello-0b1375a", 40, ""), rev("hello-0b1375a", 0, "preview-0b1375a"), rev("hello-00000", 0, "blue"))
	want := "" +
		"REVISION       BEFORE           → AFTER            TAG\n" +
		"hello-00001    ██████████ 100%  → ██████░░░░  60%\n" +
		"hello-00000    ░░░░░░░░░░   0%  → ░░░░░░░░░░   0%  blue\n" +
		"hello-0b1375a  -                → ████░░░░░░  40%\n" +
		"hello-0b1375a  -                → ░░░░░░░░░░   0%  preview-0b1375a\n"
	assert.Equal(t, want, Render(before, after))
	assert.Equal(t, ""+
		"REVISION  TRAFFIC          TAG\n"+
		"LATEST    ██████████ 100%\n", Table(block(latest(100, ""))))
	assert.Equal(t, "█░░░░░░░░░   1%", Bar(1))
	assert.Equal(t, "████░░░░░░  44%", Bar(44))
	assert.Equal(t, "█████████░  95%", Bar(95))
}

func TestNilEntriesAreIgnored(t *testing.T) {
	t.Parallel()
	withNil := block(nil, rev("a", 100, ""), nil, rev("a", 0, "x"))
	assert.Len(t, Clone(withNil), 2)
	assert.Len(t, Merge(withNil), 2)
	pinned, err := Pin(withNil, "a")
	require.NoError(t, err)
	assert.Len(t, pinned, 2)
	all, err := RouteAll(withNil, "new", "")
	require.NoError(t, err)
	require.NoError(t, Validate(all))
	promoted, err := Promote(withNil, withNil, "new", 50)
	require.NoError(t, err)
	require.NoError(t, Validate(promoted))
	_, err = KeepExisting(withNil, "new", "")
	require.ErrorContains(t, err, "traffic[0] is empty")
	assert.NotEmpty(t, Render(withNil, withNil))
	assert.True(t, Equal(block(nil), block(nil)))
	split, err := ToSplits(block(nil, rev("a", 100, "")))
	require.NoError(t, err)
	assert.Len(t, split, 1)
}

func TestLive(t *testing.T) {
	t.Parallel()
	svc := &runpb.Service{
		Name:                "projects/p/locations/r/services/web",
		LatestReadyRevision: "projects/p/locations/r/services/web/revisions/web-b",
		Traffic:             block(rev("web-a", 20, ""), latest(80, "prod")),
	}
	cur, err := Live(svc)
	require.NoError(t, err)
	assertSame(t, block(rev("web-a", 20, ""), rev("web-b", 80, "prod")), cur)

	_, err = Live(&runpb.Service{Name: "projects/p/locations/r/services/web", Traffic: block(latest(100, ""))})
	assert.EqualError(t, err, "service web: cannot pin the traffic to the latest ready revision: the service has no ready revision; fix or delete the service, then deploy again")
}
