package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pipe-cd/piped-plugin-sdk-go/unit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeCase is one case of a stage options decoder's table: raw decodes to exactly want, or fails with an
// error containing wantErr.
type decodeCase[T any] struct {
	name    string
	raw     string
	want    T
	wantErr string
}

// testDecode runs every case through decode.
func testDecode[T any](t *testing.T, decode func([]byte) (T, error), testcases []decodeCase[T]) {
	t.Helper()
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decode([]byte(tc.raw))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// validated decodes with decode and validates what it decoded, as options built in code are validated.
func validated[T interface{ Validate() error }](decode func([]byte) (T, error)) func([]byte) (T, error) {
	return func(raw []byte) (T, error) {
		opts, err := decode(raw)
		if err != nil {
			return opts, err
		}
		return opts, opts.Validate()
	}
}

func TestDecodeSyncStageOptions(t *testing.T) {
	t.Parallel()
	testDecode(t, validated(DecodeSyncStageOptions), []decodeCase[SyncStageOptions]{
		{name: "success: nil means defaults", raw: "", want: SyncStageOptions{Timeout: unit.Duration(10 * time.Minute)}},
		{name: "success: null means defaults", raw: "null", want: SyncStageOptions{Timeout: unit.Duration(10 * time.Minute)}},
		{name: "success: empty object means defaults", raw: "{}", want: SyncStageOptions{Timeout: unit.Duration(10 * time.Minute)}},
		{
			name: "success: every field",
			raw:  `{"skipTrafficShift": true, "prune": true, "tag": true, "timeout": "30s"}`,
			want: SyncStageOptions{SkipTrafficShift: true, Prune: true, Tag: true, Timeout: unit.Duration(30 * time.Second)},
		},
		{name: "success: null field keeps default", raw: `{"timeout": null}`, want: SyncStageOptions{Timeout: unit.Duration(10 * time.Minute)}},
		{name: "fail: unknown field", raw: `{"skipTraficShift": true}`, wantErr: `CLOUDRUN_SYNC: unknown field "skipTraficShift", allowed fields: prune, skipTrafficShift, tag, timeout`},
		{name: "fail: field names are case sensitive", raw: `{"Prune": true}`, wantErr: `unknown field "Prune"`},
		{name: "fail: not an object", raw: `[1]`, wantErr: `CLOUDRUN_SYNC: must be an object, got [1]`},
		{name: "fail: bool as string", raw: `{"prune": "yes"}`, wantErr: `CLOUDRUN_SYNC: field "prune": "yes" is not a boolean, allowed true or false`},
		{name: "fail: skipTrafficShift as number", raw: `{"skipTrafficShift": 1}`, wantErr: `CLOUDRUN_SYNC: field "skipTrafficShift": 1 is not a boolean`},
		{name: "fail: tag as string", raw: `{"tag": "preview"}`, wantErr: `CLOUDRUN_SYNC: field "tag": "preview" is not a boolean`},
		{name: "fail: timeout as number", raw: `{"timeout": 30}`, wantErr: `CLOUDRUN_SYNC: field "timeout": 30 is not a duration, allowed a positive duration such as "30s" or "10m"`},
		{name: "fail: timeout unparsable", raw: `{"timeout": "10 minutes"}`, wantErr: `field "timeout": "10 minutes" is not a duration`},
		{name: "fail: timeout zero", raw: `{"timeout": "0s"}`, wantErr: `field "timeout": "0s" is not positive`},
		{name: "fail: timeout negative", raw: `{"timeout": "-1m"}`, wantErr: `field "timeout": "-1m0s" is not positive`},
		{name: "fail: broken JSON", raw: `{"prune": tru`, wantErr: `CLOUDRUN_SYNC: invalid JSON`},
	})
}

func TestDecodePromoteStageOptions(t *testing.T) {
	t.Parallel()
	testDecode(t, func(raw []byte) (unit.Percentage, error) {
		opts, err := validated(DecodePromoteStageOptions)(raw)
		return opts.Percent, err
	}, []decodeCase[unit.Percentage]{
		{name: "success: integer", raw: `{"percent": 10}`, want: unit.Percentage{Number: 10}},
		{name: "success: string with suffix", raw: `{"percent": "10%"}`, want: unit.Percentage{Number: 10, HasSuffix: true}},
		{name: "success: string without suffix", raw: `{"percent": "25"}`, want: unit.Percentage{Number: 25}},
		{name: "success: zero", raw: `{"percent": 0}`, want: unit.Percentage{Number: 0}},
		{name: "success: hundred", raw: `{"percent": "100%"}`, want: unit.Percentage{Number: 100, HasSuffix: true}},
		{name: "fail: nil config", raw: ``, wantErr: `CLOUDRUN_PROMOTE: field "percent" is required, allowed 0-100 (an integer, optionally with a % suffix)`},
		{name: "fail: null percent", raw: `{"percent": null}`, wantErr: `field "percent" is required`},
		{name: "fail: above range", raw: `{"percent": 120}`, wantErr: `CLOUDRUN_PROMOTE: field "percent": 120 is out of range, allowed 0-100 (an integer, optionally with a % suffix)`},
		{name: "fail: below range", raw: `{"percent": "-5%"}`, wantErr: `field "percent": "-5%" is out of range`},
		{name: "fail: fraction", raw: `{"percent": 10.5}`, wantErr: `field "percent": 10.5 is not a percentage, allowed 0-100`},
		{name: "fail: words", raw: `{"percent": "ten"}`, wantErr: `field "percent": "ten" is not a percentage`},
		{name: "fail: boolean", raw: `{"percent": true}`, wantErr: `field "percent": true is not a percentage`},
		{name: "fail: space before suffix", raw: `{"percent": "10 %"}`, wantErr: `is not a percentage`},
		{name: "fail: huge number", raw: `{"percent": 99999999999999999999}`, wantErr: `is not a percentage`},
		{name: "fail: explicit plus sign", raw: `{"percent": "+5"}`, wantErr: `field "percent": "+5" is not a percentage`},
		{name: "fail: long value is shortened", raw: `{"percent": "` + strings.Repeat("9", 60) + `x"}`, wantErr: `field "percent": "` + strings.Repeat("9", 39) + `... is not a percentage`},
		{name: "fail: unknown field", raw: `{"percent": 10, "percentage": 10}`, wantErr: `CLOUDRUN_PROMOTE: unknown field "percentage", allowed fields: percent`},
	})
}

func TestDecodeRollbackStageOptions(t *testing.T) {
	t.Parallel()
	testDecode(t, DecodeRollbackStageOptions, []decodeCase[RollbackStageOptions]{
		{name: "success: nil restores the pre-deploy state", raw: ``, want: RollbackStageOptions{}},
		{name: "success: revision", raw: `{"revision": "app-00001-abc"}`, want: RollbackStageOptions{Revision: "app-00001-abc"}},
		{name: "fail: full resource name", raw: `{"revision": "projects/p/locations/r/services/s/revisions/s-1"}`, wantErr: `CLOUDRUN_ROLLBACK: field "revision": "projects/p/locations/r/services/s/revisions/s-1" is not a revision name`},
		{name: "fail: upper case", raw: `{"revision": "App-1"}`, wantErr: `"App-1" is not a revision name`},
		{name: "fail: number", raw: `{"revision": 1}`, wantErr: `CLOUDRUN_ROLLBACK: field "revision": 1 is not a string`},
		{name: "fail: unknown field", raw: `{"rev": "a"}`, wantErr: `CLOUDRUN_ROLLBACK: unknown field "rev", allowed fields: revision`},
		{name: "fail: not an object", raw: `"app-1"`, wantErr: `CLOUDRUN_ROLLBACK: must be an object`},
	})
}

func TestDecodeCleanupStageOptions(t *testing.T) {
	t.Parallel()
	testDecode(t, DecodeCleanupStageOptions, []decodeCase[CleanupStageOptions]{
		{name: "success: nil means defaults", raw: ``, want: CleanupStageOptions{KeepCount: 5, KeepLatest: true}},
		{name: "success: every field", raw: `{"keepCount": 1, "keepLatest": false}`, want: CleanupStageOptions{KeepCount: 1, KeepLatest: false}},
		{name: "fail: zero", raw: `{"keepCount": 0}`, wantErr: `CLOUDRUN_CANARY_CLEANUP: field "keepCount": 0 is out of range, allowed an integer >= 1`},
		{name: "fail: string", raw: `{"keepCount": "3"}`, wantErr: `field "keepCount": "3" is not an integer, allowed an integer >= 1`},
		{name: "fail: fraction", raw: `{"keepCount": 2.5}`, wantErr: `field "keepCount": 2.5 is not an integer`},
		{name: "fail: keepLatest as string", raw: `{"keepLatest": "no"}`, wantErr: `CLOUDRUN_CANARY_CLEANUP: field "keepLatest": "no" is not a boolean`},
		{name: "fail: unknown field", raw: `{"keep": 3}`, wantErr: `CLOUDRUN_CANARY_CLEANUP: unknown field "keep", allowed fields: keepCount, keepLatest`},
	})
}

// TestStageOptionsValidate covers options built in code rather than decoded, e.g. by the plugin's quick sync.
func TestStageOptionsValidate(t *testing.T) {
	t.Parallel()
	testcases := []struct {
		name    string
		opts    interface{ Validate() error }
		wantErr string
	}{
		{name: "success: sync defaults", opts: DefaultSyncStageOptions()},
		{name: "success: cleanup defaults", opts: DefaultCleanupStageOptions()},
		{name: "success: promote 100", opts: PromoteStageOptions{Percent: unit.Percentage{Number: 100}}},
		{name: "fail: sync without timeout", opts: SyncStageOptions{}, wantErr: `CLOUDRUN_SYNC: field "timeout": "0s" is not positive`},
		{name: "fail: promote above 100", opts: PromoteStageOptions{Percent: unit.Percentage{Number: 101}}, wantErr: `CLOUDRUN_PROMOTE: field "percent": 101 is out of range, allowed 0-100`},
		{name: "fail: promote below 0", opts: PromoteStageOptions{Percent: unit.Percentage{Number: -1}}, wantErr: `field "percent": -1 is out of range`},
		{name: "fail: cleanup keeping nothing", opts: CleanupStageOptions{KeepCount: 0}, wantErr: `CLOUDRUN_CANARY_CLEANUP: field "keepCount": 0 is out of range, allowed an integer >= 1`},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.opts.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

// TestStageOptionsUnmarshalJSONRejects checks that json.Unmarshal into the option types decodes as strictly as
// the Decode functions.
func TestStageOptionsUnmarshalJSONRejects(t *testing.T) {
	t.Parallel()
	var sync SyncStageOptions
	var promote PromoteStageOptions
	var cleanup CleanupStageOptions
	var rollback RollbackStageOptions
	for target, raw := range map[any]string{
		&sync:     `{"timeout": "0s"}`,
		&promote:  `{"percent": 101}`,
		&cleanup:  `{"keepCount": 0}`,
		&rollback: `{"revision": "Bad_Name"}`,
	} {
		err := json.Unmarshal([]byte(raw), target)
		require.Error(t, err, "%T from %s", target, raw)
		assert.Contains(t, err.Error(), "CLOUDRUN_")
	}
	assert.Equal(t, SyncStageOptions{}, sync, "a rejected decode leaves the value untouched")
	assert.Equal(t, PromoteStageOptions{}, promote)
	assert.Equal(t, CleanupStageOptions{}, cleanup)
	assert.Equal(t, RollbackStageOptions{}, rollback)
}

func TestStageOptionsJSONRoundTrip(t *testing.T) {
	t.Parallel()
	sync := SyncStageOptions{Tag: true, Timeout: unit.Duration(90 * time.Second)}
	promote := PromoteStageOptions{Percent: unit.Percentage{Number: 30, HasSuffix: true}}
	cleanup := CleanupStageOptions{KeepCount: 2}
	rollback := RollbackStageOptions{Revision: "svc-1"}
	for _, v := range []any{&sync, &promote, &cleanup, &rollback} {
		data, err := json.Marshal(v)
		require.NoError(t, err)
		switch v.(type) {
		case *SyncStageOptions:
			var got SyncStageOptions
			require.NoError(t, json.Unmarshal(data, &got))
			assert.Equal(t, sync, got)
		case *PromoteStageOptions:
			var got PromoteStageOptions
			require.NoError(t, json.Unmarshal(data, &got))
			assert.Equal(t, promote, got)
		case *CleanupStageOptions:
			var got CleanupStageOptions
			require.NoError(t, json.Unmarshal(data, &got))
			assert.Equal(t, cleanup, got)
		case *RollbackStageOptions:
			var got RollbackStageOptions
			require.NoError(t, json.Unmarshal(data, &got))
			assert.Equal(t, rollback, got)
		}
	}
}

// TestExplicitZeroOfEveryNumericOption holds every numeric option of every stage to its documented range at
// 0: an explicit 0 is refused where it is out of range (it never means "absent"), and kept where it is allowed.
func TestExplicitZeroOfEveryNumericOption(t *testing.T) {
	t.Parallel()
	const metrics = `"metrics": [{"errorRate": {"max": "1%"}}]`
	testcases := []struct {
		decode  func([]byte) error
		raw     string
		wantErr string // empty: 0 is allowed
	}{
		{decode: decodeWith(DecodeSyncStageOptions), raw: `{"timeout": "0s"}`, wantErr: `CLOUDRUN_SYNC: field "timeout": "0s" is not positive`},
		{decode: decodeWith(DecodePromoteStageOptions), raw: `{"percent": 0}`},
		{decode: decodeWith(DecodeCleanupStageOptions), raw: `{"keepCount": 0}`, wantErr: `CLOUDRUN_CANARY_CLEANUP: field "keepCount": 0 is out of range, allowed an integer >= 1`},
		{decode: decodeWith(DecodeJobSyncStageOptions), raw: `{"timeout": "0s"}`, wantErr: `CLOUDRUN_JOB_SYNC: field "timeout": "0s" is not positive`},
		{decode: decodeWith(DecodeJobRunStageOptions), raw: `{"taskCount": 0}`, wantErr: `CLOUDRUN_JOB_RUN: field "taskCount": 0 is out of range`},
		{decode: decodeWith(DecodeJobRunStageOptions), raw: `{"taskTimeout": "0s"}`, wantErr: `CLOUDRUN_JOB_RUN: field "taskTimeout": "0s" is not positive`},
		{decode: decodeWith(DecodeJobRunStageOptions), raw: `{"timeout": "0s"}`, wantErr: `CLOUDRUN_JOB_RUN: field "timeout": "0s" is not positive`},
		{decode: decodeWith(DecodeAnalysisStageOptions), raw: `{"duration": "0s", ` + metrics + `}`, wantErr: `CLOUDRUN_ANALYSIS: field "duration": "0s" is out of range`},
		{decode: decodeWith(DecodeAnalysisStageOptions), raw: `{"duration": "1m", "interval": "0s", ` + metrics + `}`, wantErr: `CLOUDRUN_ANALYSIS: field "interval": "0s" is out of range`},
		{decode: decodeWith(DecodeAnalysisStageOptions), raw: `{"duration": "1m", "ingestionDelay": "0s", ` + metrics + `}`},
		{decode: decodeWith(DecodeAnalysisStageOptions), raw: `{"duration": "1m", "failureLimit": 0, ` + metrics + `}`},
		{decode: decodeWith(DecodeAnalysisStageOptions), raw: `{"duration": "1m", "minRequests": 0, ` + metrics + `}`},
		{decode: decodeWith(DecodeAnalysisStageOptions), raw: `{"duration": "1m", "metrics": [{"latency": {"percentile": 0, "max": "1s"}}]}`,
			wantErr: `CLOUDRUN_ANALYSIS: field "metrics[0].latency.percentile": 0 is out of range, allowed an integer 1-99`},
		{decode: decodeWith(DecodeAnalysisStageOptions), raw: `{"duration": "1m", "metrics": [{"latency": {"max": "0s"}}]}`},
		{decode: decodeWith(DecodeAnalysisStageOptions), raw: `{"duration": "1m", "metrics": [{"errorRate": {"max": 0}}]}`},
		{decode: decodeWith(DecodeAnalysisStageOptions), raw: `{"duration": "1m", "metrics": [{"custom": {"filter": "metric.type = \"x\"", "max": 0}}]}`},
	}
	for _, tc := range testcases {
		t.Run(tc.raw, func(t *testing.T) {
			t.Parallel()
			err := tc.decode([]byte(tc.raw))
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tc.wantErr), err.Error())
		})
	}
}

func decodeWith[T any](decode func([]byte) (T, error)) func([]byte) error {
	return func(raw []byte) error {
		_, err := decode(raw)
		return err
	}
}
