package manifest

import (
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
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
	// File is the manifest's path relative to the application directory, used in messages.
	File string
	// Format is the format the manifest was written in.
	Format Format

	pool *runpb.WorkerPool
	// where is where a v1 manifest's metadata says the pool lives.
	where placement
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
	m, err := decodeWorkerPool(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", file, err)
	}
	m.File = file
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeWorkerPool(data []byte) (*WorkerPoolManifest, error) {
	obj, err := parseDocument(data, kindWorkerPool)
	if err != nil {
		return nil, err
	}
	format, err := detectFormat(obj, kindWorkerPool)
	if err != nil {
		return nil, err
	}
	pool := &runpb.WorkerPool{}
	var where placement
	if format == FormatCloudRunV2 {
		err = decodeCloudRunV2(obj, pool, poolRanges)
	} else {
		pool, where, err = decodeKnativeWorkerPool(obj)
	}
	if err != nil {
		return nil, err
	}
	return &WorkerPoolManifest{Format: format, pool: pool, where: where}, nil
}

// Validate checks what the plugin needs: a valid worker pool name, a template with at least one container
// and a valid image on every container, a manual instance count that is not negative, and an instance
// split whose percentages are between 0 and 100 and add up to 100.
func (m *WorkerPoolManifest) Validate() error {
	if _, _, _, err := workerPools.split(m.File, m.pool.GetName()); err != nil {
		return err
	}
	if err := validateContainers(m.File, "template.containers", m.pool.GetTemplate().GetContainers()); err != nil {
		return err
	}
	if n := m.pool.GetScaling().GetManualInstanceCount(); n < 0 {
		return fileErrorf(m.File, "field %q: %d is invalid, allowed a whole number of instances, 0 or more", "scaling.manualInstanceCount", n)
	}
	return validateInstanceSplits(m.File, m.pool.GetInstanceSplits())
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
	_, _, id, _ := workerPools.split(m.File, m.pool.GetName())
	return id
}

// Proto returns a copy of the decoded WorkerPool, exactly as written (after SetImage).
func (m *WorkerPoolManifest) Proto() *runpb.WorkerPool {
	return proto.Clone(m.pool).(*runpb.WorkerPool)
}

// WorkerPool returns a copy of the WorkerPool with its full name
// "projects/{project}/locations/{region}/workerPools/{id}" for the deploy target's project and region;
// where the manifest says the pool lives must match them.
func (m *WorkerPoolManifest) WorkerPool(project, region string) (*runpb.WorkerPool, error) {
	name, err := workerPools.locate(m.File, m.pool.GetName(), m.where, project, region)
	if err != nil {
		return nil, err
	}
	pool := m.Proto()
	pool.Name = name
	return pool, nil
}

// Images returns the image of every container, in order.
func (m *WorkerPoolManifest) Images() []string {
	var images []string
	for _, c := range m.pool.GetTemplate().GetContainers() {
		images = append(images, c.GetImage())
	}
	return images
}

// SetImage replaces the image of the pool's only container (input.image). A worker pool takes no
// requests, so there is no ingress container to pick among several: several containers are an error.
func (m *WorkerPoolManifest) SetImage(image string) error {
	if _, err := ParseImage(image); err != nil {
		return fileErrorf(m.File, "cannot apply input.image: %v", err)
	}
	containers := m.pool.GetTemplate().GetContainers()
	if len(containers) != 1 {
		return fileErrorf(m.File, "cannot apply input.image: the worker pool has %d containers; input.image needs exactly one, "+
			"so set the images in the worker pool manifest instead", len(containers))
	}
	containers[0].Image = image
	return nil
}
