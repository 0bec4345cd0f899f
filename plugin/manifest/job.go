package manifest

import (
	"fmt"
	"regexp"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
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
	// File is the manifest's path relative to the application directory, used in messages.
	File string
	// Format is the format the manifest was written in.
	Format Format

	job *runpb.Job
	// where is where a v1 manifest's metadata says the job lives.
	where placement
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
	m, err := decodeJob(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", file, err)
	}
	m.File = file
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeJob(data []byte) (*JobManifest, error) {
	obj, err := parseDocument(data, kindJob)
	if err != nil {
		return nil, err
	}
	format, err := detectFormat(obj, kindJob)
	if err != nil {
		return nil, err
	}
	job := &runpb.Job{}
	var where placement
	switch format {
	case FormatCloudRunV2:
		err = decodeCloudRunV2(obj, job, jobRanges)
	case FormatKnativeJob:
		job, where, err = decodeKnativeJob(obj)
	}
	if err != nil {
		return nil, err
	}
	return &JobManifest{Format: format, job: job, where: where}, nil
}

// Validate checks what the plugin needs: a valid job name, a task template with at least one container,
// and a valid image on every container.
func (m *JobManifest) Validate() error {
	if _, _, _, err := jobs.split(m.File, m.job.GetName()); err != nil {
		return err
	}
	return validateContainers(m.File, "template.template.containers", m.job.GetTemplate().GetTemplate().GetContainers())
}

// JobID returns the short job name, e.g. "migrate".
func (m *JobManifest) JobID() string {
	_, _, id, _ := jobs.split(m.File, m.job.GetName())
	return id
}

// Proto returns a copy of the decoded Job, exactly as written (after SetImage).
func (m *JobManifest) Proto() *runpb.Job {
	return proto.Clone(m.job).(*runpb.Job)
}

// Job returns a copy of the Job with its full name "projects/{project}/locations/{region}/jobs/{id}" for
// the deploy target's project and region; where the manifest says the job lives must match them.
func (m *JobManifest) Job(project, region string) (*runpb.Job, error) {
	name, err := jobs.locate(m.File, m.job.GetName(), m.where, project, region)
	if err != nil {
		return nil, err
	}
	job := m.Proto()
	job.Name = name
	return job, nil
}

// Images returns the image of every container, in order.
func (m *JobManifest) Images() []string {
	return JobImages(m.job)
}

// JobImages returns the image of every container of job's task template, in order.
func JobImages(job *runpb.Job) []string {
	var images []string
	for _, c := range job.GetTemplate().GetTemplate().GetContainers() {
		images = append(images, c.GetImage())
	}
	return images
}

// SetImage replaces the image of the job's only container (input.image). A job has no ingress container
// to pick among several, so several containers are an error.
func (m *JobManifest) SetImage(image string) error {
	if _, err := ParseImage(image); err != nil {
		return fileErrorf(m.File, "cannot apply input.image: %v", err)
	}
	containers := m.job.GetTemplate().GetTemplate().GetContainers()
	if len(containers) != 1 {
		return fileErrorf(m.File, "cannot apply input.image: the job has %d containers; input.image needs exactly one, "+
			"so set the images in the job manifest instead", len(containers))
	}
	containers[0].Image = image
	return nil
}
