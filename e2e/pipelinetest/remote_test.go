package pipelinetest

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// A fakerun at an address (as the released image runs) gets the deployment's behaviours and faults through its
// admin API.
func TestARunningFakerunIsTurnedThroughItsAdminAPI(t *testing.T) {
	srv, err := fakerun.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	srv.Handle(fakerun.AdminPrefix, srv.AdminHandler())
	ctx := context.Background()
	env, err := Start(ctx, Options{Fakerun: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if env.Fakerun() != nil {
		t.Error("Fakerun() is the in-process server only")
	}

	const image = "example.com/checkout:broken"
	res, err := env.Deploy(ctx, Deployment{AppDir: "../../examples/pipeline-testing/apps/checkout", Image: image, QuickSync: true,
		Behaviors: map[string]Behavior{image: {Fail: true}},
		Faults:    []Fault{{Method: "CreateService", Code: codes.Unavailable, Times: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusFailure || res.FailedStage() != "CLOUDRUN_SYNC" {
		t.Errorf("the revision that never becomes ready: %s", res.Report())
	}
	var codesSeen []codes.Code
	for _, c := range srv.Calls() {
		if c.Method == "CreateService" {
			codesSeen = append(codesSeen, c.Code)
		}
	}
	if len(codesSeen) != 2 || codesSeen[0] != codes.Unavailable || codesSeen[1] != codes.OK {
		t.Errorf("CreateService answered %v, want the injected UNAVAILABLE, then OK (the plugin retries)", codesSeen)
	}
	if fs := srv.Faults(); len(fs) != 0 {
		t.Errorf("faults left after the deployment: %v", fs)
	}
}
