package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScaleAnalysis(t *testing.T) {
	t.Parallel()
	config := `      - name: WAIT
        with:
          duration: 10s
      - name: CLOUDRUN_ANALYSIS
        with:
          duration: 10m        # 5 checks
          interval: 2m
          ingestionDelay: 3m
          minRequests: 50
      - name: CLOUDRUN_PROMOTE`
	got, err := scaleAnalysis(config, 0.01)
	require.NoError(t, err)
	assert.Equal(t, `      - name: WAIT
        with:
          duration: 10s
      - name: CLOUDRUN_ANALYSIS
        with:
          duration: 6s        # 5 checks
          interval: 1.2s
          ingestionDelay: 1.8s
          minRequests: 50
      - name: CLOUDRUN_PROMOTE`, got, "only the analysis is scaled; WAIT has -wait-scale")

	_, err = scaleAnalysis("  - name: CLOUDRUN_ANALYSIS\n    with:\n      duration: 10parsecs\n", 1)
	assert.ErrorContains(t, err, "app.pipecd.yaml line 3")
}
