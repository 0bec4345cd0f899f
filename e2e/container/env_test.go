package container

import (
	"context"

	. "github.com/onsi/ginkgo/v2"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
)

// newEnv starts a fakerun container with the given flags and a plugin whose deploy target "local" points at
// it. Everything stops when the spec ends; on failure the fake's state and call log, its output, the stage
// logs and the plugin's output are written to GinkgoWriter.
func newEnv(ctx context.Context, fakerunArgs ...string) (*Environment, *fakerun) {
	GinkgoHelper()
	if suite.SkipReason != "" {
		Skip(suite.SkipReason)
	}
	fake := startFakerun(ctx, fakerunArgs...)
	e := NewEnvironment(ctx, EnvironmentInput{Target: fake, PluginBinary: suite.PluginBinary, Dumps: fake.dumps})
	return e, fake
}
