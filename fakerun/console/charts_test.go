package console

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDrawScalesTheLargestValueToTheTopAndTheLastSecondToTheRightEdge(t *testing.T) {
	lines := map[string][]point{
		"v1": {{0, 0}, {1, 0}, {2, 0}, {chartSeconds - 2, 0}, {chartSeconds - 1, 20}},
		"v2": {{chartSeconds - 1, 10}},
	}
	top, drawn := draw(lines, []string{"v2", "v1", "v0"}, map[string]string{"v1": "#111", "v2": "#222"})
	assert.Equal(t, "20", top)
	assert.Equal(t, []chartLine{
		{Revision: "v2", Color: "#222", Points: "300.0,52.5"},
		{Revision: "v1", Color: "#111", Points: "0.0,100.0 297.5,100.0 300.0,5.0"},
	}, drawn, "v0 has no points and no line; v1's flat start is drawn by its ends")
}

func TestNumberKeepsThreeSignificantDigits(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.5126: "0.513", 40.14: "40.1", 1234.4: "1234"} {
		assert.Equal(t, want, number(v))
	}
}
