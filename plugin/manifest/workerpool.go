package manifest

import (
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
)

// A worker pool manifest is a Cloud Run Admin API v2 WorkerPool in YAML or JSON with the REST API's
// camelCase field names, e.g.
//
//	name: consumer
//	scaling:
//	  manualInstanceCount: 10
//	template:
//	  containers:
//	    - image: us-docker.pkg.dev/my-proj/repo/consumer:v1
//
// decoded as strictly as a service manifest. apiVersion none or "run.googleapis.com/v2" (kind, when
// present, must be WorkerPool) is the v2 WorkerPool; "run.googleapis.com/v1" with kind WorkerPool is the
// manifest of `gcloud beta run worker-pools replace` and `… describe --format export`, converted to the
// same v2 WorkerPool (see knative_workerpool.go).

// WorkerPoolManifest is a decoded and validated worker pool manifest.
type WorkerPoolManifest struct {
	document[*runpb.WorkerPool]
}

// poolKind is how a worker pool manifest is decoded and checked.
var poolKind = &docKind[*runpb.WorkerPool]{
	name: kindWorkerPool, names: workerPools, ranges: poolRanges,
	empty:   func() *runpb.WorkerPool { return &runpb.WorkerPool{} },
	knative: decodeKnativeWorkerPool,
	field:   "template.containers",
	list:    func(pool *runpb.WorkerPool) []*runpb.Container { return pool.GetTemplate().GetContainers() },
	rename:  func(pool *runpb.WorkerPool, name string) { pool.Name = name },
	more:    validatePool,
}

// LoadWorkerPool reads and decodes the worker pool manifest file, relative to appDir. A path that leaves
// appDir, directly or through a symbolic link, is an error.
func LoadWorkerPool(appDir, file string) (*WorkerPoolManifest, error) {
	data, err := readFile(appDir, file)
	if err != nil {
		return nil, err
	}
	return DecodeWorkerPool(file, data)
}

// DecodeWorkerPool decodes and validates worker pool manifest data; file names the source in errors.
func DecodeWorkerPool(file string, data []byte) (*WorkerPoolManifest, error) {
	d, err := poolKind.decode(file, data)
	if err != nil {
		return nil, err
	}
	return &WorkerPoolManifest{d}, nil
}

// Validate checks what the plugin needs: a valid worker pool name, a template with at least one container
// and a valid image on every container, a manual instance count that is not negative, and an instance
// split whose percentages are between 0 and 100 and add up to 100.
func (m *WorkerPoolManifest) Validate() error {
	return poolKind.validate(m.File, m.res)
}

// validatePool checks the manual instance count and the instance split.
func validatePool(file string, pool *runpb.WorkerPool) error {
	if n := pool.GetScaling().GetManualInstanceCount(); n < 0 {
		return fileErrorf(file, "field %q: %d is invalid, allowed a whole number of instances, 0 or more", "scaling.manualInstanceCount", n)
	}
	return validateInstanceSplits(file, pool.GetInstanceSplits())
}

// validateInstanceSplits checks the percentages of an instance split; which revisions exist is Cloud
// Run's to check.
func validateInstanceSplits(file string, splits []*runpb.InstanceSplit) error {
	sum := 0
	for i, sp := range splits {
		if p := sp.GetPercent(); p < 0 || p > 100 {
			return fileErrorf(file, "field %q: %d is invalid, allowed a percentage from 0 to 100", fmt.Sprintf("instanceSplits[%d].percent", i), p)
		}
		sum += int(sp.GetPercent())
	}
	if len(splits) > 0 && sum != 100 {
		return fileErrorf(file, "field %q: the percentages add up to %d, allowed exactly 100", "instanceSplits", sum)
	}
	return nil
}

// WorkerPoolID returns the short worker pool name, e.g. "consumer".
func (m *WorkerPoolManifest) WorkerPoolID() string {
	return m.id()
}

// Proto returns a copy of the decoded WorkerPool, exactly as written (after SetImage).
func (m *WorkerPoolManifest) Proto() *runpb.WorkerPool {
	return m.proto()
}

// WorkerPool returns a copy of the WorkerPool with its full name
// "projects/{project}/locations/{region}/workerPools/{id}" for the deploy target's project and region;
// where the manifest says the pool lives must match them.
func (m *WorkerPoolManifest) WorkerPool(project, region string) (*runpb.WorkerPool, error) {
	return m.locate(project, region)
}
