package deployment

import (
	"fmt"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

// publicApp is quickSyncApp with access.public set to public.
func publicApp(public bool) string {
	v := "false"
	if public {
		v = "true"
	}
	return quickSyncApp + "      access:\n        public: " + v + "\n"
}

// iamClient reads and writes the service's IAM policy behind the plugin's back, as gcloud would.
func iamClient(t *testing.T, f *fakerun.Server) *run.ServicesClient {
	t.Helper()
	c, err := run.NewServicesClient(t.Context(), f.ClientOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func policyOf(t *testing.T, c *run.ServicesClient) *iampb.Policy {
	t.Helper()
	p, err := c.GetIamPolicy(t.Context(), &iampb.GetIamPolicyRequest{Resource: serviceName()})
	require.NoError(t, err)
	return p
}

// bindings are the bindings of a policy, for exact comparisons that ignore the etag.
func bindings(p *iampb.Policy) []*iampb.Binding { return p.GetBindings() }

func TestAccessPublic_FirstDeploymentMakesTheServicePublic(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	c := iamClient(t, f)

	e.deploy("1111111aaaa", publicApp(true), serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Empty(t, cmp.Diff([]*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}, bindings(policyOf(t, c)), protocmp.Transform()))
	assert.Contains(t, log.String(), "Service web is public: allUsers now holds roles/run.invoker")
}

// Making a service public keeps every other binding, and the rollback puts the policy back exactly.
func TestAccessPublic_RollbackRestoresThePolicyExactly(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	c := iamClient(t, f)

	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	others := []*iampb.Binding{
		{Role: "roles/run.developer", Members: []string{"group:devs@example.com"}},
		{Role: "roles/run.invoker", Members: []string{"serviceAccount:caller@p.iam.gserviceaccount.com"}},
	}
	_, err := c.SetIamPolicy(t.Context(), &iampb.SetIamPolicyRequest{Resource: serviceName(), Policy: &iampb.Policy{Bindings: others}})
	require.NoError(t, err)
	before := policyOf(t, c)

	e.deploy("2222222bbbb", publicApp(true), serviceYAML("gcr.io/p/web:v2"))
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Empty(t, cmp.Diff([]*iampb.Binding{
		{Role: "roles/run.developer", Members: []string{"group:devs@example.com"}},
		{Role: "roles/run.invoker", Members: []string{"allUsers", "serviceAccount:caller@p.iam.gserviceaccount.com"}},
	}, bindings(policyOf(t, c)), protocmp.Transform()))

	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Empty(t, cmp.Diff(bindings(before), bindings(policyOf(t, c)), protocmp.Transform()), "the rollback restores the bindings exactly")
	assert.Contains(t, log.String(), "Service web is no longer public")
}

// access.public: false revokes public access, keeping the other invokers; the rollback grants it again.
func TestAccessPublic_FalseRevokesAndRollbackGrantsAgain(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	c := iamClient(t, f)

	e.deploy("1111111aaaa", publicApp(true), serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	e.deploy("2222222bbbb", publicApp(false), serviceYAML("gcr.io/p/web:v2"))
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Empty(t, bindings(policyOf(t, c)))

	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Empty(t, cmp.Diff([]*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}, bindings(policyOf(t, c)), protocmp.Transform()))
}

// Without access.public the plugin never reads or writes the IAM policy.
func TestAccessPublic_UnsetLeavesThePolicyAlone(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)

	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	e.deploy("2222222bbbb", quickSyncApp, serviceYAML("gcr.io/p/web:v2"))
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	calls := callCounts(f)
	assert.Zero(t, calls["GetIamPolicy"]+calls["SetIamPolicy"]+calls["TestIamPermissions"], "IAM calls: %v", calls)
}

// A concurrent change of the policy (ABORTED on the etag) is read again and kept.
func TestAccessPublic_ConcurrentPolicyChangeIsKept(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	c := iamClient(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	f.InjectFault("SetIamPolicy", fakerun.Fault{Code: codes.Aborted, Message: "There were concurrent policy changes.", Times: 1})
	e.deploy("2222222bbbb", publicApp(true), serviceYAML("gcr.io/p/web:v2"))
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Contains(t, log.String(), "The IAM policy of service web was changed by someone else meanwhile; reading it again")
	assert.Empty(t, cmp.Diff([]*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}, bindings(policyOf(t, c)), protocmp.Transform()))
}

// Credentials without run.services.setIamPolicy: the stage fails naming the permission and the role, and
// the traffic stays on the revision that served before.
func TestAccessPublic_PermissionDeniedNamesTheRole(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	e.deploy("1111111aaaa", quickSyncApp, serviceYAML("gcr.io/p/web:v1"))
	revA := e.revisionFor()
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	f.InjectFault("SetIamPolicy", fakerun.Fault{Code: codes.PermissionDenied, Message: "Permission 'run.services.setIamPolicy' denied on resource"})
	e.deploy("2222222bbbb", publicApp(true), serviceYAML("gcr.io/p/web:v2"))
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusFailure, status, log.String())
	assert.Contains(t, log.firstError(), "failed to make service web public (allUsers holds roles/run.invoker)")
	assert.Contains(t, log.firstError(), "lack run.services.setIamPolicy, which making the service public (access.public) needs: grant its service account roles/run.admin")
	assert.Equal(t, []string{revA + ":100"}, trafficOf(t, f))
}

// A multi-region service is made public in each region, as gcloud does (each region's service has its own
// IAM policy), and the rollback restores each region's policy.
func TestAccessPublic_MultiRegionEveryRegion(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	c := iamClient(t, f)
	manifest := "name: web\nmultiRegionSettings: {regions: [" + testRegion + ", europe-west1]}\ntemplate:\n  containers:\n  - {image: %s, ports: [{containerPort: 8080}]}\n"
	europe := naming.ServiceName(testProject, "europe-west1", "web")

	e.deploy("1111111aaaa", quickSyncApp, fmt.Sprintf(manifest, "gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	// The service in the other region (fakerun, as Cloud Run, deploys it there too), with an invoker of its own.
	own := []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"user:eu@example.com"}}}
	_, err := c.SetIamPolicy(t.Context(), &iampb.SetIamPolicyRequest{Resource: europe, Policy: &iampb.Policy{Bindings: own}})
	require.NoError(t, err)
	europePolicy := func() []*iampb.Binding {
		p, err := c.GetIamPolicy(t.Context(), &iampb.GetIamPolicyRequest{Resource: europe})
		require.NoError(t, err)
		return p.GetBindings()
	}

	e.deploy("2222222bbbb", publicApp(true), fmt.Sprintf(manifest, "gcr.io/p/web:v2"))
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Empty(t, cmp.Diff([]*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}, bindings(policyOf(t, c)), protocmp.Transform()))
	assert.Empty(t, cmp.Diff([]*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers", "user:eu@example.com"}}}, europePolicy(), protocmp.Transform()))

	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Empty(t, bindings(policyOf(t, c)))
	assert.Empty(t, cmp.Diff(own, europePolicy(), protocmp.Transform()), "each region's policy is restored")
}

// A deployment that adds a region to a public service: the new region has no service (and no policy) before
// the deployment, so it counts as not public then; the deployment makes it public there too, and the rollback,
// which takes the region away again, restores the deploy target's region's policy.
func TestAccessPublic_RegionAddedByTheDeployment(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	e := newEnv(t, f)
	c := iamClient(t, f)
	europe := naming.ServiceName(testProject, "europe-west1", "web")
	public := []*iampb.Binding{{Role: "roles/run.invoker", Members: []string{"allUsers"}}}

	e.deploy("1111111aaaa", publicApp(true), serviceYAML("gcr.io/p/web:v1"))
	status, log := e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())

	e.deploy("2222222bbbb", publicApp(true), "name: web\nmultiRegionSettings: {regions: ["+testRegion+", europe-west1]}\ntemplate:\n  containers:\n  - {image: gcr.io/p/web:v2, ports: [{containerPort: 8080}]}\n")
	status, log = e.run(StageCloudRunSync, "", quick)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Empty(t, cmp.Diff(public, bindings(policyOf(t, c)), protocmp.Transform()))
	p, err := c.GetIamPolicy(t.Context(), &iampb.GetIamPolicyRequest{Resource: europe})
	require.NoError(t, err)
	assert.Empty(t, cmp.Diff(public, p.GetBindings(), protocmp.Transform()), "the added region is public too")

	status, log = e.run(StageCloudRunRollback, "", nil)
	require.Equal(t, sdk.StageStatusSuccess, status, log.String())
	assert.Empty(t, cmp.Diff(public, bindings(policyOf(t, c)), protocmp.Transform()), "the deploy target's region stays public")
	_, err = c.GetService(t.Context(), &runpb.GetServiceRequest{Name: europe})
	assert.Equal(t, codes.NotFound, grpcstatus.Code(err), "the rollback took the added region away: %v", err)
}
