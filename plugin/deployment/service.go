package deployment

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	sdk "github.com/pipe-cd/piped-plugin-sdk-go"
	"google.golang.org/protobuf/proto"

	"github.com/pipecd-cloudrun/cloudrun/plugin/config"
	"github.com/pipecd-cloudrun/cloudrun/plugin/manifest"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
	"github.com/pipecd-cloudrun/cloudrun/plugin/provider"
)

// Source is a deployment source (a commit of the application) with its plugin spec decoded and its
// service manifest loaded. The deployment stages, livestate and plan preview all load it with LoadSource.
type Source struct {
	// Spec is the plugin's part of app.pipecd.yaml.
	Spec config.ApplicationSpec
	// Manifest is the service manifest, with input.image applied.
	Manifest *manifest.Manifest
	// Commit is the commit hash of the source.
	Commit string
}

// LoadSource decodes the plugin spec of ds and loads its service manifest. Errors name the file and field.
func LoadSource(ds sdk.DeploymentSource[config.RawApplicationSpec]) (*Source, error) {
	file := ds.ApplicationConfigFilename
	if file == "" {
		file = "app.pipecd.yaml"
	}
	cfg, err := ds.AppConfig()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if cfg.Spec == nil {
		return nil, fmt.Errorf("%s: the cloudrun plugin section spec.plugins.cloudrun is missing", file)
	}
	spec, err := cfg.Spec.Decode(file)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Load(ds.ApplicationDirectory, spec.Input.ServiceManifestFile)
	if err != nil {
		return nil, err
	}
	if spec.Input.Image != "" {
		if err := m.SetImage(spec.Input.Image); err != nil {
			return nil, fmt.Errorf("%s: field \"spec.plugins.cloudrun.input.image\": %w", file, err)
		}
	}
	return &Source{Spec: spec, Manifest: m, Commit: ds.CommitHash}, nil
}

// desiredService is the service a deployment applies to one deploy target.
type desiredService struct {
	// svc is the service to send: full name, ownership labels, template.revision set.
	svc *runpb.Service
	// id is the short service id.
	id string
	// revision is the short name of the revision the template creates.
	revision string
	// commit is the commit hash the revision is named after.
	commit string
}

// desired builds the service of src for the deploy target cfg, labelled for deployment d.
func (src *Source) desired(cfg config.DeployTargetConfig, d sdk.Deployment) (*desiredService, error) {
	svc, err := src.Manifest.Service(cfg.Project, cfg.Region)
	if err != nil {
		return nil, err
	}
	id := provider.ShortName(svc.GetName())
	labelService(svc, d, src.Commit)
	rev, err := naming.RevisionName(id, src.Commit, svc.Template)
	if err != nil {
		return nil, fmt.Errorf("cannot name the new revision: %w", err)
	}
	svc.Template.Revision = rev
	return &desiredService{svc: svc, id: id, revision: rev, commit: src.Commit}, nil
}

// ServiceToApply returns the service CLOUDRUN_SYNC of deployment d applies for src on the deploy target
// cfg, given the live service (nil when it does not exist): the manifest with its full name and the
// ownership labels, and template.revision named as the deployment names it, or the live revision's name
// when the template is unchanged (then Cloud Run creates no revision). Plan preview shows and validates it.
func (src *Source) ServiceToApply(cfg config.DeployTargetConfig, d sdk.Deployment, live *runpb.Service) (*runpb.Service, error) {
	want, err := src.desired(cfg, d)
	if err != nil {
		return nil, err
	}
	want.reuseLiveRevision(live)
	return want.svc, nil
}

// reuseLiveRevision keeps the name of live's revision when its template is the one w applies and the
// service has a ready revision, so that a change of service-level settings only (labels, scaling,
// ingress) creates no revision. It reports whether it did. A service that never had a ready revision is
// deployed afresh (see deployFresh).
func (w *desiredService) reuseLiveRevision(live *runpb.Service) bool {
	cur := live.GetTemplate().GetRevision()
	if live.GetLatestReadyRevision() == "" || !naming.SameTemplate(cur, w.revision) {
		return false
	}
	w.setRevision(cur)
	return true
}

// setRevision names the revision the template creates.
func (w *desiredService) setRevision(name string) {
	w.revision = name
	w.svc.Template.Revision = name
}

// adoptRecorded takes the revision name recorded by an earlier run of this stage when it names the same
// template under another generation (see renameRevision), so that a re-run never creates a second revision.
func (w *desiredService) adoptRecorded(rec *syncRecord) {
	if rec.Revision != w.revision && naming.SameTemplate(rec.Revision, w.revision) {
		w.setRevision(rec.Revision)
	}
}

// labelService adds the ownership labels. The revision template gets only labels that do not change
// between deployments of the same application, so that an unchanged template keeps its revision.
func labelService(svc *runpb.Service, d sdk.Deployment, commit string) {
	svc.Labels = merged(svc.Labels, map[string]string{
		provider.LabelManagedBy:   provider.ManagedByPiped,
		provider.LabelPiped:       labelValue(d.PipedID),
		provider.LabelApplication: labelValue(d.ApplicationID),
		provider.LabelCommitHash:  labelValue(commit),
	})
	if svc.Template == nil {
		svc.Template = &runpb.RevisionTemplate{}
	}
	svc.Template.Labels = merged(svc.Template.Labels, map[string]string{
		provider.LabelManagedBy:   provider.ManagedByPiped,
		provider.LabelApplication: labelValue(d.ApplicationID),
	})
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

// labelValue makes s a valid label value: lowercase letters, digits, '_' and '-', at most 63 characters.
func labelValue(s string) string {
	v := invalidLabelChars.ReplaceAllString(strings.ToLower(s), "-")
	return v[:min(len(v), 63)]
}

// writeService applies change to the service until Cloud Run accepts the write or attempts run out.
// change gets the service as just read (live on the first attempt when not nil, so that a caller that has
// just read it does not read it twice) and returns nil, a ErrConflict to try again, or another error to stop.
// Every write carries the
// etag of the read it is based on, so a concurrent change makes Cloud Run answer ABORTED, and the change is
// computed again from the new state: entries the plugin does not own are never overwritten.
func (p *Plugin) writeService(ctx context.Context, t *target, name string, live *runpb.Service, change func(live *runpb.Service) error) error {
	var err error
	for attempt := 1; attempt <= p.writeAttempts; attempt++ {
		if live == nil {
			if live, err = t.client.GetService(ctx, name); err != nil {
				return err
			}
		}
		err = change(live)
		if !errors.Is(err, provider.ErrConflict) {
			return err
		}
		live = nil
		t.lp.Infof("The service %s was changed by someone else meanwhile; reading it again (attempt %d of %d)", provider.ShortName(name), attempt, p.writeAttempts)
	}
	return fmt.Errorf("gave up after %d attempts because the service kept changing concurrently: %w", p.writeAttempts, err)
}

// previewURL returns the URL Cloud Run gives to tag, or "" when the service does not report one.
func previewURL(svc *runpb.Service, tag string) string {
	if tag == "" {
		return ""
	}
	for _, s := range svc.GetTrafficStatuses() {
		if s.GetTag() == tag {
			return s.GetUri()
		}
	}
	return ""
}

func cloneService(svc *runpb.Service) *runpb.Service {
	return proto.Clone(svc).(*runpb.Service)
}
