package manifest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	m, err := Load("testdata/app", "service.yaml")
	require.NoError(t, err)
	assert.Equal(t, "service.yaml", m.File)
	assert.Equal(t, FormatCloudRunV2, m.Format)
	assert.Equal(t, "hello", m.ServiceID())
	assert.Equal(t, []string{"localhost:5000/hello:v1"}, m.Images())

	svc, err := m.Service("my-proj", "asia-northeast1")
	require.NoError(t, err)
	assert.Equal(t, "projects/my-proj/locations/asia-northeast1/services/hello", svc.GetName())
	assert.Equal(t, map[string]string{"team": "web"}, svc.GetLabels())
	assert.Equal(t, int32(3), svc.GetTemplate().GetScaling().GetMaxInstanceCount())
	assert.Equal(t, time.Minute, svc.GetTemplate().GetTimeout().AsDuration())
	assert.Equal(t, "hi", svc.GetTemplate().GetContainers()[0].GetEnv()[0].GetValue())
	assert.Equal(t, runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, svc.GetTraffic()[0].GetType())
	assert.Equal(t, "hello", m.Proto().GetName(), "Service must return a copy")

	json, err := Load("testdata/app", "sub/service.json")
	require.NoError(t, err)
	assert.Equal(t, "sub/service.json", json.File)
	assert.Equal(t, "hello", json.ServiceID())
	assert.Len(t, json.Images(), 2)
	svc, err = json.Service("my-proj", "asia-northeast1")
	require.NoError(t, err)
	assert.Equal(t, "projects/my-proj/locations/asia-northeast1/services/hello", svc.GetName())

	def, err := Load("testdata/app", "")
	require.NoError(t, err)
	assert.Equal(t, "service.yaml", def.File)
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	require.NoError(t, os.WriteFile(outside, []byte("name: x\ntemplate: {containers: [{image: a}]}\n"), 0o600))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "link.yaml")))
	big := make([]byte, MaxFileSize+10)
	for i := range big {
		big[i] = '#'
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.yaml"), big, 0o600))

	testcases := []struct {
		name    string
		file    string
		wantErr string
	}{
		{name: "fail: parent directory", file: "../service.yaml", wantErr: "manifest ../service.yaml: the path is outside the application directory"},
		{name: "fail: absolute path", file: "/etc/passwd", wantErr: "manifest /etc/passwd: the path is outside the application directory"},
		{name: "fail: symbolic link out of the directory", file: "link.yaml", wantErr: "manifest link.yaml: failed to open it in the application directory"},
		{name: "fail: missing file", file: "nope.yaml", wantErr: "manifest nope.yaml: failed to open it"},
		{name: "fail: too large", file: "big.yaml", wantErr: "manifest big.yaml: the file is larger than"},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(dir, tc.file)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		data    string
		wantErr string
	}{
		{name: "fail: empty", data: "", wantErr: "manifest svc.yaml: the manifest must be a YAML or JSON object"},
		{name: "fail: list", data: "- a\n- b\n", wantErr: "must be a YAML or JSON object"},
		{name: "fail: broken YAML", data: "name: [a\n", wantErr: "manifest svc.yaml: invalid YAML or JSON"},
		{name: "fail: duplicate image", data: "name: a\ntemplate:\n  containers:\n    - image: x\n      image: y\n", wantErr: `manifest svc.yaml: duplicate key "image" on line 5, allowed each key once per object`},
		{name: "fail: two duplicate keys", data: "name: a\nname: b\ntemplate:\n  containers:\n    - image: x\n      image: y\n",
			wantErr: `manifest svc.yaml: duplicate key "name" on line 2 and key "image" on line 6, allowed each key once per object`},
		{name: "fail: duplicate key in JSON", data: `{"name": "a", "template": {"containers": [{"image": "x"}]}, "name": "b"}`, wantErr: `manifest svc.yaml: duplicate key "name" on line 1, allowed each key once per object`},
		{name: "fail: duplicate key in a Knative manifest", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n      containers: [{image: x}]\n  template: {}\n", wantErr: `manifest svc.yaml: duplicate key "template" on line 8, allowed each key once per object`},
		{name: "fail: two documents", data: "name: a\n---\nname: b\n", wantErr: "found 2 YAML documents, allowed exactly one Service"},
		{name: "fail: unknown top-level field", data: "name: a\ntemplat: {}\n", wantErr: `manifest svc.yaml: unknown field "templat" (did you mean "template"?)`},
		{name: "fail: unknown nested field", data: "name: a\ntemplate:\n  containers:\n    - imag: x\n", wantErr: `unknown field "template.containers[0].imag" (did you mean "image"?)`},
		{name: "fail: unknown field deep in a list", data: "name: a\ntemplate:\n  containers:\n    - image: x\n      env: [{name: A, valu: b}]\n", wantErr: `unknown field "template.containers[0].env[0].valu"`},
		{name: "fail: output only field", data: "name: a\nuid: 123\ntemplate: {containers: [{image: x}]}\n", wantErr: `field "uid" is output only: Cloud Run sets it, remove it from the manifest`},
		{name: "fail: nested output only field", data: "name: a\ntemplate: {containers: [{image: x, buildInfo: {}}]}\n", wantErr: `field "template.containers[0].buildInfo" is output only`},
		{name: "fail: Knative manifest without containers", data: "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\n", wantErr: `Knative serving.knative.dev/v1 Service cannot be converted to a Cloud Run Admin API v2 Service (1 problem):
  - field "spec.template.spec.containers": needs at least one container with an image`},
		{name: "fail: Knative shape without apiVersion", data: "metadata: {name: a}\nspec: {}\n", wantErr: `unknown field "metadata"; this looks like a Knative Service: start it with "apiVersion: serving.knative.dev/v1"`},
		{name: "fail: other apiVersion", data: "apiVersion: apps/v1\nname: a\n", wantErr: `apiVersion "apps/v1" is not supported, allowed run.googleapis.com/v2 or none (Cloud Run Admin API v2 Service), or serving.knative.dev/v1 (Knative Service)`},
		{name: "fail: other kind", data: "apiVersion: run.googleapis.com/v2\nkind: Job\nname: a\n", wantErr: `kind "Job" is not supported, allowed Service`},
		{name: "fail: integer expected", data: "name: a\ntemplate: {containers: [{image: x}], maxInstanceRequestConcurrency: lots}\n", wantErr: `manifest svc.yaml: field "template.maxInstanceRequestConcurrency": "lots" is invalid, allowed an integer`},
		{name: "fail: fraction for an integer", data: "name: a\ntemplate: {containers: [{image: x}], maxInstanceRequestConcurrency: 1.5}\n", wantErr: `"template.maxInstanceRequestConcurrency": 1.5 is invalid, allowed an integer`},
		{name: "fail: bad enum", data: "name: a\ningress: EVERYONE\ntemplate: {containers: [{image: x}]}\n", wantErr: `field "ingress": "EVERYONE" is invalid, allowed one of INGRESS_TRAFFIC_UNSPECIFIED, INGRESS_TRAFFIC_ALL,`},
		{name: "fail: bad traffic type", data: "name: a\ntemplate: {containers: [{image: x}]}\ntraffic: [{type: LATEST, percent: 100}]\n", wantErr: `field "traffic[0].type": "LATEST" is invalid, allowed one of TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED`},
		{name: "fail: duration without unit", data: "name: a\ntemplate: {timeout: 5, containers: [{image: x}]}\n", wantErr: `field "template.timeout": 5 is invalid, allowed a duration in seconds with an "s" suffix`},
		{name: "fail: object instead of list", data: "name: a\ntemplate: {containers: {image: x}}\n", wantErr: `field "template.containers": {"image":"x"} is invalid, allowed a list`},
		{name: "fail: YAML boolean for a string", data: "name: a\ntemplate: {containers: [{image: x, env: [{name: DEBUG, value: yes}]}]}\n", wantErr: `field "template.containers[0].env[0].value": true is invalid, allowed a string (quote the value in YAML)`},
		{name: "fail: map value type", data: "name: a\nlabels: {team: [x]}\ntemplate: {containers: [{image: x}]}\n", wantErr: `field "labels[\"team\"]": ["x"] is invalid, allowed a string`},
		{name: "fail: bool expected", data: "name: a\ninvokerIamDisabled: \"no\"\ntemplate: {containers: [{image: x}]}\n", wantErr: `field "invokerIamDisabled": "no" is invalid, allowed true or false`},
		{name: "fail: object expected", data: "name: a\ntemplate: yes\n", wantErr: `field "template": true is invalid, allowed an object`},
		{name: "fail: oneof set twice", data: "name: a\ntemplate: {containers: [{image: x, env: [{name: A, value: b, valueSource: {}}]}]}\n", wantErr: `manifest svc.yaml: invalid Cloud Run Service: error parsing "valueSource", oneof google.cloud.run.v2.EnvVar.values is already set`},
		{name: "fail: missing name", data: "template: {containers: [{image: x}]}\n", wantErr: `manifest svc.yaml: field "name" is required, allowed a service ID such as "my-svc"`},
		{name: "fail: invalid name", data: "name: My_Service\ntemplate: {containers: [{image: x}]}\n", wantErr: `field "name": "My_Service" is not a valid service name`},
		{name: "fail: name too long", data: "name: a2345678901234567890123456789012345678901234567890\ntemplate: {containers: [{image: x}]}\n", wantErr: `is not a valid service name`},
		{name: "fail: malformed full name", data: "name: projects/p/services/a\ntemplate: {containers: [{image: x}]}\n", wantErr: `"projects/p/services/a" is not a valid service name`},
		{name: "fail: no template", data: "name: a\n", wantErr: `field "template.containers" needs at least one container with an image`},
		{name: "fail: no containers", data: "name: a\ntemplate: {containers: []}\n", wantErr: `needs at least one container`},
		{name: "fail: container without image", data: "name: a\ntemplate: {containers: [{image: x}, {name: side}]}\n", wantErr: `field "template.containers[1].image" is required: every container needs an image`},
		{name: "fail: bad image", data: "name: a\ntemplate: {containers: [{image: 'Gcr.io/P/App'}]}\n", wantErr: `field "template.containers[0].image": image "Gcr.io/P/App" is not a valid reference`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode("svc.yaml", []byte(tc.data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Contains(t, err.Error(), "svc.yaml")
		})
	}
}

func TestDecodeAcceptsProtoJSONForms(t *testing.T) {
	t.Parallel()
	m, err := Decode("svc.yaml", []byte(`
name: a
template:
  max_instance_request_concurrency: 5   # proto name
  scaling: {maxInstanceCount: "7"}      # integers may be quoted
  timeout: 1.5s
  containers: [{image: x, env: [{name: A, value: "yes"}]}]
  labels: null
traffic: [{type: TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, revision: a-1, percent: 100}]
`))
	require.NoError(t, err)
	svc := m.Proto()
	assert.Equal(t, int32(5), svc.GetTemplate().GetMaxInstanceRequestConcurrency())
	assert.Equal(t, int32(7), svc.GetTemplate().GetScaling().GetMaxInstanceCount())
	assert.Equal(t, 1500*time.Millisecond, svc.GetTemplate().GetTimeout().AsDuration())
	assert.Equal(t, "yes", svc.GetTemplate().GetContainers()[0].GetEnv()[0].GetValue())
	assert.Equal(t, "a-1", svc.GetTraffic()[0].GetRevision())
}

func TestService(t *testing.T) {
	t.Parallel()
	decode := func(name string) *Manifest {
		m, err := Decode("svc.yaml", []byte("name: "+name+"\ntemplate: {containers: [{image: x}]}\n"))
		require.NoError(t, err)
		return m
	}
	testcases := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "success: short name", in: "hello", want: "projects/p/locations/us-central1/services/hello"},
		{name: "success: matching full name", in: "projects/p/locations/us-central1/services/hello", want: "projects/p/locations/us-central1/services/hello"},
		{name: "fail: other project", in: "projects/q/locations/us-central1/services/hello", wantErr: `manifest svc.yaml: field "name" names project "q" but the deploy target uses project "p"`},
		{name: "fail: other region", in: "projects/p/locations/europe-west1/services/hello", wantErr: `field "name" names region "europe-west1" but the deploy target uses region "us-central1"`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := decode(tc.in)
			got, err := m.Service("p", "us-central1")
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.GetName())
			got.Template.Containers[0].Image = "changed"
			assert.Equal(t, []string{"x"}, m.Images(), "the manifest must not share state with the returned copy")
		})
	}
}

func TestServiceMultiRegion(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name        string
		regions     string
		wantRegions []string
		wantErr     string
	}{
		{name: "success: single region", regions: ""},
		{name: "success: the deploy target's region and two others", regions: "[europe-west1, us-central1, asia-northeast1]", wantRegions: []string{"europe-west1", "asia-northeast1"}},
		{name: "success: a region listed twice counts once", regions: "[us-central1, europe-west1, europe-west1]", wantRegions: []string{"europe-west1"}},
		{name: "fail: without the deploy target's region", regions: "[europe-west1, asia-northeast1]",
			wantErr: `manifest svc.yaml: field "multiRegionSettings.regions" lists europe-west1, asia-northeast1 without the deploy target's region "us-central1", allowed a list that includes it`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := "name: s\ntemplate: {containers: [{image: x}]}\n"
			if tc.regions != "" {
				data += "multiRegionSettings: {regions: " + tc.regions + "}\n"
			}
			m, err := Decode("svc.yaml", []byte(data))
			require.NoError(t, err)
			_, err = m.Service("p", "us-central1")
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantRegions, m.Regions("us-central1"))
		})
	}
}

func TestSetImage(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name       string
		containers string
		image      string
		want       []string
		wantErr    string
	}{
		{name: "success: only container", containers: "[{image: a:v1}]", image: "localhost:5000/a:v2", want: []string{"localhost:5000/a:v2"}},
		{name: "success: ingress container", containers: "[{image: side:1}, {image: a:v1, ports: [{containerPort: 8080}]}]", image: "a:v2", want: []string{"side:1", "a:v2"}},
		{name: "fail: invalid image", containers: "[{image: a:v1}]", image: "a:", wantErr: `manifest svc.yaml: cannot apply input.image: image "a:" is not a valid reference`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Decode("svc.yaml", []byte("name: s\ntemplate: {containers: "+tc.containers+"}\n"))
			require.NoError(t, err)
			before := m.Images()
			err = m.SetImage(tc.image)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Equal(t, before, m.Images())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, m.Images())
			require.NoError(t, m.Validate())
		})
	}
}
