package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/cover"
)

const switchSource = `package p

func size(n int) string {
	switch {
	case n > 10:
		return "big"
	case n > 0 && n < 5:
		return "small"
	case n == 7:
		return "seven"
	default:
		return "other"
	}
}

func kind(n int) string {
	switch {
	case n < 0:
		return "negative"
	case n > 100:
		return "huge"
	}
	return ""
}
`

func mustParse(t *testing.T, src string) source {
	t.Helper()
	parsed, err := parseSource([]byte(src))
	require.NoError(t, err)
	return parsed
}

// block is a covered block from the first line:col to the second.
func block(sl, sc, el, ec int) cover.ProfileBlock {
	return cover.ProfileBlock{StartLine: sl, StartCol: sc, EndLine: el, EndCol: ec, Count: 1}
}

func TestCaseBlocks(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		covered []cover.ProfileBlock
		want    []cover.ProfileBlock
	}{
		{name: "nothing ran", covered: nil, want: nil},
		{
			name:    "the second case ran: the first two conditions were evaluated",
			covered: []cover.ProfileBlock{block(7, 22, 8, 17)},
			want:    []cover.ProfileBlock{block(7, 7, 7, 21), block(5, 7, 5, 13)},
		},
		{
			name:    "the default ran: every condition was evaluated",
			covered: []cover.ProfileBlock{block(11, 10, 12, 17)},
			want:    []cover.ProfileBlock{block(9, 7, 9, 13), block(7, 7, 7, 21), block(5, 7, 5, 13)},
		},
		{
			name:    "a case of the second switch ran",
			covered: []cover.ProfileBlock{block(18, 13, 19, 20)},
			want:    []cover.ProfileBlock{block(18, 7, 18, 12)},
		},
		{
			name:    "a block that did not run counts for nothing",
			covered: []cover.ProfileBlock{{StartLine: 11, StartCol: 10, EndLine: 12, EndCol: 17, Count: 0}},
			want:    nil,
		},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := caseBlocks(mustParse(t, switchSource), tc.covered)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestAddCaseBlocks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.26\n"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "p"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p", "p.go"), []byte(switchSource), 0o600))
	profile := filepath.Join(dir, "cover.out")
	require.NoError(t, os.WriteFile(profile, []byte("mode: set\nexample.com/m/p/p.go:18.13,19.20 1 1\nexample.com/m/p/p.go:20.15,21.16 1 0\n"), 0o600))

	require.NoError(t, addCaseBlocks(profile, dir))

	profiles, err := cover.ParseProfiles(profile)
	require.NoError(t, err)
	require.Len(t, profiles, 1)
	assert.Equal(t, []cover.ProfileBlock{
		{StartLine: 18, StartCol: 7, EndLine: 18, EndCol: 12, NumStmt: 0, Count: 1},
		{StartLine: 18, StartCol: 13, EndLine: 19, EndCol: 20, NumStmt: 1, Count: 1},
		{StartLine: 20, StartCol: 15, EndLine: 21, EndCol: 16, NumStmt: 1, Count: 0},
	}, profiles[0].Blocks)
}

const funcLitSource = `package p

func create(do func(func() error) error) error {
	if err := do(func() error {
		return nil
	}); err != nil {
		return err
	}
	return nil
}
`

func TestFuncTailBlocks(t *testing.T) {
	t.Parallel()
	// The literal ends at 6:3; the body of the if starts at 6:17.
	got := funcTailBlocks(mustParse(t, funcLitSource), []cover.ProfileBlock{block(6, 17, 8, 3)})
	assert.Equal(t, []cover.ProfileBlock{block(6, 3, 6, 17)}, got, "the body ran: the condition was evaluated")
	got = funcTailBlocks(mustParse(t, funcLitSource), []cover.ProfileBlock{{StartLine: 6, StartCol: 17, EndLine: 8, EndCol: 3}})
	assert.Empty(t, got, "the body never ran")
}

func TestExitCodeTellsABuildFailureFromAFailedTest(t *testing.T) {
	t.Parallel()
	test := []string{"test", "-timeout", "1m", "-failfast", "example.com/m/p"}
	assert.Equal(t, 2, exitCode(test, 1, []byte("# example.com/m/p\np/x.go:3:9: invalid operation\nFAIL\texample.com/m/p [build failed]\n")), "not viable")
	assert.Equal(t, 1, exitCode(test, 1, []byte("--- FAIL: TestX (0.00s)\nFAIL\texample.com/m/p\t0.01s\n")), "killed")
	assert.Equal(t, 1, exitCode([]string{"build", "./..."}, 1, []byte("[build failed]")), "only go test is translated")
}

const varSource = `package p

import "errors"

const limit = 10 * 2

var errEmpty = errors.New("nothing to do: add a " +
	"stage")

var (
	names    = []string{"a"}
	declared []string
	lazy     = func() int { return 1 + 1 }
)
`

func TestVarBlocks(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []cover.ProfileBlock{block(7, 16, 8, 10), block(11, 13, 11, 26)}, varBlocks(mustParse(t, varSource)),
		"the values of package-level vars, initialised when the test binary starts; not constants, vars without a value or function literals")
}
