// Package manifest loads the Cloud Run Service or Job manifest of an application (jobs: see job.go).
//
// A service manifest is a Cloud Run Admin API v2 Service written in YAML or JSON with the REST API's camelCase field names, e.g.
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
	"slices"
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
	// FormatKnativeJob is a Cloud Run Admin API v1 Job or WorkerPool (run.googleapis.com/v1, kind: Job or
	// WorkerPool), as written by `gcloud run jobs describe --format export` and `gcloud beta run
	// worker-pools describe --format export`; it is converted to a v2 Job or WorkerPool.
	FormatKnativeJob Format = "run.googleapis.com/v1"
)

// MaxFileSize bounds the size of a manifest file.
const MaxFileSize = 1 << 20

var (
	servicePattern = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)
	documentSplit  = regexp.MustCompile(`(?m)^---[ \t]*$`)
	// duplicateKey is one line of the YAML decoder's error for a repeated key: its line and the quoted key.
	duplicateKey = regexp.MustCompile(`line (\d+): key ("(?:[^"\\]|\\.)*") already set in map`)
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
	data, err := readFile(appDir, file)
	if err != nil {
		return nil, err
	}
	return Decode(file, data)
}

// readFile reads file inside appDir, refusing a path that leaves it and a file larger than MaxFileSize.
func readFile(appDir, file string) ([]byte, error) {
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
	return data, nil
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
	obj, err := parseDocument(data, kindService)
	if err != nil {
		return nil, err
	}
	format, err := detectFormat(obj, kindService)
	if err != nil {
		return nil, err
	}
	var svc *runpb.Service
	var where placement
	switch format {
	case FormatCloudRunV2:
		svc = &runpb.Service{}
		err = decodeCloudRunV2(obj, svc, serviceRanges)
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
	if dups := duplicateKey.FindAllStringSubmatch(fmt.Sprint(err), -1); len(dups) > 0 {
		where := make([]string, 0, len(dups))
		for _, d := range dups {
			where = append(where, fmt.Sprintf("key %s on line %s", d[2], d[1]))
		}
		return nil, fmt.Errorf("duplicate %s, allowed each key once per object", strings.Join(where, " and "))
	}
	if err != nil {
		return nil, fmt.Errorf("invalid YAML or JSON: %w", err)
	}
	return out, nil
}

// parseDocument parses data, one YAML or JSON document, into a JSON object; kind names what it should describe.
func parseDocument(data []byte, kind string) (map[string]any, error) {
	if docs := nonEmptyDocuments(data); docs > 1 {
		return nil, fmt.Errorf("found %d YAML documents, allowed exactly one %s (a service, a job and a worker pool are separate applications)", docs, kind)
	}
	jsonData, err := YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(jsonData))
	dec.UseNumber() // keep 64-bit integers exact
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("the manifest must be a YAML or JSON object describing a Cloud Run %s", kind)
	}
	return obj, nil
}

// The kinds of manifest, as their kind field says.
const (
	kindService    = "Service"
	kindJob        = "Job"
	kindWorkerPool = "WorkerPool"
)

// kindInputs are the kinds of manifest, what they describe and the input field of app.pipecd.yaml that
// names a manifest of that kind.
var kindInputs = map[string]struct{ what, field string }{
	kindService:    {"a Cloud Run service", "input.serviceManifestFile"},
	kindJob:        {"a Cloud Run job", "input.jobManifestFile"},
	kindWorkerPool: {"a Cloud Run worker pool", "input.workerPoolManifestFile"},
}

// detectFormat tells the format of a manifest of kind from apiVersion and kind. A manifest of another
// kind is an error that says which input field takes it.
func detectFormat(obj map[string]any, kind string) (Format, error) {
	apiVersion, hasVersion := obj["apiVersion"]
	if k, hasKind := obj["kind"]; hasKind && k != kind {
		err := fmt.Errorf("kind %v is not supported, allowed %s", quote(k), kind)
		if other, ok := k.(string); ok && kindInputs[other].field != "" {
			err = fmt.Errorf("%w; this is %s: name its manifest in %s instead of %s", err, kindInputs[other].what, kindInputs[other].field, kindInputs[kind].field)
		}
		return "", err
	}
	v1, v1Name := FormatKnative, "Knative Service"
	if kind != kindService {
		v1, v1Name = FormatKnativeJob, "Cloud Run Admin API v1 "+kind
	}
	switch {
	case !hasVersion || apiVersion == string(FormatCloudRunV2):
		return FormatCloudRunV2, nil
	case apiVersion == string(v1):
		return v1, nil
	}
	return "", fmt.Errorf("apiVersion %v is not supported, allowed %s or none (Cloud Run Admin API v2 %s), or %s (%s)",
		quote(apiVersion), FormatCloudRunV2, kind, v1, v1Name)
}

// decodeCloudRunV2 strictly decodes a v2 Service or Job into msg, refusing explicit values outside
// ranges; apiVersion and kind, which v2 resources do not have, are dropped first.
func decodeCloudRunV2(obj map[string]any, msg proto.Message, ranges []fieldRange) error {
	delete(obj, "apiVersion")
	delete(obj, "kind")
	if err := checkFields(obj, msg.ProtoReflect().Descriptor(), ""); err != nil {
		return err
	}
	if err := checkRanges(obj, ranges); err != nil {
		return err
	}
	clean, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("failed to re-encode the manifest: %w", err)
	}
	if err := protojson.Unmarshal(clean, msg); err != nil {
		return fmt.Errorf("invalid Cloud Run %s: %s", msg.ProtoReflect().Descriptor().Name(), protoErrorPrefix.ReplaceAllString(err.Error(), ""))
	}
	return nil
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
	return fileErrorf(m.File, format, args...)
}

func fileErrorf(file, format string, args ...any) error {
	return fmt.Errorf("manifest %s: %s", file, fmt.Sprintf(format, args...))
}

// Validate checks what the plugin needs: a valid service name, a template with at least one
// container, and a valid image on every container; and refuses the combinations Cloud Run documents as
// invalid (see combinations.go).
func (m *Manifest) Validate() error {
	if _, _, _, err := services.split(m.File, m.service.GetName()); err != nil {
		return err
	}
	if err := validateContainers(m.File, "template.containers", m.service.GetTemplate().GetContainers()); err != nil {
		return err
	}
	return validateCombinations(m.File, m.service)
}

// validateContainers checks that there is at least one container and that every one has a valid image;
// field is the path of the list in the manifest.
func validateContainers(file, field string, containers []*runpb.Container) error {
	if len(containers) == 0 {
		return fileErrorf(file, "field %q needs at least one container with an image", field)
	}
	for i, c := range containers {
		path := fmt.Sprintf("%s[%d].image", field, i)
		if c.GetImage() == "" {
			return fileErrorf(file, "field %q is required: every container needs an image", path)
		}
		if _, err := ParseImage(c.GetImage()); err != nil {
			return fileErrorf(file, "field %q: %v", path, err)
		}
	}
	return nil
}

// resource is how one kind of Cloud Run resource is named.
type resource struct {
	kind       string // "service", "job" or "worker pool"
	collection string // the collection in a full name: "services", "jobs" or "workerPools"
	example    string // an ID for messages
	id         *regexp.Regexp
	idRule     string
	full       *regexp.Regexp
}

var (
	services    = newResource("service", "services", "my-svc", servicePattern, "at most 49 characters")
	jobs        = newResource("job", "jobs", "my-job", jobPattern, "at most 63 characters")
	workerPools = newResource("worker pool", "workerPools", "my-pool", servicePattern, "at most 49 characters")
)

func newResource(kind, collection, example string, id *regexp.Regexp, length string) resource {
	return resource{
		kind: kind, collection: collection, example: example, id: id,
		idRule: "lowercase letters, digits and hyphens, starting with a letter, " + length,
		full:   regexp.MustCompile(`^projects/([^/]+)/locations/([^/]+)/` + collection + `/([^/]+)$`),
	}
}

// split returns the project and region (empty for a short name) and the ID of name, a field of file.
func (r resource) split(file, name string) (project, region, id string, err error) {
	allowed := fmt.Sprintf(`allowed a %s ID such as %q (%s) or "projects/PROJECT/locations/REGION/%s/%s"`, r.kind, r.example, r.idRule, r.collection, r.example)
	if name == "" {
		return "", "", "", fileErrorf(file, "field %q is required, %s", "name", allowed)
	}
	id = name
	if match := r.full.FindStringSubmatch(name); match != nil {
		project, region, id = match[1], match[2], match[3]
	}
	if !r.id.MatchString(id) {
		return "", "", "", fileErrorf(file, "field %q: %q is not a valid %s name, %s", "name", name, r.kind, allowed)
	}
	return project, region, id, nil
}

// locate returns the full name "projects/{project}/locations/{region}/{collection}/{id}" of name, a field
// of file, for the deploy target's project and region. Where the manifest says the resource lives (a full
// name; a Knative metadata.namespace or cloud.googleapis.com/location label) must match them. A project
// number cannot be compared with a project ID offline, so a number matches any ID and the other way round.
func (r resource) locate(file, name string, where placement, project, region string) (string, error) {
	p, reg, id, err := r.split(file, name)
	if err != nil {
		return "", err
	}
	hint := "remove it or use the deploy target's"
	if p != "" {
		where, hint = placement{project: p, projectField: "name", region: reg, regionField: "name"}, fmt.Sprintf("use the short name %q or the deploy target's", id)
	}
	if where.project != "" && !sameProject(where.project, project) {
		return "", fileErrorf(file, "field %q names project %q but the deploy target uses project %q; %s project", where.projectField, where.project, project, hint)
	}
	if where.region != "" && where.region != region {
		return "", fileErrorf(file, "field %q names region %q but the deploy target uses region %q; %s region", where.regionField, where.region, region, hint)
	}
	return fmt.Sprintf("projects/%s/locations/%s/%s/%s", project, region, r.collection, id), nil
}

// ServiceID returns the short service name, e.g. "my-svc".
func (m *Manifest) ServiceID() string {
	_, _, id, _ := services.split(m.File, m.service.GetName())
	return id
}

// Proto returns a copy of the decoded Service, exactly as written (after SetImage).
func (m *Manifest) Proto() *runpb.Service {
	return proto.Clone(m.service).(*runpb.Service)
}

// Service returns a copy of the Service with its full name
// "projects/{project}/locations/{region}/services/{id}" for the deploy target's project and region
// (see resource.locate).
// A multi-region service (multiRegionSettings) is written through one of its regions, so the deploy
// target's region must be one of them.
func (m *Manifest) Service(project, region string) (*runpb.Service, error) {
	name, err := services.locate(m.File, m.service.GetName(), m.where, project, region)
	if err != nil {
		return nil, err
	}
	if regions := m.service.GetMultiRegionSettings().GetRegions(); len(regions) > 0 && !slices.Contains(regions, region) {
		return nil, m.errorf("field %q lists %s without the deploy target's region %q, allowed a list that includes it: "+
			"a multi-region service is deployed through one of its regions", "multiRegionSettings.regions", strings.Join(regions, ", "), region)
	}
	svc := m.Proto()
	svc.Name = name
	return svc, nil
}

// Regions returns the regions of a multi-region service other than region (the deploy target's), in the
// order the manifest lists them; none for a single-region service.
func (m *Manifest) Regions(region string) []string {
	var out []string
	for _, r := range m.service.GetMultiRegionSettings().GetRegions() {
		if r != region && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
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
