// Package iam is fakerun's store of IAM policies: one policy per resource, read and written with Google's
// etag semantics (https://cloud.google.com/iam/docs/reference/rest/v1/Policy): every write gets a new etag,
// a write that names an etag other than the current one fails with ABORTED, and a resource never written
// has an empty policy. The callers check that the resource exists; the store only keeps policies.
package iam

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Store holds the policies by resource name. It is safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	policies map[string]*iampb.Policy
	seq      uint64 // last etag number given out
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{policies: map[string]*iampb.Policy{}}
}

// Get returns the policy of resource: its bindings, version and etag. A resource never written has no
// bindings and the etag "ACAB", as Cloud Run answers for a fresh service.
func (s *Store) Get(resource string) *iampb.Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.policies[resource]; p != nil {
		return proto.Clone(p).(*iampb.Policy)
	}
	return &iampb.Policy{Etag: []byte{0x00, 0x20, 0x01}}
}

// Set replaces the policy of resource (only the fields update_mask names, "bindings,etag" when it is
// empty, as the IAM reference says) and returns it with a new etag. A policy that carries an etag other
// than the current one is ABORTED, so a read-modify-write that lost a race fails instead of undoing the
// other write.
func (s *Store) Set(resource string, policy *iampb.Policy, mask *fieldmaskpb.FieldMask) (*iampb.Policy, error) {
	if err := validate(policy); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	current := s.policies[resource]
	if current == nil {
		current = &iampb.Policy{Etag: []byte{0x00, 0x20, 0x01}}
	}
	if etag := policy.GetEtag(); len(etag) > 0 && string(etag) != string(current.GetEtag()) {
		return nil, status.Errorf(codes.Aborted, "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff. The request's ETag '%s' did not match the current policy's ETag '%s'.",
			base64.StdEncoding.EncodeToString(etag), base64.StdEncoding.EncodeToString(current.GetEtag()))
	}
	next := proto.Clone(current).(*iampb.Policy)
	paths := mask.GetPaths()
	if len(paths) == 0 {
		paths = []string{"bindings", "etag"}
	}
	for _, p := range paths {
		switch p {
		case "bindings":
			next.Bindings = normalize(policy.GetBindings())
		case "etag":
		case "version":
			next.Version = policy.GetVersion()
		case "audit_configs", "auditConfigs":
			next.AuditConfigs = policy.GetAuditConfigs()
		default:
			return nil, status.Errorf(codes.InvalidArgument, "Invalid update_mask path %q: the policy's fields are bindings, etag, version and audit_configs.", p)
		}
	}
	if next.Version == 0 && len(next.GetBindings()) > 0 {
		next.Version = 1
	}
	s.seq++
	next.Etag = binary.BigEndian.AppendUint64([]byte{0x42}, s.seq)
	s.policies[resource] = next
	return proto.Clone(next).(*iampb.Policy), nil
}

// Public reports whether anyone may invoke resource: its policy grants roles/run.invoker to allUsers without
// a condition.
func (s *Store) Public(resource string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.policies[resource].GetBindings() {
		if b.GetRole() == "roles/run.invoker" && b.GetCondition() == nil && slices.Contains(b.GetMembers(), "allUsers") {
			return true
		}
	}
	return false
}

// Forget drops the policy of a deleted resource, so a new resource of the same name starts empty.
func (s *Store) Forget(resource string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.policies, resource)
}

// Test returns the permissions the caller holds among those asked: fakerun authenticates nobody, so the
// caller holds every run.* permission, as an owner would; others it does not.
func Test(permissions []string) ([]string, error) {
	if len(permissions) > 100 {
		return nil, status.Errorf(codes.InvalidArgument, "At most 100 permissions can be tested at once, got %d.", len(permissions))
	}
	var held []string
	for _, p := range permissions {
		if strings.HasPrefix(p, "run.") {
			held = append(held, p)
		}
	}
	return held, nil
}

// validate checks the bindings as IAM does: a role and at least one member of a known kind.
func validate(policy *iampb.Policy) error {
	for i, b := range policy.GetBindings() {
		if !strings.HasPrefix(b.GetRole(), "roles/") && !strings.HasPrefix(b.GetRole(), "projects/") && !strings.HasPrefix(b.GetRole(), "organizations/") {
			return status.Errorf(codes.InvalidArgument, "Invalid value for field 'policy.bindings[%d].role': %q is not a role; roles look like roles/run.invoker.", i, b.GetRole())
		}
		for _, m := range b.GetMembers() {
			if !validMember(m) {
				return status.Errorf(codes.InvalidArgument, "Invalid value for field 'policy.bindings[%d].members': %q; members are allUsers, allAuthenticatedUsers or start with user:, serviceAccount:, group:, domain:, principal: or principalSet:.", i, m)
			}
		}
	}
	return nil
}

func validMember(m string) bool {
	if m == "allUsers" || m == "allAuthenticatedUsers" {
		return true
	}
	kind, id, ok := strings.Cut(m, ":")
	return ok && id != "" && slices.Contains([]string{"user", "serviceAccount", "group", "domain", "principal", "principalSet", "deleted"}, kind)
}

// normalize merges bindings of one role (without a condition), sorts the members and drops empty
// bindings, as IAM stores a policy.
func normalize(in []*iampb.Binding) []*iampb.Binding {
	var out []*iampb.Binding
	byRole := map[string]*iampb.Binding{}
	for _, b := range in {
		key := b.GetRole()
		if b.GetCondition() != nil {
			key += "\x00" + fmt.Sprint(b.GetCondition().GetExpression())
		}
		if have := byRole[key]; have != nil {
			have.Members = append(have.Members, b.GetMembers()...)
			continue
		}
		c := proto.Clone(b).(*iampb.Binding)
		byRole[key] = c
		out = append(out, c)
	}
	out = slices.DeleteFunc(out, func(b *iampb.Binding) bool { return len(b.GetMembers()) == 0 })
	for _, b := range out {
		slices.Sort(b.Members)
		b.Members = slices.Compact(b.Members)
	}
	return out
}
