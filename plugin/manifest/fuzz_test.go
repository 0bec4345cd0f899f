package manifest

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// FuzzDecodeManifest checks that Decode never panics, that errors are non-empty and name the
// file, and that a decoded manifest (v2 or converted from Knative) re-validates and survives a JSON
// round trip through the strict v2 decoder unchanged.
func FuzzDecodeManifest(f *testing.F) {
	knative, err := filepath.Glob("testdata/knative/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range append([]string{"testdata/app/service.yaml", "testdata/app/sub/service.json"}, knative...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: serving.knative.dev/v1\nkind: Service\n"))
	f.Add([]byte(knativeSeed))
	f.Add([]byte("name: a\ntemplate: {containers: [{image: 'localhost:5000/a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}]}\n"))
	f.Add([]byte("name: a\ntemplate: {containers: [{imag: x}]}\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode("fuzz.yaml", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("decoded manifest does not re-validate: %v", err)
		}
		for _, image := range m.Images() {
			if _, err := ParseImage(image); err != nil {
				t.Fatalf("decoded image does not parse: %v", err)
			}
		}
		if svc, err := m.Service("p", "us-central1"); err == nil {
			if want := "projects/p/locations/us-central1/services/" + m.ServiceID(); svc.GetName() != want {
				t.Fatalf("full name %q, want %q", svc.GetName(), want)
			}
		}
		out, err := protojson.Marshal(m.Proto())
		if err != nil {
			t.Fatalf("failed to marshal: %v", err)
		}
		again, err := Decode("again.json", out)
		if err != nil {
			t.Fatalf("re-decoding %s failed: %v", out, err)
		}
		if again.ServiceID() != m.ServiceID() {
			t.Fatalf("service ID changed from %q to %q", m.ServiceID(), again.ServiceID())
		}
		if !proto.Equal(m.Proto(), again.Proto()) {
			t.Fatalf("the service changed in a JSON round trip:\n%v\n%v", m.Proto(), again.Proto())
		}
	})
}

// knativeSeed is a small Knative Service touching secrets, volumes, probes and traffic.
const knativeSeed = `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: a, namespace: '1', labels: {cloud.googleapis.com/location: r}}
spec:
  template:
    metadata: {annotations: {run.googleapis.com/secrets: 'x:projects/1/secrets/y', run.googleapis.com/cloudsql-instances: 'p:r:i'}}
    spec:
      volumes: [{name: v, secret: {secretName: x, items: [{key: '1', path: f}]}}]
      containers:
      - image: gcr.io/p/a:v1
        env: [{name: A, valueFrom: {secretKeyRef: {name: x, key: latest}}}]
        volumeMounts: [{name: v, mountPath: /v, readOnly: true}]
        startupProbe: {tcpSocket: {port: 8080}}
  traffic: [{latestRevision: true, percent: 100}]
`

// FuzzParseImage checks that ParseImage never panics and that accepted references round-trip.
func FuzzParseImage(f *testing.F) {
	for _, s := range []string{"nginx", "localhost:5000/app:v1", "[::1]:5000/a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		img, err := ParseImage(ref)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if img.String() != ref {
			t.Fatalf("String() = %q, want %q", img.String(), ref)
		}
		if img.Version() == "" {
			t.Fatal("empty version")
		}
	})
}
