package control

import (
	"maps"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/protobuf/proto"
)

// WorkerPool returns a copy of the named worker pool (full resource name).
func (s *Server) WorkerPool(name string) (*runpb.WorkerPool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	pool := s.pools.pools[name]
	if pool == nil {
		return nil, rules.WorkerPoolNotFound(name)
	}
	return proto.Clone(pool.wp).(*runpb.WorkerPool), nil
}

// WorkerPoolRevisions returns copies of a worker pool's revisions, newest first (none when the pool does
// not exist).
func (s *Server) WorkerPoolRevisions(poolName string) []*runpb.Revision {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	pool := s.pools.pools[poolName]
	if pool == nil {
		return nil
	}
	return s.poolRevisionCopiesLocked(pool)
}

// poolRevisionCopiesLocked renders pool's revisions newest first. Must be called with s.mu held.
func (s *Server) poolRevisionCopiesLocked(pool *workerPool) []*runpb.Revision {
	out := make([]*runpb.Revision, 0, len(pool.revisions))
	for i := len(pool.revisions) - 1; i >= 0; i-- {
		out = append(out, proto.Clone(s.poolRevisionProtoLocked(pool.revisions[i])).(*runpb.Revision))
	}
	return out
}

// Instances returns the instances each revision of the named worker pool runs under its applied instance
// split, by short revision name; revisions without instances are left out.
func (s *Server) Instances(poolName string) (map[string]int32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	pool := s.pools.pools[poolName]
	if pool == nil {
		return nil, rules.WorkerPoolNotFound(poolName)
	}
	return s.poolInstancesLocked(pool), nil
}

// allInstancesLocked returns the instances per revision of every worker pool, by pool name.
// Must be called with s.mu held.
func (s *Server) allInstancesLocked() map[string]map[string]int32 {
	out := map[string]map[string]int32{}
	for name, pool := range s.pools.pools {
		out[name] = maps.Clone(s.poolInstancesLocked(pool))
	}
	return out
}
