// Command fidelity compares the fidelity report written against real Cloud Run with the one written against
// fakerun and prints every mismatch as a fakerun fix candidate. It exits with status 1 when there is one.
//
//	go -C e2e run ./cmd/fidelity -cloudrun fidelity-cloudrun.json -fakerun fidelity-fakerun.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pipecd-cloudrun/cloudrun/e2e/fidelity"
)

func main() {
	cloudRun := flag.String("cloudrun", "", "report written against real Cloud Run (required)")
	fake := flag.String("fakerun", "", "report written against fakerun (required)")
	flag.Parse()
	os.Exit(run(os.Stdout, *cloudRun, *fake))
}

// run compares the two reports, writes the result to w and returns the exit status.
func run(w io.Writer, cloudRunPath, fakePath string) int {
	printf := func(format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
	if cloudRunPath == "" || fakePath == "" {
		printf("fidelity: both -cloudrun and -fakerun are required\n")
		return 2
	}
	cloudRun, err := fidelity.Read(cloudRunPath)
	if err != nil {
		printf("fidelity: %v\n", err)
		return 2
	}
	fake, err := fidelity.Read(fakePath)
	if err != nil {
		printf("fidelity: %v\n", err)
		return 2
	}
	mismatches := fidelity.Compare(cloudRun, fake)
	for _, m := range mismatches {
		printf("%s\n", m)
	}
	if len(mismatches) > 0 {
		printf("%d mismatch(es) in %d behaviour(s) observed on Cloud Run\n", len(mismatches), len(cloudRun.Observations))
		return 1
	}
	printf("fakerun answered like Cloud Run in all %d behaviour(s)\n", len(cloudRun.Observations))
	return 0
}
