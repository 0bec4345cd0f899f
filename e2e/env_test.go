package e2e

import (
	"context"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// region is the region of an in-process fakerun's services and of the deploy target "local".
const region = target.DefaultRegion

// newEnv starts fakerun with opts and a plugin whose deploy target "local" (the default) points at it; a
// second deploy target, "bad-region", names the invalid region "Tokyo". Specs using it need fakerun's knobs
// (Environment.Fakerun): they are skipped in real Cloud Run mode (see newTargetEnv for specs that run on
// both).
func newEnv(opts ...fakerun.Option) *Environment {
	GinkgoHelper()
	return newFakerunEnv(func(fr *target.Fakerun) []piped.DeployTarget {
		return []piped.DeployTarget{
			{Name: LocalDeployTarget, Config: fr.DeployTargetConfig(region)},
			{Name: "bad-region", Config: fr.DeployTargetConfig("Tokyo")},
		}
	}, opts...)
}

// newFakerunEnv is newEnv with the deploy targets that deployTargets gives for the spec's fakerun.
func newFakerunEnv(deployTargets func(*target.Fakerun) []piped.DeployTarget, opts ...fakerun.Option) *Environment {
	GinkgoHelper()
	if realMode {
		Skip("needs fakerun (its state, call log, fault injection or readiness control): label fakerun-only")
	}
	fr, err := target.NewFakerun(opts...)
	Expect(err).NotTo(HaveOccurred())
	return NewEnvironment(context.Background(), EnvironmentInput{
		Target:          fr,
		PluginBinary:    pluginBinary,
		ArtifactsFolder: artifactsFolder,
		DeployTargets:   deployTargets(fr),
	})
}

// newTargetEnv prepares a spec on the suite's target (a fresh fakerun, or the real project of real mode): the
// services it creates have IDs starting with its prefix (Environment.ID) and are deleted when it ends,
// failed or interrupted.
func newTargetEnv() *Environment {
	GinkgoHelper()
	var t target.Target
	if realMode {
		t = target.NewCloudRun(cloudRun)
	} else {
		fr, err := target.NewFakerun()
		Expect(err).NotTo(HaveOccurred())
		t = fr
	}
	return NewEnvironment(context.Background(), EnvironmentInput{
		Target:          t,
		PluginBinary:    pluginBinary,
		ServicePrefix:   runPrefix + target.RandomHex(4) + "-",
		ArtifactsFolder: artifactsFolder,
	})
}

// sampleImage is Google's public sample image: it exists on real Cloud Run, and fakerun accepts it.
const sampleImage = "us-docker.pkg.dev/cloudrun/container/hello"

// shortCanaryPipeline is the canary example's pipeline without the 10% step and the WAIT: every rollout
// takes tens of seconds on real Cloud Run.
const shortCanaryPipeline = `apiVersion: pipecd.dev/v1beta1
kind: Application
spec:
  name: %s
  planner:
    autoRollback: true
  pipeline:
    stages:
      - name: CLOUDRUN_SYNC
        with:
          skipTrafficShift: true
          tag: true
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 50
      - name: CLOUDRUN_PROMOTE
        with:
          percent: 100
      - name: CLOUDRUN_CANARY_CLEANUP
        with:
          keepCount: 1
  plugins:
    cloudrun:
      input:
        serviceManifestFile: service.yaml
`

// canaryFiles returns the canary example as service id, running sampleImage with GREETING=greeting, with
// shortCanaryPipeline.
func canaryFiles(id, greeting string) map[string]string {
	GinkgoHelper()
	svc := Manifest("canary", sampleImage)
	Expect(svc).To(ContainSubstring("\nname: canary\n"))
	Expect(svc).To(ContainSubstring("hello from v2"))
	svc = strings.Replace(svc, "\nname: canary\n", "\nname: "+id+"\n", 1)
	svc = strings.Replace(svc, "hello from v2", greeting, 1)
	return map[string]string{"service.yaml": svc, "app.pipecd.yaml": fmt.Sprintf(shortCanaryPipeline, id)}
}
