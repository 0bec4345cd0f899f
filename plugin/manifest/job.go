package manifest

import (
	"regexp"

	"cloud.google.com/go/run/apiv2/runpb"
)

// A job manifest is a Cloud Run Admin API v2 Job in YAML or JSON with the REST API's camelCase field names,
// e.g.
//
//	name: migrate
//	template:
//	  taskCount: 1
//	  template:
//	    containers:
//	      - image: us-docker.pkg.dev/my-proj/repo/migrate:v1
//
// decoded as strictly as a service manifest. apiVersion none or "run.googleapis.com/v2" (kind, when
// present, must be Job) is the v2 Job; "run.googleapis.com/v1" with kind Job is the manifest of
// `gcloud run jobs replace` and `gcloud run jobs describe --format export`, converted to the same v2 Job
// (see knative_job.go).

// jobPattern is Cloud Run's rule for job IDs.
var jobPattern = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// JobManifest is a decoded and validated job manifest.
type JobManifest struct {
	document[*runpb.Job]
}

// jobKind is how a job manifest is decoded and checked.
var jobKind = &docKind[*runpb.Job]{
	name: kindJob, names: jobs, ranges: jobRanges,
	empty:   func() *runpb.Job { return &runpb.Job{} },
	knative: decodeKnativeJob,
	field:   "template.template.containers",
	list:    func(job *runpb.Job) []*runpb.Container { return job.GetTemplate().GetTemplate().GetContainers() },
	rename:  func(job *runpb.Job, name string) { job.Name = name },
}

// LoadJob reads and decodes the job manifest file, relative to appDir. A path that leaves appDir,
// directly or through a symbolic link, is an error.
func LoadJob(appDir, file string) (*JobManifest, error) {
	data, err := readFile(appDir, file)
	if err != nil {
		return nil, err
	}
	return DecodeJob(file, data)
}

// DecodeJob decodes and validates job manifest data; file names the source in errors.
func DecodeJob(file string, data []byte) (*JobManifest, error) {
	d, err := jobKind.decode(file, data)
	if err != nil {
		return nil, err
	}
	return &JobManifest{d}, nil
}

// Validate checks what the plugin needs: a valid job name, a task template with at least one container,
// and a valid image on every container.
func (m *JobManifest) Validate() error {
	return jobKind.validate(m.File, m.res)
}

// JobID returns the short job name, e.g. "migrate".
func (m *JobManifest) JobID() string {
	return m.id()
}

// Proto returns a copy of the decoded Job, exactly as written (after SetImage).
func (m *JobManifest) Proto() *runpb.Job {
	return m.proto()
}

// Job returns a copy of the Job with its full name "projects/{project}/locations/{region}/jobs/{id}" for
// the deploy target's project and region; where the manifest says the job lives must match them.
func (m *JobManifest) Job(project, region string) (*runpb.Job, error) {
	return m.locate(project, region)
}

// JobImages returns the image of every container of job's task template, in order.
func JobImages(job *runpb.Job) []string {
	return images(jobKind.list(job))
}
