package control

import (
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/iam"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Config is what the server's options set; Reset returns to it.
type Config struct {
	Clock          func() time.Time // nil: the server's own clock
	ReadinessDelay time.Duration
	ManualReady    bool
	Behaviors      behavior.Behaviors
	Seed           uint64
	RevisionCap    int
	Compat         Compatibility
}

// Server is the in-memory Cloud Run: the gRPC implementation of the Admin API v2 behind one mutex, mu,
// which guards all its state.
type Server struct {
	runpb.UnimplementedServicesServer
	runpb.UnimplementedRevisionsServer
	longrunningpb.UnimplementedOperationsServer

	cfg *Config // options given to NewServer; Reset returns to them

	mu sync.Mutex

	clock clock

	readinessDelay time.Duration
	manualReady    bool
	behaviors      behavior.Behaviors // by image and revision; failing images have Fail set

	rng          *rand.Rand
	serveRng     *rand.Rand           // routing and behaviour draws, seeded by WithSeed
	hosts        map[string]*service  // by host of uri and urls
	services     map[string]*service  // by full name
	serviceIndex map[string][]string  // location name -> sorted service names
	revisions    map[string]*revision // by full name
	// deletedServices holds deleted services by location, with delete_time
	// and expire_time, for ListServices' show_deleted until they expire.
	deletedServices map[string][]*runpb.Service
	operations      map[string]*operation
	jobs            *jobStore    // jobs, executions and their pending operations
	pools           *poolStore   // worker pools; their revisions are in revisions too
	iam             *iam.Store   // the IAM policies of services and jobs
	opSeq           int64        // last operation sequence number
	pending         []*operation // operations not done yet, oldest first
	nextDue         time.Time    // earliest time a pending operation may change
	dirty           bool         // pending operations must be re-evaluated
}

// service is one Cloud Run service. svc is copy-on-write: it is replaced,
// never modified, so RPC handlers may return it without copying.
type service struct {
	name      string
	location  string // projects/{p}/locations/{l}
	project   string
	region    string
	id        string
	nextSeq   int64 // sequence number of the next revision
	svc       *runpb.Service
	revisions []*revision // oldest first
	deleted   bool
	// deletedRevisions holds the short names of deleted revisions, kept
	// unless Compatibility.AllowDeletedRevisionNames.
	deletedRevisions map[string]bool
	// tombstones are the deleted revisions, oldest first, with delete_time
	// and expire_time, for ListRevisions' show_deleted until they expire.
	tombstones []tombstone
}

// tombstone is a deleted revision as ListRevisions with show_deleted shows it.
type tombstone struct {
	seq int64 // the revision's creation order within its service
	rev *runpb.Revision
}

type revState int

const (
	revPending revState = iota
	revReady
	revFailed
)

// revision is one immutable revision template plus its readiness.
type revision struct {
	name     string // full resource name
	uid      string
	seq      int64 // creation order within the service
	etag     string
	service  *service                // nil for a worker pool's revision
	template *runpb.RevisionTemplate // never modified after creation; a pool revision's containers
	// pool and poolTemplate are set for a worker pool's revision instead of service.
	pool         *workerPool
	poolTemplate *runpb.WorkerPoolRevisionTemplate // never modified after creation
	createTime   time.Time
	readyAt      time.Time // when it becomes ready unless manual
	manual       bool
	failImage    string // non-empty: the revision fails at readyAt because of this image
	state        revState
	changedAt    time.Time // when state last changed
	failReason   runpb.Condition_CommonReason
	failMsg      string
}

// New returns an empty control plane configured by cfg, which Reset returns to.
func New(cfg *Config) *Server {
	s := &Server{cfg: cfg, clock: clock{injected: cfg.Clock}}
	s.resetLocked()
	return s
}

// resetLocked drops all state and restores the options given to NewServer.
func (s *Server) resetLocked() {
	s.clock.set(func(c *clock) { c.frozen, c.at, c.offset = false, time.Time{}, 0 })
	s.readinessDelay = s.cfg.ReadinessDelay
	s.manualReady = s.cfg.ManualReady
	s.behaviors = behavior.Behaviors{}
	behavior.Merge(&s.behaviors, s.cfg.Behaviors)
	s.rng = rand.New(rand.NewPCG(1, 2))
	s.serveRng = rand.New(rand.NewPCG(s.cfg.Seed, 0x5e7e))
	s.hosts = map[string]*service{}
	s.services = map[string]*service{}
	s.serviceIndex = map[string][]string{}
	s.revisions = map[string]*revision{}
	s.deletedServices = map[string][]*runpb.Service{}
	s.operations = map[string]*operation{}
	s.jobs = newJobStore()
	s.pools = newPoolStore()
	s.iam = iam.NewStore()
	s.pending = nil
	s.dirty = false
}

// clock is the server clock: the injected one (cfg.Clock) when set, else the server's own (real time
// shifted by offset, or frozen at at after SetNow). It has its own lock so that Now (each RPC's call-log
// entry, each request's latency) does not wait for the server's; it changes only under both, so the
// time does not jump under a holder of s.mu, who may read its fields directly. Injected clocks are
// called under its lock, one at a time.
type clock struct {
	mu       sync.Mutex
	injected func() time.Time
	frozen   bool
	at       time.Time
	offset   time.Duration
}

// now reads the clock.
func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.injected != nil:
		return c.injected()
	case c.frozen:
		return c.at
	default:
		return time.Now().Add(c.offset)
	}
}

// set changes the clock with change; the server's lock is held.
func (c *clock) set(change func(*clock)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	change(c)
}

// Now reads the server clock without waiting for the server's lock.
func (s *Server) Now() time.Time {
	return s.clock.now()
}

// nowLocked reads the server clock. Must be called with s.mu held.
func (s *Server) nowLocked() time.Time {
	return s.clock.now()
}

// newUIDLocked returns a random (seeded, hence reproducible) UUIDv4 string.
func (s *Server) newUIDLocked() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := s.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte // 8-4-4-4-12 hex digits
	hex.Encode(out[0:8], b[0:4])
	hex.Encode(out[9:13], b[4:6])
	hex.Encode(out[14:18], b[6:8])
	hex.Encode(out[19:23], b[8:10])
	hex.Encode(out[24:36], b[10:16])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}

// newEtagLocked returns a fresh quoted etag, as Cloud Run's etags are quoted strings.
func (s *Server) newEtagLocked() string {
	return `"` + strconv.FormatUint(s.rng.Uint64(), 36) + `"`
}

// randomLettersLocked returns n random lowercase letters.
func (s *Server) randomLettersLocked(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + s.rng.IntN(26))
	}
	return string(b)
}

// projectHash is the stable per-project part of *.a.run.app host names.
func projectHash(project string) string {
	h := fnv.New64a()
	h.Write([]byte(project))
	v := strconv.FormatUint(h.Sum64(), 36)
	for len(v) < 10 {
		v = "0" + v
	}
	return v[:10]
}

// projectNumber is a stable 12-digit number standing in for the project number.
func projectNumber(project string) string {
	h := fnv.New64a()
	h.Write([]byte(project))
	return strconv.FormatUint(100000000000+h.Sum64()%900000000000, 10)
}

// regionCode abbreviates a region as Cloud Run host names do (us-central1 -> uc).
func regionCode(region string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(region, "-") {
		if part != "" && part[0] >= 'a' && part[0] <= 'z' {
			b.WriteByte(part[0])
		}
	}
	return b.String()
}

// serviceURI is the legacy https://{svc}-{hash}-{region}.a.run.app URL;
// a tag prefixes it with "{tag}---".
func serviceURI(project, region, id, tag string) string {
	if tag != "" {
		tag += "---"
	}
	return "https://" + tag + id + "-" + projectHash(project) + "-" + regionCode(region) + ".a.run.app"
}

func condition(typ string, state runpb.Condition_State, msg string, at time.Time) *runpb.Condition {
	return &runpb.Condition{Type: typ, State: state, Message: msg, LastTransitionTime: timestamppb.New(at)}
}
