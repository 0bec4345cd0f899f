// Package manifest loads the Cloud Run Service manifest of an application: a Cloud Run Admin API
// v2 Service written in YAML or JSON with the REST API's camelCase field names, e.g.
//
//	name: hello
//	template:
//	  containers:
//	    - image: us-docker.pkg.dev/my-proj/repo/hello:v1
//
// A v2 manifest is decoded strictly: unknown fields and fields Cloud Run sets by itself are errors
// naming their path. The format is detected from apiVersion: none or "run.googleapis.com/v2" is the v2 Service;
// "serving.knative.dev/v1" is a Knative Service, the manifest of PipeCD v0 and of
// `gcloud run services replace`, which is converted to the same v2 Service (see knative.go for what is
// converted and what is ignored). Fields that cannot be converted are an error listing all of them.
//
// The deployment stages own template.revision and traffic: they replace whatever the manifest says.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// Format is the input format of a manifest.
type Format string

const (
	// FormatCloudRunV2 is a Cloud Run Admin API v2 Service (google.cloud.run.v2.Service).
	FormatCloudRunV2 Format = "run.googleapis.com/v2"
	// FormatKnative is a Knative serving.knative.dev/v1 Service, as used by PipeCD v0 and
	// `gcloud run services replace`; it is converted to a v2 Service.
	FormatKnative Format = "serving.knative.dev/v1"
)

// MaxFileSize bounds the size of a manifest file.
const MaxFileSize = 1 << 20

var (
	servicePattern  = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)
	fullNamePattern = regexp.MustCompile(`^projects/([^/]+)/locations/([^/]+)/services/([^/]+)$`)
	documentSplit   = regexp.MustCompile(`(?m)^---[ \t]*$`)
	// protoErrorPrefix is protojson's "proto: (line 1:23): " prefix; the position is in the
	// JSON converted from YAML, so it would only mislead.
	protoErrorPrefix = regexp.MustCompile(`^proto:[\s\x{00a0}]*(syntax error )?(\(line \d+:\d+\):[\s\x{00a0}]*)?`)
)

// Manifest is a decoded and validated service manifest.
type Manifest struct {
	// File is the manifest's path relative to the application directory, used in messages.
	File string
	// Format is the format the manifest was written in.
	Format Format

	service *runpb.Service
	// where is where a Knative manifest's metadata says the service lives.
	where placement
}

// placement is where a manifest says the service lives; empty fields say nothing. The field names
// are the manifest fields that said it, for messages.
type placement struct {
	project, projectField string
	region, regionField   string
}

// Load reads and decodes file (relative to appDir; empty means "service.yaml"). A path that
// leaves appDir, directly or through a symbolic link, is an error.
func Load(appDir, file string) (*Manifest, error) {
	if file == "" {
		file = "service.yaml"
	}
	if !filepath.IsLocal(file) {
		return nil, fmt.Errorf("manifest %s: the path is outside the application directory, allowed a relative path inside it", file)
	}
	f, err := os.OpenInRoot(appDir, file)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: failed to open it in the application directory: %w", file, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err := errors.Join(err, f.Close()); err != nil {
		return nil, fmt.Errorf("manifest %s: failed to read it: %w", file, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("manifest %s: the file is larger than %d bytes", file, MaxFileSize)
	}
	return Decode(file, data)
}

// Decode decodes and validates manifest data; file names the source in errors.
func Decode(file string, data []byte) (*Manifest, error) {
	m, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", file, err)
	}
	m.File = file
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func decode(data []byte) (*Manifest, error) {
	if docs := nonEmptyDocuments(data); docs > 1 {
		return nil, fmt.Errorf("found %d YAML documents, allowed exactly one Service", docs)
	}
	jsonData, err := YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(jsonData))
	dec.UseNumber() // keep 64-bit integers exact
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, errors.New("the manifest must be a YAML or JSON object describing a Cloud Run Service")
	}
	format, err := detectFormat(obj)
	if err != nil {
		return nil, err
	}
	var svc *runpb.Service
	var where placement
	switch format {
	case FormatCloudRunV2:
		svc, err = decodeCloudRunV2(obj)
	case FormatKnative:
		svc, where, err = decodeKnative(obj)
	}
	if err != nil {
		return nil, err
	}
	return &Manifest{Format: format, service: svc, where: where}, nil
}

// YAMLToJSON converts a YAML or JSON document to JSON. A key repeated in one object is an error naming the
// key and its line: YAML would let the last one win silently, so a second `image:` under a container
// would deploy what the reader did not expect.
func YAMLToJSON(data []byte) ([]byte, error) {
	out, err := yaml.YAMLToJSONStrict(data)
	if err != nil && strings.Contains(err.Error(), "already set in map") {
		return nil, fmt.Errorf("duplicate key, allowed each key once per object: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid YAML or JSON: %w", err)
	}
	return out, nil
}

// detectFormat tells the format from apiVersion and kind.
func detectFormat(obj map[string]any) (Format, error) {
	apiVersion, hasVersion := obj["apiVersion"]
	if kind, hasKind := obj["kind"]; hasKind && kind != "Service" {
		return "", fmt.Errorf("kind %v is not supported, allowed Service", quote(kind))
	}
	switch {
	case !hasVersion || apiVersion == string(FormatCloudRunV2):
		return FormatCloudRunV2, nil
	case apiVersion == string(FormatKnative):
		return FormatKnative, nil
	}
	return "", fmt.Errorf("apiVersion %v is not supported, allowed %s or none (Cloud Run Admin API v2 Service), or %s (Knative Service)",
		quote(apiVersion), FormatCloudRunV2, FormatKnative)
}

// decodeCloudRunV2 strictly decodes a v2 Service; apiVersion and kind, which the v2 Service does
// not have, are dropped first.
func decodeCloudRunV2(obj map[string]any) (*runpb.Service, error) {
	delete(obj, "apiVersion")
	delete(obj, "kind")
	svc := &runpb.Service{}
	if err := checkFields(obj, svc.ProtoReflect().Descriptor(), ""); err != nil {
		return nil, err
	}
	clean, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("failed to re-encode the manifest: %w", err)
	}
	if err := protojson.Unmarshal(clean, svc); err != nil {
		return nil, fmt.Errorf("invalid Cloud Run Service: %s", protoErrorPrefix.ReplaceAllString(err.Error(), ""))
	}
	return svc, nil
}

func quote(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func nonEmptyDocuments(data []byte) int {
	n := 0
	for _, doc := range documentSplit.Split(string(data), -1) {
		for _, line := range strings.Split(doc, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				n++
				break
			}
		}
	}
	return n
}

func (m *Manifest) errorf(format string, args ...any) error {
	return fmt.Errorf("manifest %s: %s", m.File, fmt.Sprintf(format, args...))
}

// Validate checks what the plugin needs: a valid service name, a template with at least one
// container, and a valid image on every container.
func (m *Manifest) Validate() error {
	if _, _, _, err := m.splitName(); err != nil {
		return err
	}
	containers := m.service.GetTemplate().GetContainers()
	if len(containers) == 0 {
		return m.errorf("field %q needs at least one container with an image", "template.containers")
	}
	for i, c := range containers {
		field := fmt.Sprintf("template.containers[%d].image", i)
		if c.GetImage() == "" {
			return m.errorf("field %q is required: every container needs an image", field)
		}
		if _, err := ParseImage(c.GetImage()); err != nil {
			return m.errorf("field %q: %v", field, err)
		}
	}
	return nil
}

// splitName returns the project and region (empty for a short name) and the service ID.
func (m *Manifest) splitName() (project, region, id string, err error) {
	name := m.service.GetName()
	const allowed = `allowed a service ID such as "my-svc" (lowercase letters, digits and hyphens, ` +
		`starting with a letter, at most 49 characters) or "projects/PROJECT/locations/REGION/services/my-svc"`
	if name == "" {
		return "", "", "", m.errorf("field %q is required, %s", "name", allowed)
	}
	id = name
	if match := fullNamePattern.FindStringSubmatch(name); match != nil {
		project, region, id = match[1], match[2], match[3]
	}
	if !servicePattern.MatchString(id) {
		return "", "", "", m.errorf("field %q: %q is not a valid service name, %s", "name", name, allowed)
	}
	return project, region, id, nil
}

// ServiceID returns the short service name, e.g. "my-svc".
func (m *Manifest) ServiceID() string {
	_, _, id, _ := m.splitName()
	return id
}

// Proto returns a copy of the decoded Service, exactly as written (after SetImage).
func (m *Manifest) Proto() *runpb.Service {
	return proto.Clone(m.service).(*runpb.Service)
}

// Service returns a copy of the Service with its full name
// "projects/{project}/locations/{region}/services/{id}" for the deploy target's project and region.
// Where the manifest says the service lives (a full name; a Knative metadata.namespace or
// cloud.googleapis.com/location label) must match them. A project number cannot be compared with a
// project ID offline, so a number matches any ID and the other way round.
func (m *Manifest) Service(project, region string) (*runpb.Service, error) {
	p, r, id, err := m.splitName()
	if err != nil {
		return nil, err
	}
	where, hint := m.where, "remove it or use the deploy target's"
	if p != "" {
		where, hint = placement{project: p, projectField: "name", region: r, regionField: "name"}, fmt.Sprintf("use the short name %q or the deploy target's", id)
	}
	if where.project != "" && !sameProject(where.project, project) {
		return nil, m.errorf("field %q names project %q but the deploy target uses project %q; %s project", where.projectField, where.project, project, hint)
	}
	if where.region != "" && where.region != region {
		return nil, m.errorf("field %q names region %q but the deploy target uses region %q; %s region", where.regionField, where.region, region, hint)
	}
	svc := m.Proto()
	svc.Name = fmt.Sprintf("projects/%s/locations/%s/services/%s", project, region, id)
	return svc, nil
}

// sameProject compares two project IDs or two project numbers; an ID and a number may be the same project.
func sameProject(a, b string) bool {
	return a == b || isProjectNumber(a) != isProjectNumber(b)
}

var projectNumber = regexp.MustCompile(`^[0-9]+$`)

func isProjectNumber(s string) bool {
	return projectNumber.MatchString(s)
}

// Images returns the image of every container, in order.
func (m *Manifest) Images() []string {
	var images []string
	for _, c := range m.service.GetTemplate().GetContainers() {
		images = append(images, c.GetImage())
	}
	return images
}

// SetImage replaces the image of the service's only container (input.image). With several
// containers it picks the ingress container, the only one declaring ports; if that is ambiguous
// it is an error.
func (m *Manifest) SetImage(image string) error {
	if _, err := ParseImage(image); err != nil {
		return m.errorf("cannot apply input.image: %v", err)
	}
	containers := m.service.GetTemplate().GetContainers()
	if len(containers) == 1 {
		containers[0].Image = image
		return nil
	}
	var ingress []*runpb.Container
	for _, c := range containers {
		if len(c.GetPorts()) > 0 {
			ingress = append(ingress, c)
		}
	}
	if len(ingress) != 1 {
		return m.errorf("cannot apply input.image: the service has %d containers and %d of them declare ports; "+
			"input.image needs exactly one container, or exactly one container with ports (the ingress container)", len(containers), len(ingress))
	}
	ingress[0].Image = image
	return nil
}
