package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Scenarios of the canary deployment.
const (
	// scenarioGood deploys a healthy v2: the analysis passes and the canary completes.
	scenarioGood = "good"
	// scenarioBadCanary makes v2 answer 20% of its requests with 503: the analysis fails at 10% and
	// CLOUDRUN_ROLLBACK restores v1.
	scenarioBadCanary = "bad-canary"
)

// analysisDuration matches the duration options of a CLOUDRUN_ANALYSIS stage.
var analysisDuration = regexp.MustCompile(`^(\s*(?:duration|interval|ingestionDelay):\s*)([0-9][0-9a-z.]*)(.*)$`)

// scaleAnalysis multiplies the durations of the CLOUDRUN_ANALYSIS stages of an app.pipecd.yaml by scale, so
// that 10 minutes of analysis on Google Cloud take seconds on fakerun, whose points are per second and
// visible at once.
func scaleAnalysis(config string, scale float64) (string, error) {
	lines := strings.Split(config, "\n")
	inAnalysis := false
	for i, l := range lines {
		if strings.Contains(l, "- name:") {
			inAnalysis = strings.Contains(l, "CLOUDRUN_ANALYSIS")
			continue
		}
		m := analysisDuration.FindStringSubmatch(l)
		if !inAnalysis || m == nil {
			continue
		}
		d, err := time.ParseDuration(m[2])
		if err != nil {
			return "", fmt.Errorf("app.pipecd.yaml line %d: %w", i+1, err)
		}
		lines[i] = m[1] + time.Duration(float64(d)*scale).Round(100*time.Millisecond).String() + m[3]
	}
	return strings.Join(lines, "\n"), nil
}

// fakerunAdmin calls the admin API of the fakerun at addr.
type fakerunAdmin struct{ addr string }

func (a fakerunAdmin) call(ctx context.Context, method, path string, body any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+a.addr+"/_fakerun/"+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fakerun admin API %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("fakerun admin API %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// startLoad makes fakerun's load generator send rate requests a second to url for d.
func (a fakerunAdmin) startLoad(ctx context.Context, url string, rate int, d time.Duration) error {
	return a.call(ctx, http.MethodPost, "load", map[string]any{"url": url, "rate": rate, "duration": d.String()})
}

// breakImage makes the revisions of image answer 20% of their requests with 503.
func (a fakerunAdmin) breakImage(ctx context.Context, image string) error {
	return a.call(ctx, http.MethodPut, "behaviors", map[string]any{
		"images": map[string]any{image: map[string]any{"errorRate": 0.2, "errorCode": http.StatusServiceUnavailable}},
	})
}
