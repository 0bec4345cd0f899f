package promql

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/metrics"
)

// Paths of Cloud Monitoring's Prometheus HTTP API
// (https://cloud.google.com/stackdriver/docs/managed-prometheus/query#http-api-details).
const (
	QueryPath      = "/v1/projects/{project}/location/global/prometheus/api/v1/query"
	QueryRangePath = "/v1/projects/{project}/location/global/prometheus/api/v1/query_range"
)

// maxPoints bounds the steps of a range query, as Prometheus's 11,000.
const maxPoints = 11000

// Handler answers instant and range queries over the metrics of store, reading time from now. Register
// it for QueryPath and QueryRangePath; GET and POST (form) are accepted, as by Prometheus.
type Handler struct {
	store  *metrics.Store
	now    func() time.Time
	parser parser.Parser
}

// NewHandler returns the handler of store's metrics.
func NewHandler(store *metrics.Store, now func() time.Time) *Handler {
	return &Handler{store: store, now: now, parser: parser.NewParser(parser.Options{})}
}

// Register adds the two paths to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle(QueryPath, h)
	mux.Handle(QueryRangePath, h)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "bad_data", fmt.Errorf("method %s not allowed, allowed GET and POST", r.Method))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	project := r.PathValue("project")
	expr, err := h.parser.ParseExpr(r.Form.Get("query"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid parameter \"query\": %w", err))
		return
	}
	if err := check(expr); err != nil {
		writeError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/query_range") {
		h.queryRange(w, r, project, expr)
		return
	}
	t := h.now()
	if s := r.Form.Get("time"); s != "" {
		if t, err = parseTime(s); err != nil {
			writeError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid parameter \"time\": %w", err))
			return
		}
	}
	ev := h.evaluator(project, expr, t, t)
	v, err := ev.eval(expr, t)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_data", err)
		return
	}
	if s, ok := v.(float64); ok {
		writeData(w, "scalar", []any{unixSeconds(t), formatFloat(s)})
		return
	}
	result := []map[string]any{}
	for _, e := range sorted(v.(vector)) {
		result = append(result, map[string]any{"metric": e.labels, "value": []any{unixSeconds(t), formatFloat(e.v)}})
	}
	writeData(w, "vector", result)
}

func (h *Handler) queryRange(w http.ResponseWriter, r *http.Request, project string, expr parser.Expr) {
	var start, end time.Time
	var step time.Duration
	var err error
	for _, p := range []struct {
		name string
		set  func(string) error
	}{
		{"start", func(s string) (err error) { start, err = parseTime(s); return }},
		{"end", func(s string) (err error) { end, err = parseTime(s); return }},
		{"step", func(s string) (err error) { step, err = parseDuration(s); return }},
	} {
		if err = p.set(r.Form.Get(p.name)); err != nil {
			writeError(w, http.StatusBadRequest, "bad_data", fmt.Errorf("invalid parameter %q: %w", p.name, err))
			return
		}
	}
	switch {
	case end.Before(start):
		writeError(w, http.StatusBadRequest, "bad_data", errors.New("end timestamp must not be before start time"))
		return
	case step <= 0:
		writeError(w, http.StatusBadRequest, "bad_data", errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"))
		return
	case end.Sub(start)/step > maxPoints:
		writeError(w, http.StatusBadRequest, "bad_data", errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))
		return
	}
	ev := h.evaluator(project, expr, start, end)
	type row struct {
		labels map[string]string
		values [][]any
	}
	rows := map[string]*row{}
	for t := start; !t.After(end); t = t.Add(step) {
		v, err := ev.eval(expr, t)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_data", err)
			return
		}
		vec, ok := v.(vector)
		if !ok {
			vec = vector{{labels: map[string]string{}, v: v.(float64)}}
		}
		for _, e := range vec {
			key := signature(e.labels, nil, false) + "\xfe" + e.labels["__name__"]
			if rows[key] == nil {
				rows[key] = &row{labels: e.labels}
			}
			rows[key].values = append(rows[key].values, []any{unixSeconds(t), formatFloat(e.v)})
		}
	}
	result := []map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(rows)) {
		result = append(result, map[string]any{"metric": rows[k].labels, "values": rows[k].values})
	}
	writeData(w, "matrix", result)
}

// evaluator reads the series a query of expr over [start, end] needs.
func (h *Handler) evaluator(project string, expr parser.Expr, start, end time.Time) *evaluator {
	from := start.Add(-max(lookback, maxRange(expr)))
	return &evaluator{series: toSeries(h.store.Snapshots(project, from, end))}
}

// sorted orders a vector by its labels, for stable answers.
func sorted(v vector) vector {
	slices.SortFunc(v, func(a, b element) int {
		return strings.Compare(signature(a.labels, nil, false)+a.labels["__name__"], signature(b.labels, nil, false)+b.labels["__name__"])
	})
	return v
}

// parseTime reads an RFC 3339 time or Unix seconds, as Prometheus does.
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseDuration reads seconds or a Prometheus duration such as "30s" or "1m".
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func writeData(w http.ResponseWriter, resultType string, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"resultType": resultType, "result": result}})
}

// writeError answers in Prometheus's error shape: {"status": "error", "errorType": ..., "error": ...}.
func writeError(w http.ResponseWriter, code int, errorType string, err error) {
	writeJSON(w, code, map[string]any{"status": "error", "errorType": errorType, "error": err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
