package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWidenProfileStartsExecutedBlocksAtTheirLine(t *testing.T) {
	t.Parallel()
	in := "mode: set\n" +
		"example.com/m/p/job.go:53.2,55.105 3 1\n" + // before a function literal
		"example.com/m/p/job.go:58.17,60.3 1 1\n" + // the if body after `}); err != nil {`
		"example.com/m/p/job.go:172.33,174.17 2 0\n" // a case body that never ran
	got, err := widenProfile([]byte(in))
	require.NoError(t, err)
	assert.Equal(t, "mode: set\n"+
		"example.com/m/p/job.go:53.1,55.105 3 1\n"+
		"example.com/m/p/job.go:58.1,60.3 1 1\n"+
		"example.com/m/p/job.go:172.33,174.17 2 0\n", string(got))
}

func TestCoverProfileArg(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "/s/cov.out", coverProfileArg([]string{"test", "-cover", "-coverprofile", "/s/cov.out", "./p/..."}))
	assert.Equal(t, "c.out", coverProfileArg([]string{"test", "-coverprofile=c.out", "./p"}))
	assert.Empty(t, coverProfileArg([]string{"test", "-failfast", "./p"}), "a mutant's run writes no profile")
}
