package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pipe-cd/piped-plugin-sdk-go/unit"
)

// DefaultServiceManifestFile is the manifest file name used when input.serviceManifestFile is empty.
const DefaultServiceManifestFile = "service.yaml"

// applicationWhere names the plugin's part of app.pipecd.yaml in error messages.
func applicationWhere() string {
	return "application " + PluginSection()
}

// ApplicationSpec is the plugin's part of app.pipecd.yaml (spec.plugins.<plugin name>).
type ApplicationSpec struct {
	// Input says where the service manifest is.
	Input Input `json:"input"`
	// QuickSync configures the CLOUDRUN_SYNC stage of a quick sync.
	QuickSync QuickSyncOptions `json:"quickSync"`
	// Access says who may invoke the service.
	Access Access `json:"access"`
}

// Access says who may invoke the service (pipecd#3765).
type Access struct {
	// Public, when set, is whether anyone (allUsers) holds roles/run.invoker on the service: CLOUDRUN_SYNC
	// grants or revokes it in the service's IAM policy, keeping every other binding. Default: nil, the
	// policy is left as it is.
	Public *bool `json:"public,omitempty"`
}

// Input says where the service, job or worker pool manifest is and how to adjust it. An application
// deploys one Cloud Run service, one Cloud Run job or one Cloud Run worker pool: which one is said by the
// field that names the manifest.
type Input struct {
	// ServiceManifestFile is the path of the Cloud Run Service manifest, relative to the
	// application directory. Default: "service.yaml", unless JobManifestFile is set.
	ServiceManifestFile string `json:"serviceManifestFile"`
	// JobManifestFile is the path of the Cloud Run Job manifest, relative to the application directory;
	// setting it makes the application a job. Default: empty (the application is a service).
	JobManifestFile string `json:"jobManifestFile,omitempty"`
	// WorkerPoolManifestFile is the path of the Cloud Run WorkerPool manifest, relative to the application
	// directory; setting it makes the application a worker pool. Default: empty.
	WorkerPoolManifestFile string `json:"workerPoolManifestFile,omitempty"`
	// Image, when set, replaces the image of the service's only (or ingress) container, or of the job's
	// or worker pool's only container.
	// Default: empty (use the manifest's image).
	Image string `json:"image,omitempty"`
}

// QuickSyncOptions configure quick sync, which sends the new revision 100% of the traffic
// (existing tags are kept as 0% tag-only entries).
type QuickSyncOptions struct {
	// Prune deletes, after a successful quick sync, the revisions that serve no traffic and carry
	// no tag. Default: false.
	Prune bool `json:"prune"`
	// Timeout bounds the wait for the new revision to become ready. Default: 10m.
	Timeout unit.Duration `json:"timeout"`
}

// SyncStageOptions returns the CLOUDRUN_SYNC options that a quick sync runs with.
func (q QuickSyncOptions) SyncStageOptions() SyncStageOptions {
	return SyncStageOptions{Prune: q.Prune, Timeout: q.Timeout}
}

// UnmarshalJSON strictly decodes the spec and applies the defaults.
func (s *ApplicationSpec) UnmarshalJSON(data []byte) error {
	spec := ApplicationSpec{
		QuickSync: QuickSyncOptions{Timeout: unit.Duration(DefaultSyncTimeout)},
	}
	if err := decodeObject(applicationWhere(), data,
		objectField("input",
			stringField("serviceManifestFile", &spec.Input.ServiceManifestFile),
			stringField("jobManifestFile", &spec.Input.JobManifestFile),
			stringField("workerPoolManifestFile", &spec.Input.WorkerPoolManifestFile),
			stringField("image", &spec.Input.Image),
		),
		objectField("quickSync",
			boolField("prune", &spec.QuickSync.Prune),
			timeoutField("timeout", &spec.QuickSync.Timeout),
		),
		objectField("access",
			optionalBoolField("public", &spec.Access.Public),
		),
	); err != nil {
		return err
	}
	var set []string
	for _, f := range []struct{ name, value string }{
		{"input.serviceManifestFile", spec.Input.ServiceManifestFile},
		{"input.jobManifestFile", spec.Input.JobManifestFile},
		{"input.workerPoolManifestFile", spec.Input.WorkerPoolManifestFile},
	} {
		if f.value != "" {
			set = append(set, strconv.Quote(f.name))
		}
	}
	if len(set) > 1 {
		return fmt.Errorf("%s: fields %s are set together: an application deploys one service, one job or one worker pool, "+
			"allowed one of them (make the others separate applications)", applicationWhere(), strings.Join(set, " and "))
	}
	if spec.Access.Public != nil && (spec.Input.JobManifestFile != "" || spec.Input.WorkerPoolManifestFile != "") {
		return fmt.Errorf("%s: field \"access.public\" is set for a job or a worker pool, allowed only for a service: "+
			"only a service is invoked over HTTP", applicationWhere())
	}
	if len(set) == 0 {
		spec.Input.ServiceManifestFile = DefaultServiceManifestFile
	}
	*s = spec
	return nil
}

// Validate checks the spec. The SDK calls it after decoding app.pipecd.yaml.
// The image reference itself is checked by the manifest package when it is applied.
func (s *ApplicationSpec) Validate() error {
	fail := func(field, format string, args ...any) error {
		return fmt.Errorf("%s: field %q: %s", applicationWhere(), field, fmt.Sprintf(format, args...))
	}
	field, f, example := "input.serviceManifestFile", s.Input.ServiceManifestFile, DefaultServiceManifestFile
	switch {
	case s.IsJob():
		field, f, example = "input.jobManifestFile", s.Input.JobManifestFile, "job.yaml"
	case s.IsWorkerPool():
		field, f, example = "input.workerPoolManifestFile", s.Input.WorkerPoolManifestFile, "worker-pool.yaml"
	}
	if f == "" {
		return fail(field, "is empty, allowed a path relative to the application directory (default %q)", DefaultServiceManifestFile)
	}
	if !filepath.IsLocal(f) {
		return fail(field, "%q is outside the application directory, allowed a relative path inside it such as %q", f, example)
	}
	if s.Input.Image != strings.TrimSpace(s.Input.Image) {
		return fail("input.image", "%q has surrounding spaces, allowed an image reference such as \"gcr.io/project/app:v1\"", s.Input.Image)
	}
	if s.QuickSync.Timeout.Duration() <= 0 {
		return fail("quickSync.timeout", "%q is not positive, allowed %s", time.Duration(s.QuickSync.Timeout).String(), timeoutAllowed)
	}
	return nil
}

// IsWorkerPool reports whether the application deploys a Cloud Run worker pool (input.workerPoolManifestFile
// is set).
func (s ApplicationSpec) IsWorkerPool() bool {
	return s.Input.WorkerPoolManifestFile != ""
}

// IsJob reports whether the application deploys a Cloud Run job (input.jobManifestFile is set).
func (s ApplicationSpec) IsJob() bool {
	return s.Input.JobManifestFile != ""
}
