package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelectTargets(t *testing.T) {
	t.Parallel()
	all, err := selectTargets("")
	require.NoError(t, err)
	for _, tg := range all {
		assert.False(t, tg.byName, "%s is measured only by name", tg.pkg)
	}
	assert.Len(t, all, 12, "the plugin's packages")
	named, err := selectTargets("traffic, fakerun/internal/rules")
	require.NoError(t, err)
	assert.Equal(t, []string{"traffic", "fakerun/internal/rules"}, []string{named[0].pkg, named[1].pkg})
	_, err = selectTargets("fakerun/internal/nothing")
	assert.ErrorContains(t, err, `no target for package "fakerun/internal/nothing"`)

	module, dir := modulePackage("fakerun/internal/rules")
	assert.Equal(t, []string{"fakerun", "internal/rules"}, []string{module, dir})
	module, dir = modulePackage("traffic")
	assert.Equal(t, []string{"plugin", "traffic"}, []string{module, dir})
}
