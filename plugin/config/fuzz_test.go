package config

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecodeStageOptions feeds the same raw config to every decoder. Invariants: no panic,
// errors are non-empty, accepted options re-validate and survive a JSON round trip.
func FuzzDecodeStageOptions(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `{"percent": "10%"}`, `{"percent": 120}`, `{"skipTrafficShift": true, "timeout": "30s"}`,
		`{"keepCount": 3, "keepLatest": false}`, `{"revision": "svc-1"}`, `{"project": "p", "region": "us-central1"}`,
		`{"input": {"serviceManifestFile": "a.yaml"}, "quickSync": {"prune": true}}`, `[`, `{"timeout": 5}`,
		`{"duration": "1m", "metrics": [{"errorRate": {"max": "1%"}}, {"latency": {"percentile": 95, "max": "1s"}}]}`,
		`{"duration": "1m", "metrics": [{"custom": {"filter": "metric.type = \"a\"", "max": 0}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		check(t, raw, DecodeSyncStageOptions, SyncStageOptions.Validate)
		check(t, raw, DecodePromoteStageOptions, PromoteStageOptions.Validate)
		check(t, raw, DecodeRollbackStageOptions, RollbackStageOptions.Validate)
		check(t, raw, DecodeCleanupStageOptions, CleanupStageOptions.Validate)
		check(t, raw, DecodeDeployTargetConfig, DeployTargetConfig.Validate)
		check(t, raw, decodeApplicationSpec, func(s ApplicationSpec) error { return s.Validate() })
		// The analysis options have no JSON form of their own to round-trip; they must decode or explain why.
		if _, err := DecodeAnalysisStageOptions(raw); err != nil && err.Error() == "" {
			t.Fatalf("AnalysisStageOptions: empty error message")
		}
	})
}

func decodeApplicationSpec(raw []byte) (ApplicationSpec, error) {
	var s ApplicationSpec
	if err := s.UnmarshalJSON(raw); err != nil {
		return ApplicationSpec{}, err
	}
	return s, nil
}

func check[T any](t *testing.T, raw []byte, decode func([]byte) (T, error), validate func(T) error) {
	t.Helper()
	v, err := decode(raw)
	if err != nil {
		if err.Error() == "" {
			t.Fatalf("%T: empty error message", v)
		}
		return
	}
	if err := validate(v); err != nil {
		// The application spec checks the manifest path only in Validate, as the SDK calls it.
		if _, isSpec := any(v).(ApplicationSpec); isSpec {
			return
		}
		t.Fatalf("%T decoded from %q does not validate: %v", v, raw, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%T: marshal: %v", v, err)
	}
	again, err := decode(out)
	if err != nil {
		t.Fatalf("%T: re-decoding %s: %v", v, out, err)
	}
	if !reflect.DeepEqual(v, again) {
		t.Fatalf("%T round trip changed %+v into %+v", v, v, again)
	}
}
