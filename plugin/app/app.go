// Package app is the application at a commit: its part of app.pipecd.yaml, its service manifest, and the
// service a deployment of that commit applies to a deploy target (full name, ownership labels, revision
// name). The deployment stages, live state and plan preview all load an application with Load.
package app

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// Source is a deployment source (a commit of the application) with its plugin spec decoded and its
// service or job manifest loaded.
type Source struct {
	// Spec is the plugin's part of app.pipecd.yaml.
	Spec config.ApplicationSpec
	// Manifest is the service manifest, with input.image applied; nil unless the application is a service.
	Manifest *manifest.Manifest
	// Job is the job manifest, with input.image applied; nil unless the application is a job.
	Job *manifest.JobManifest
	// Pool is the worker pool manifest, with input.image applied; nil unless the application is a worker pool.
	Pool *manifest.WorkerPoolManifest
	// Commit is the commit hash of the source.
	Commit string
}

// Load decodes the plugin spec of ds and loads its service, job or worker pool manifest. Errors name the file and field.
func Load(ds sdk.DeploymentSource[config.RawApplicationSpec]) (*Source, error) {
	file := ds.ApplicationConfigFilename
	if file == "" {
		file = "app.pipecd.yaml"
	}
	if err := checkDuplicateKeys(ds.ApplicationDirectory, ds.ApplicationConfigFilename); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	cfg, err := ds.AppConfig()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if cfg.Spec == nil {
		return nil, fmt.Errorf("%s: the plugin section %s is missing", file, config.PluginSection())
	}
	spec, err := cfg.Spec.Decode(file)
	if err != nil {
		return nil, err
	}
	src := &Source{Spec: spec, Commit: ds.CommitHash}
	switch {
	case spec.IsJob():
		src.Job, err = manifest.LoadJob(ds.ApplicationDirectory, spec.Input.JobManifestFile)
	case spec.IsWorkerPool():
		src.Pool, err = manifest.LoadWorkerPool(ds.ApplicationDirectory, spec.Input.WorkerPoolManifestFile)
	default:
		src.Manifest, err = manifest.Load(ds.ApplicationDirectory, spec.Input.ServiceManifestFile)
	}
	if err != nil {
		return nil, err
	}
	if spec.Input.Image != "" {
		if err := src.setImage(spec.Input.Image); err != nil {
			return nil, fmt.Errorf("%s: field \"%s.input.image\": %w", file, config.PluginSection(), err)
		}
	}
	return src, nil
}

// setImage applies input.image to the service, job or worker pool.
func (src *Source) setImage(image string) error {
	if src.Job != nil {
		return src.Job.SetImage(image)
	}
	if src.Pool != nil {
		return src.Pool.SetImage(image)
	}
	return src.Manifest.SetImage(image)
}

// Images returns the container images of the service, job or worker pool, in order.
func (src *Source) Images() []string {
	if src.Job != nil {
		return src.Job.Images()
	}
	if src.Pool != nil {
		return src.Pool.Images()
	}
	return src.Manifest.Images()
}

// checkDuplicateKeys rejects a key repeated in one object of the application config file, of which piped
// kept the last one silently. piped sends the config decoded, so the file is read again from the
// application directory, where piped keeps it; without a file name there is nothing to read.
func checkDuplicateKeys(dir, file string) error {
	if file == "" {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("failed to open the application directory: %w", err)
	}
	data, err := root.ReadFile(file)
	if err := errors.Join(err, root.Close()); err != nil {
		return fmt.Errorf("failed to read it: %w", err)
	}
	_, err = manifest.YAMLToJSON(data)
	return err
}

// Desired is the service a deployment applies to one deploy target.
type Desired struct {
	// Service is the service to send: full name, ownership labels, template.revision set to Revision.
	Service *runpb.Service
	// ID is the short service id.
	ID string
	// Revision is the short name of the revision the template creates.
	Revision string
	// Commit is the commit hash the revision is named after.
	Commit string
}

// Desired builds the service of src for the deploy target cfg, labelled for deployment d, with the
// revision named after the commit and the template (naming.RevisionName).
func (src *Source) Desired(cfg config.DeployTargetConfig, d sdk.Deployment) (*Desired, error) {
	svc, err := src.Manifest.Service(cfg.Project, cfg.Region)
	if err != nil {
		return nil, err
	}
	id := naming.ShortName(svc.GetName())
	labelService(svc, d, src.Commit)
	rev, err := naming.RevisionName(id, src.Commit, svc.Template)
	if err != nil {
		return nil, fmt.Errorf("cannot name the new revision: %w", err)
	}
	svc.Template.Revision = rev
	return &Desired{Service: svc, ID: id, Revision: rev, Commit: src.Commit}, nil
}

// labelService adds the ownership labels. The revision template gets only labels that do not change
// between deployments of the same application, so that an unchanged template keeps its revision.
func labelService(svc *runpb.Service, d sdk.Deployment, commit string) {
	svc.Labels = merged(svc.Labels, ownerLabels(d, commit))
	if svc.Template == nil {
		svc.Template = &runpb.RevisionTemplate{}
	}
	svc.Template.Labels = merged(svc.Template.Labels, templateLabels(d))
}

// ownerLabels are the ownership labels of a service or job.
func ownerLabels(d sdk.Deployment, commit string) map[string]string {
	return map[string]string{
		provider.LabelManagedBy:   provider.ManagedByPiped,
		provider.LabelPiped:       LabelValue(d.PipedID),
		provider.LabelApplication: LabelValue(d.ApplicationID),
		provider.LabelCommitHash:  LabelValue(commit),
	}
}

// templateLabels are the ownership labels of a revision or execution template: none that change between
// deployments of the same application.
func templateLabels(d sdk.Deployment) map[string]string {
	return map[string]string{
		provider.LabelManagedBy:   provider.ManagedByPiped,
		provider.LabelApplication: LabelValue(d.ApplicationID),
	}
}

func merged(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	maps.Copy(out, base)
	for k, v := range extra {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

var invalidLabelChars = regexp.MustCompile(`[^a-z0-9_-]`)

// LabelValue makes s a valid label value: lowercase letters, digits, '_' and '-', at most 63 characters.
// The ownership labels carry the piped, application and commit this way.
func LabelValue(s string) string {
	v := invalidLabelChars.ReplaceAllString(strings.ToLower(s), "-")
	return v[:min(len(v), 63)]
}

// TemplateHash is the hash of the revision template src deploys, labelled as CLOUDRUN_SYNC sends it
// (naming.TemplateHash). The template does not depend on the deploy target.
func (src *Source) TemplateHash(d sdk.Deployment) (string, error) {
	if src.Pool != nil {
		return naming.TemplateHash(src.PoolTemplate(d))
	}
	svc := src.Manifest.Proto()
	labelService(svc, d, src.Commit)
	return naming.TemplateHash(svc.GetTemplate())
}

// Renamed returns a notice when the manifest of running, the commit that runs now, names another service
// than src's (its name changed), and "" otherwise or when running is nil. A deployment of src then creates
// a new service and leaves the old one serving; the notice says so and how to delete the old one.
func (src *Source) Renamed(running *Source, region string) string {
	if running == nil {
		return ""
	}
	if src.Pool != nil || running.Pool != nil {
		return src.renamedPool(running, region)
	}
	was, is := naming.ShortName(running.Manifest.Proto().GetName()), naming.ShortName(src.Manifest.Proto().GetName())
	if was == is {
		return ""
	}
	return fmt.Sprintf("The service is renamed: the running commit %s deploys service %s, this commit deploys service %s. "+
		"This deployment creates or updates %s and leaves %s as it is, still serving its traffic; PipeCD no longer manages %s. "+
		"Delete it when nothing uses it any more: gcloud run services delete %s --region %s",
		naming.ShortCommit(running.Commit), was, is, is, was, was, was, region)
}
