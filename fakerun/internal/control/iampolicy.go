package control

import (
	"context"

	"cloud.google.com/go/iam/apiv1/iampb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/iam"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The IAM policies of services and jobs live in the iam room; these methods check that the resource
// exists and delegate to it. The v1 API's IAM methods call the services' ones.

func (s *Server) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return getPolicy(s.iam, req, s.serviceExists)
}

func (s *Server) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	return setPolicy(s.iam, req, s.serviceExists)
}

func (s *Server) TestIamPermissions(_ context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	return testPermissions(req, s.serviceExists)
}

func (s *jobsServer) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	return getPolicy(s.iam, req, s.jobExists)
}

func (s *jobsServer) SetIamPolicy(_ context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	return setPolicy(s.iam, req, s.jobExists)
}

func (s *jobsServer) TestIamPermissions(_ context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	return testPermissions(req, s.jobExists)
}

func getPolicy(store *iam.Store, req *iampb.GetIamPolicyRequest, exists func(string) error) (*iampb.Policy, error) {
	if err := exists(req.GetResource()); err != nil {
		return nil, err
	}
	return store.Get(req.GetResource()), nil
}

func setPolicy(store *iam.Store, req *iampb.SetIamPolicyRequest, exists func(string) error) (*iampb.Policy, error) {
	if err := exists(req.GetResource()); err != nil {
		return nil, err
	}
	return store.Set(req.GetResource(), req.GetPolicy(), req.GetUpdateMask())
}

// testPermissions answers for a resource that does not exist yet too, as Cloud Run does: gcloud asks
// whether it may set a new service's policy before it creates the service.
func testPermissions(req *iampb.TestIamPermissionsRequest, exists func(string) error) (*iampb.TestIamPermissionsResponse, error) {
	if err := exists(req.GetResource()); err != nil && status.Code(err) != codes.NotFound {
		return nil, err
	}
	held, err := iam.Test(req.GetPermissions())
	if err != nil {
		return nil, err
	}
	return &iampb.TestIamPermissionsResponse{Permissions: held}, nil
}

// serviceExists is NOT_FOUND for a service that does not exist, INVALID_ARGUMENT for a bad name.
func (s *Server) serviceExists(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.serviceLocked(name)
	return err
}

// jobExists is NOT_FOUND for a job that does not exist, INVALID_ARGUMENT for a bad name.
func (s *Server) jobExists(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.jobLocked(name, "")
	return err
}
