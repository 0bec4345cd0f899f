package naming

import (
	"regexp"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"
)

var (
	revisionRule = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	tagRule      = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

const commit = "0B13751aa6f1e2d3c4b5a69788990011aabbccdd"

func template(image string) *runpb.RevisionTemplate {
	return &runpb.RevisionTemplate{
		Labels:     map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"},
		Containers: []*runpb.Container{{Image: image, Env: []*runpb.EnvVar{{Name: "X", Values: &runpb.EnvVar_Value{Value: "1"}}}}},
		Timeout:    durationpb.New(60_000_000_000),
	}
}

func TestRevisionName(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name       string
		service    string
		commit     string
		wantPrefix string
		wantErr    string
	}{
		{name: "success: short service", service: "hello", commit: commit, wantPrefix: "hello-0b13751-"},
		{name: "success: commit is sanitised", service: "hello", commit: "AB_cd.EF/1234", wantPrefix: "hello-abcdef1-"},
		{name: "success: 40 character service keeps the whole commit", service: strings.Repeat("a", 40), commit: commit, wantPrefix: strings.Repeat("a", 40) + "-0b13751-"},
		{name: "success: 49 character service shortens the commit", service: strings.Repeat("s", 49), commit: commit, wantPrefix: strings.Repeat("s", 49) + "-0b13-"},
		{name: "fail: upper case service", service: "Hello", commit: commit, wantErr: `service name "Hello" is invalid`},
		{name: "fail: full resource name", service: "projects/p/locations/r/services/s", commit: commit, wantErr: "is invalid"},
		{name: "fail: service too long", service: strings.Repeat("s", 50), commit: commit, wantErr: "at most 49 characters"},
		{name: "fail: empty commit", service: "hello", commit: "", wantErr: `commit hash "" has no letters or digits`},
		{name: "fail: commit without letters or digits", service: "hello", commit: "--", wantErr: "has no letters or digits"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := RevisionName(tc.service, tc.commit, template("app:v1"))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(got, tc.wantPrefix), "got %q, want prefix %q", got, tc.wantPrefix)
			assert.Len(t, got, len(tc.wantPrefix)+8)
			assert.LessOrEqual(t, len(got), MaxRevisionNameLength)
			assert.Regexp(t, revisionRule, got)
		})
	}
}

func TestRevisionNameDeterminism(t *testing.T) {
	t.Parallel()
	base, err := RevisionName("hello", commit, template("app:v1"))
	require.NoError(t, err)

	// Map iteration order and the revision field must not matter.
	for range 20 {
		tmpl := template("app:v1")
		tmpl.Revision = "hello-something-else"
		got, err := RevisionName("hello", commit, tmpl)
		require.NoError(t, err)
		assert.Equal(t, base, got)
	}

	changes := map[string]func(*runpb.RevisionTemplate){
		"image":   func(t *runpb.RevisionTemplate) { t.Containers[0].Image = "app:v2" },
		"env":     func(t *runpb.RevisionTemplate) { t.Containers[0].Env[0].Values = &runpb.EnvVar_Value{Value: "2"} },
		"label":   func(t *runpb.RevisionTemplate) { t.Labels["e"] = "5" },
		"timeout": func(t *runpb.RevisionTemplate) { t.Timeout = durationpb.New(1) },
		"scaling": func(t *runpb.RevisionTemplate) { t.Scaling = &runpb.RevisionScaling{MaxInstanceCount: 3} },
		"extra sidecar": func(t *runpb.RevisionTemplate) {
			t.Containers = append(t.Containers, &runpb.Container{Image: "side:1"})
		},
	}
	seen := map[string]string{base: "base"}
	for what, change := range changes {
		tmpl := template("app:v1")
		change(tmpl)
		got, err := RevisionName("hello", commit, tmpl)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(got, "hello-0b13751-"), got)
		prev, dup := seen[got]
		assert.False(t, dup, "changing the %s gave the same name as %s: %s", what, prev, got)
		seen[got] = what
	}

	other, err := RevisionName("hello", "ffffffffff", template("app:v1"))
	require.NoError(t, err)
	assert.NotEqual(t, base, other, "another commit must give another name")

	// The caller's template is not modified.
	tmpl := template("app:v1")
	tmpl.Revision = "keep-me"
	_, err = RevisionName("hello", commit, tmpl)
	require.NoError(t, err)
	assert.Equal(t, "keep-me", tmpl.Revision)

	_, err = RevisionName("hello", commit, nil)
	require.ErrorContains(t, err, "revision template is missing")
}

func TestRevisionNameAt(t *testing.T) {
	t.Parallel()
	base, err := RevisionName("hello", commit, template("app:v1"))
	require.NoError(t, err)
	hash := base[len("hello-0b13751-"):]
	long := strings.Repeat("s", MaxServiceNameLength)
	testcases := []struct {
		name       string
		service    string
		generation int
		want       string
		wantErr    string
	}{
		{name: "success: generation 1 is RevisionName's name", service: "hello", generation: 1, want: base},
		{name: "success: generation 2 adds a suffix", service: "hello", generation: 2, want: base + "-2"},
		{name: "success: the last generation", service: "hello", generation: MaxRevisionGeneration, want: base + "-5"},
		{name: "success: 49 character service shortens the commit further", service: long, generation: 2, want: long + "-0b-" + hash + "-2"},
		{name: "fail: generation 0", service: "hello", generation: 0, wantErr: "revision name generation 0 is out of range: allowed 1 to 5"},
		{name: "fail: generation past the last", service: "hello", generation: MaxRevisionGeneration + 1, wantErr: "revision name generation 6 is out of range"},
		{name: "fail: invalid service", service: "Hello", generation: 2, wantErr: `service name "Hello" is invalid`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := RevisionNameAt(tc.service, commit, template("app:v1"), tc.generation)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.LessOrEqual(t, len(got), MaxRevisionNameLength)
			assert.Regexp(t, revisionRule, got)
			assert.Equal(t, tc.generation, Generation(got))
			assert.True(t, SameTemplate(got, base), "%s and %s carry the same template", got, base)
			again, err := RevisionNameAt(tc.service, commit, template("app:v1"), tc.generation)
			require.NoError(t, err)
			assert.Equal(t, got, again, "names must be deterministic")
		})
	}
}

func TestRevisionNameAtAllGenerationsDiffer(t *testing.T) {
	t.Parallel()
	for _, service := range []string{"hello", strings.Repeat("s", MaxServiceNameLength)} {
		seen := map[string]bool{}
		for g := 1; g <= MaxRevisionGeneration; g++ {
			got, err := RevisionNameAt(service, commit, template("app:v1"), g)
			require.NoError(t, err)
			assert.False(t, seen[got], "generation %d repeats %s", g, got)
			seen[got] = true
		}
	}
}

func TestSameTemplate(t *testing.T) {
	t.Parallel()
	v1, err := RevisionName("hello", commit, template("app:v1"))
	require.NoError(t, err)
	v2, err := RevisionName("hello", commit, template("app:v2"))
	require.NoError(t, err)
	testcases := []struct {
		name string
		a, b string
		want bool
		gen  int
	}{
		{name: "success: same name", a: v1, b: v1, want: true, gen: 1},
		{name: "success: a later generation of the same template", a: v1 + "-3", b: v1, want: true, gen: 3},
		{name: "fail: another template", a: v2, b: v1, gen: 1},
		{name: "fail: another template at a later generation", a: v2 + "-2", b: v1, gen: 2},
		{name: "fail: a name Cloud Run chose", a: "hello-00002-xyz", b: v1, gen: 1},
		{name: "fail: empty name", a: "", b: v1, gen: 1},
		// A hash may be all digits: eight digits are a hash, not generation 12345678.
		{name: "success: a hash of digits is no generation", a: "hello-0b13751-12345678", b: "hello-0b13751-12345678-2", want: true, gen: 1},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, SameTemplate(tc.a, tc.b))
			assert.Equal(t, tc.want, SameTemplate(tc.b, tc.a))
			assert.Equal(t, tc.gen, Generation(tc.a))
		})
	}
}

func TestPreviewTag(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		service string
		commit  string
		want    string
		wantErr string
	}{
		{name: "success: short service", service: "hello", commit: commit, want: "preview-0b13751"},
		{name: "success: 31 character service still fits the long form", service: strings.Repeat("a", 31), commit: commit, want: "preview-0b13751"},
		{name: "success: 32 character service gets the short form", service: strings.Repeat("a", 32), commit: commit, want: "p0b13751"},
		{name: "success: 40 character service gets a shorter commit", service: strings.Repeat("a", 40), commit: commit, want: "p0b137"},
		{name: "success: 43 character service gets the shortest tag", service: strings.Repeat("a", 43), commit: commit, want: "p0b"},
		{name: "success: the commit's letters and digits are kept, punctuation dropped, case folded", service: "hello", commit: "A-z_0:9.aZ9x", want: "preview-az09az9"},
		{name: "fail: 44 character service leaves no room", service: strings.Repeat("a", 44), commit: commit,
			wantErr: `is 44 characters long: Cloud Run allows at most 46 characters for a traffic tag plus the service name, which leaves no room for a tag of at least 3 characters; disable the "tag" option of CLOUDRUN_SYNC or use a service name of at most 43 characters`},
		{name: "fail: commit too short for the short form", service: strings.Repeat("a", 43), commit: "a", wantErr: "too short"},
		{name: "fail: invalid service", service: "my_svc", commit: commit, wantErr: `service name "my_svc" is invalid`},
		{name: "fail: empty commit", service: "hello", commit: "", wantErr: "has no letters or digits"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := PreviewTag(tc.service, tc.commit)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Regexp(t, tagRule, got)
			assert.GreaterOrEqual(t, len(got), MinTagLength)
			assert.LessOrEqual(t, len(got)+len(tc.service), MaxTagAndServiceLength)
			again, err := PreviewTag(tc.service, tc.commit)
			require.NoError(t, err)
			assert.Equal(t, got, again)
		})
	}
}

func TestShortCommit(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "1111111", ShortCommit("1111111aaaaaaaa"))
	assert.Equal(t, "abc", ShortCommit("abc"))
	assert.Equal(t, "(unknown)", ShortCommit(""))
}

// TestRevisionNameOfWorkerPool: a worker pool's revision template is named by the same rule.
func TestRevisionNameOfWorkerPool(t *testing.T) {
	t.Parallel()
	tmpl := func(image, revision string) *runpb.WorkerPoolRevisionTemplate {
		return &runpb.WorkerPoolRevisionTemplate{Revision: revision, Containers: []*runpb.Container{{Image: image}}}
	}
	a, err := RevisionName("consumer", "0123456789abcdef", tmpl("img:v1", ""))
	require.NoError(t, err)
	named, err := RevisionName("consumer", "0123456789abcdef", tmpl("img:v1", "consumer-whatever"))
	require.NoError(t, err)
	assert.Equal(t, a, named, "the revision field is not part of the hash")
	assert.Regexp(t, `^consumer-0123456-[a-z2-7]{8}$`, a)
	b, err := RevisionName("consumer", "0123456789abcdef", tmpl("img:v2", ""))
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	_, err = RevisionName("consumer", "0123456789abcdef", (*runpb.WorkerPoolRevisionTemplate)(nil))
	assert.ErrorContains(t, err, "revision template is missing")
}

func TestResourceNames(t *testing.T) {
	t.Parallel()
	svc := ServiceName("proj", "europe-west1", "web")
	assert.Equal(t, "projects/proj/locations/europe-west1/services/web", svc)
	assert.Equal(t, "projects/proj/locations/europe-west1/jobs/batch", JobName("proj", "europe-west1", "batch"))
	rev := FullRevisionName(svc, "web-0b13751-abcdefgh")
	assert.Equal(t, "projects/proj/locations/europe-west1/services/web/revisions/web-0b13751-abcdefgh", rev)
	assert.Equal(t, "web-0b13751-abcdefgh", ShortName(rev))
	assert.Equal(t, "web", ShortName(svc))
	assert.Equal(t, "web", ShortName("web"))
}
