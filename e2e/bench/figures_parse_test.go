package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFakerunFiguresReadTargetsFromUnits runs without E2E_BENCH: it only parses.
func TestFakerunFiguresReadTargetsFromUnits(t *testing.T) {
	out := `goos: linux
BenchmarkBareGRPC-2                 	  100	  50000 ns/op	  9000 B/op	  150 allocs/op
BenchmarkGetService/stub-2          	  100	  60000 ns/op	  0.83 x-bare-grpc(≥0.8)	  107.0 allocs-over-bare(≤100)	  21700 B/op	  257 allocs/op
BenchmarkGetService/official-client-2	  100	  70000 ns/op	  0.70 x-bare-grpc	  23000 B/op	  300 allocs/op
BenchmarkListServices-2             	   10	 2500000 ns/op	  25.1 ms/list(≤20)
BenchmarkStartup-2                  	   30	45000000 ns/op	  45.2 ms/startup(≤100)
PASS
`
	path := filepath.Join(t.TempDir(), "fakerun.txt")
	require.NoError(t, os.WriteFile(path, []byte(out), 0o600))
	got, err := fakerunFigures(path)
	require.NoError(t, err)
	require.Equal(t, []figure{
		{name: "fakerun GetService/stub x-bare-grpc", value: "0.83", target: "≥ 0.8", verdict: "met"},
		{name: "fakerun GetService/stub allocs-over-bare", value: "107.0", target: "≤ 100", verdict: "NOT MET"},
		{name: "fakerun ListServices ms/list", value: "25.1", target: "≤ 20", verdict: "NOT MET"},
		{name: "fakerun Startup ms/startup", value: "45.2", target: "≤ 100", verdict: "met"},
	}, got)

	_, err = fakerunFigures("")
	require.ErrorContains(t, err, FakerunOutputEnv+" is not set")
}
