package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
)

// The IAM policy of a service, read and written as `gcloud run services add-iam-policy-binding` does:
// GetIamPolicy, then SetIamPolicy with the etag of that read, so that a concurrent change fails with
// ABORTED (ErrConflict) instead of being overwritten.

// Role and member of public access: anyone may invoke the service.
const (
	InvokerRole = "roles/run.invoker"
	AllUsers    = "allUsers"
)

// PermissionSetIAMPolicy is the permission that writing a service's IAM policy needs.
const PermissionSetIAMPolicy = "run.services.setIamPolicy"

// iamHint says which role grants the IAM permissions of services.
var iamHint = fmt.Sprintf("the deploy target's credentials lack %s, which making the service public (access.public) needs: grant its service account roles/run.admin on the service or project (roles/run.developer does not include it)", PermissionSetIAMPolicy)

// GetServiceIAMPolicy returns the IAM policy of the service.
func (c *Client) GetServiceIAMPolicy(ctx context.Context, name string) (*iampb.Policy, error) {
	var policy *iampb.Policy
	err := c.do(ctx, c.readTimeout, "get the IAM policy of service", name, func(ctx context.Context) (err error) {
		policy, err = c.services.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name})
		return err
	})
	return policy, err
}

// SetServiceIAMPolicy writes policy, which carries the etag of the read it is based on, as the IAM policy
// of the service. PERMISSION_DENIED names the permission and the role to grant.
func (c *Client) SetServiceIAMPolicy(ctx context.Context, name string, policy *iampb.Policy) (*iampb.Policy, error) {
	var out *iampb.Policy
	err := c.do(ctx, c.writeTimeout, "set the IAM policy of service", name, func(ctx context.Context) (err error) {
		out, err = c.services.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: policy})
		return err
	})
	var e *Error
	if errors.As(err, &e) && e.Code == codes.PermissionDenied {
		e.Hint = iamHint
	}
	return out, err
}

// CanSetServiceIAMPolicy asks Cloud Run whether the credentials may write the service's IAM policy; an
// error wrapping ErrNotFound means the service does not exist yet. A missing permission is an error naming
// it and the role to grant.
func (c *Client) CanSetServiceIAMPolicy(ctx context.Context, name string) error {
	var held []string
	err := c.do(ctx, c.readTimeout, "test IAM permissions on service", name, func(ctx context.Context) error {
		resp, err := c.services.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: name, Permissions: []string{PermissionSetIAMPolicy}})
		held = resp.GetPermissions()
		return err
	})
	if err != nil {
		return err
	}
	if !slices.Contains(held, PermissionSetIAMPolicy) {
		return &Error{Op: "set the IAM policy of service", Resource: name, Code: codes.PermissionDenied,
			Message: "Permission '" + PermissionSetIAMPolicy + "' denied on resource '" + name + "'", Hint: iamHint}
	}
	return nil
}

// IsPublic reports whether policy lets allUsers invoke the service: roles/run.invoker granted to allUsers
// without a condition.
func IsPublic(policy *iampb.Policy) bool {
	return slices.ContainsFunc(policy.GetBindings(), func(b *iampb.Binding) bool {
		return b.GetRole() == InvokerRole && b.GetCondition() == nil && slices.Contains(b.GetMembers(), AllUsers)
	})
}

// WithPublic returns a copy of policy in which allUsers holds roles/run.invoker (public) or does not,
// keeping every other binding and member as it is, and the etag of policy.
func WithPublic(policy *iampb.Policy, public bool) *iampb.Policy {
	out := &iampb.Policy{Version: policy.GetVersion(), Etag: policy.GetEtag(), AuditConfigs: policy.GetAuditConfigs()}
	added := false
	for _, b := range policy.GetBindings() {
		nb := &iampb.Binding{Role: b.GetRole(), Condition: b.GetCondition(), Members: slices.Clone(b.GetMembers())}
		if nb.Role == InvokerRole && nb.Condition == nil {
			nb.Members = slices.DeleteFunc(nb.Members, func(m string) bool { return m == AllUsers })
			if public && !added {
				nb.Members, added = append(nb.Members, AllUsers), true
			}
		}
		if len(nb.Members) > 0 {
			out.Bindings = append(out.Bindings, nb)
		}
	}
	if public && !added {
		out.Bindings = append(out.Bindings, &iampb.Binding{Role: InvokerRole, Members: []string{AllUsers}})
	}
	return out
}
