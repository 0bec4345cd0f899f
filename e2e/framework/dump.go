package framework

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// Dump is one piece of a failed spec's output: the target's state, its call log, the stage logs, the
// plugin's output.
type Dump struct {
	// Name is the dump's file name in the artifacts folder, e.g. "stage-logs.txt".
	Name    string
	Content string
}

// FakerunDumps are an in-process fakerun's state and call log.
func FakerunDumps(srv *fakerun.Server) []Dump {
	state, err := json.MarshalIndent(srv.State(), "", "  ")
	if err != nil {
		state = []byte(err.Error())
	}
	var calls strings.Builder
	for _, c := range srv.Calls() {
		fmt.Fprintf(&calls, "%s %-16s %s\n", c.Time.Format("15:04:05.000"), c.Method, c.Code)
	}
	return []Dump{{"fakerun-state.json", string(state)}, {"fakerun-calls.txt", calls.String()}}
}

// dumpOnFailure writes the dumps of a failed spec to GinkgoWriter and, when set, the artifacts folder:
// the target's (FakerunDumps, EnvironmentInput.Dumps), every kept result's stage logs and the plugin's output.
func (e *Environment) dumpOnFailure(ctx SpecContext) {
	if !CurrentSpecReport().Failed() {
		return
	}
	var dumps []Dump
	if e.Fakerun != nil {
		dumps = append(dumps, FakerunDumps(e.Fakerun)...)
	}
	if e.input.Dumps != nil {
		dumps = append(dumps, e.input.Dumps(ctx)...)
	}
	var stages strings.Builder
	e.mu.Lock()
	results := slices.Clone(e.results)
	e.mu.Unlock()
	for _, r := range results {
		stages.WriteString(r.Report())
	}
	dumps = append(dumps, Dump{"stage-logs.txt", stages.String()}, Dump{"plugin-output.txt", e.Piped.PluginOutput()})
	for _, d := range dumps {
		GinkgoWriter.Printf("\n===== %s =====\n%s\n", d.Name, d.Content)
	}
	if e.input.ArtifactsFolder == "" {
		return
	}
	dir := filepath.Join(e.input.ArtifactsFolder, specDirName(CurrentSpecReport().FullText()))
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	for _, d := range dumps {
		Expect(os.WriteFile(filepath.Join(dir, d.Name), []byte(d.Content), 0o644)).To(Succeed())
	}
}

// specDirName turns a spec's full text into a directory name.
func specDirName(text string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, text)
	return name[:min(len(name), 120)] + "-" + target.RandomHex(4)
}
