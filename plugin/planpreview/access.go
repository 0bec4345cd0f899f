package planpreview

import (
	"context"
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// previewAccess returns the change of public access that access.public asks for, for the summary ("" when
// it is not set or nothing changes), and checks that the deploy target's credentials may make it.
func (pv *preview) previewAccess(ctx context.Context, client *provider.Client, name string, live *runpb.Service) string {
	want := pv.want.Spec.Access.Public
	if want == nil {
		return ""
	}
	now := false
	if live != nil {
		policy, err := client.GetServiceIAMPolicy(ctx, name)
		if err != nil {
			pv.add(levelError, "public access (access.public): cannot read the IAM policy of the service: %v", err)
			return ""
		}
		now = provider.IsPublic(policy)
	}
	if err := client.CanSetServiceIAMPolicy(ctx, name); err != nil {
		pv.add(levelError, "public access (access.public): %v", err)
	} else {
		pv.add(levelOK, "public access (access.public): the deploy target's credentials hold %s", provider.PermissionSetIAMPolicy)
	}
	if *want == now {
		fmt.Fprintf(&pv.detail, "Public access (access.public: %t): unchanged\n", *want)
		return ""
	}
	fmt.Fprintf(&pv.detail, "Public access (access.public): %t now, %t after the deployment\n", now, *want)
	if *want {
		return "public access: allUsers gets " + provider.InvokerRole
	}
	return "public access: allUsers loses " + provider.InvokerRole
}
