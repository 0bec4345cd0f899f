package controlplane

import (
	"bytes"
	"context"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pipe-cd/pipecd/pkg/filestore"
	"github.com/pipe-cd/pipecd/pkg/model"
)

// memFilestore is pipecd's filestore.Store in memory (stage logs, live state, command outputs, shared objects).
type memFilestore struct {
	mu      sync.Mutex
	objects map[string]memObject
}

type memObject struct {
	content   []byte
	updatedAt int64
}

func newMemFilestore() *memFilestore { return &memFilestore{objects: map[string]memObject{}} }

func (s *memFilestore) Get(_ context.Context, path string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[path]
	if !ok {
		return nil, filestore.ErrNotFound
	}
	return bytes.Clone(o.content), nil
}

func (s *memFilestore) GetReader(ctx context.Context, path string) (io.ReadCloser, error) {
	b, err := s.Get(ctx, path)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s *memFilestore) Put(_ context.Context, path string, content []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[path] = memObject{content: bytes.Clone(content), updatedAt: time.Now().Unix()}
	return nil
}

func (s *memFilestore) Delete(_ context.Context, path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, path)
	return nil
}

func (s *memFilestore) List(_ context.Context, prefix string) ([]filestore.ObjectAttrs, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var attrs []filestore.ObjectAttrs
	for p, o := range s.objects {
		if strings.HasPrefix(p, prefix) {
			attrs = append(attrs, filestore.ObjectAttrs{Path: p, Size: int64(len(o.content)), UpdatedAt: o.updatedAt})
		}
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Path < attrs[j].Path })
	return attrs, nil
}

func (s *memFilestore) Close() error { return nil }

// memUnregisteredApps is unregisteredappstore.Store in memory (the real one needs Redis).
type memUnregisteredApps struct {
	mu   sync.Mutex
	apps map[string]map[string][]*model.ApplicationInfo // project → piped → apps
}

func (s *memUnregisteredApps) ListApplications(_ context.Context, projectID string) ([]*model.ApplicationInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*model.ApplicationInfo
	for _, apps := range s.apps[projectID] {
		all = append(all, apps...)
	}
	return all, nil
}

func (s *memUnregisteredApps) PutApplications(projectID, pipedID string, apps []*model.ApplicationInfo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps == nil {
		s.apps = map[string]map[string][]*model.ApplicationInfo{}
	}
	if s.apps[projectID] == nil {
		s.apps[projectID] = map[string][]*model.ApplicationInfo{}
	}
	s.apps[projectID][pipedID] = apps
	return nil
}
