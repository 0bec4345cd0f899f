// Package adminapi is the fake's HTTP admin API under /_fakerun/: its test knobs (state, reset, calls,
// faults, readiness, failing images, behaviours, metrics, load, clock) as JSON for clients that cannot call
// Go methods, over the Knobs interface the root package's Server satisfies.
package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/control"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/dataplane"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/faults"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/console"
)

// Prefix is the path under which the admin API is served.
const Prefix = "/_fakerun/"

// adminEndpoints documents the admin API; unknown paths answer with this list.
var adminEndpoints = []string{
	"GET    /_fakerun/console/ (the web console, read-only)",
	"GET    /_fakerun/healthz",
	"GET    /_fakerun/state",
	"GET    /_fakerun/instances?workerPool=projects/p/locations/l/workerPools/w",
	"POST   /_fakerun/reset",
	"GET    /_fakerun/calls[?method=UpdateService]",
	"DELETE /_fakerun/calls",
	"GET    /_fakerun/faults",
	`POST   /_fakerun/faults {"method":"UpdateService","code":"UNAVAILABLE","message":"...","times":1,"delay":"2s"}`,
	"DELETE /_fakerun/faults",
	"GET    /_fakerun/readiness",
	`PUT    /_fakerun/readiness {"delay":"5s","manual":false}`,
	`POST   /_fakerun/readiness/revision {"revision":"svc-00002-abc","ready":true}`,
	"GET    /_fakerun/failing-images",
	`POST   /_fakerun/failing-images {"image":"us-docker.pkg.dev/p/r/app:broken"}`,
	"GET    /_fakerun/behaviors",
	`PUT    /_fakerun/behaviors {"images":{"…/app:v2":{"errorRate":0.2,"errorCode":503,"latency":"50ms"}},"revisions":{"svc-00002-abc":{"backend":"http://127.0.0.1:9000"}}}`,
	"DELETE /_fakerun/behaviors",
	"GET    /_fakerun/metrics",
	`PUT    /_fakerun/metrics {"ingestionDelay":"5s"}`,
	"GET    /_fakerun/load",
	`POST   /_fakerun/load {"url":"https://svc-….a.run.app/","rate":20,"duration":"60s"}`,
	"GET    /_fakerun/clock",
	`PUT    /_fakerun/clock {"now":"2026-01-02T15:04:05Z"}`,
	`POST   /_fakerun/clock/advance {"duration":"30s"}`,
}

// New returns the admin API over knobs, with the web console (read-only) under console.Prefix.
// Bad requests get HTTP 400 with {"error": "..."} naming the field at fault and its allowed values.
func New(knobs Knobs, consoleHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	a := &admin{srv: knobs, mux: mux}
	mux.Handle("GET "+console.Prefix, consoleHandler)
	mux.HandleFunc("GET /_fakerun/healthz", a.healthz)
	mux.HandleFunc("GET /_fakerun/state", a.state)
	mux.HandleFunc("GET /_fakerun/instances", a.instances)
	mux.HandleFunc("POST /_fakerun/reset", a.reset)
	mux.HandleFunc("GET /_fakerun/calls", a.calls)
	mux.HandleFunc("DELETE /_fakerun/calls", a.resetCalls)
	mux.HandleFunc("GET /_fakerun/faults", a.getFaults)
	mux.HandleFunc("POST /_fakerun/faults", a.injectFault)
	mux.HandleFunc("DELETE /_fakerun/faults", a.clearFaults)
	mux.HandleFunc("GET /_fakerun/readiness", a.readiness)
	mux.HandleFunc("PUT /_fakerun/readiness", a.setReadiness)
	mux.HandleFunc("POST /_fakerun/readiness/revision", a.setRevisionReady)
	mux.HandleFunc("GET /_fakerun/failing-images", a.failingImages)
	mux.HandleFunc("POST /_fakerun/failing-images", a.addFailingImage)
	mux.HandleFunc("GET /_fakerun/behaviors", a.behaviors)
	mux.HandleFunc("PUT /_fakerun/behaviors", a.setBehaviors)
	mux.HandleFunc("DELETE /_fakerun/behaviors", a.clearBehaviors)
	mux.HandleFunc("GET /_fakerun/metrics", a.metricsSettings)
	mux.HandleFunc("PUT /_fakerun/metrics", a.setMetricsSettings)
	mux.HandleFunc("GET /_fakerun/load", a.loads)
	mux.HandleFunc("POST /_fakerun/load", a.startLoad)
	mux.HandleFunc("GET /_fakerun/clock", a.clock)
	mux.HandleFunc("PUT /_fakerun/clock", a.setClock)
	mux.HandleFunc("POST /_fakerun/clock/advance", a.advanceClock)
	mux.HandleFunc(Prefix, a.unknown)
	return mux
}

// Knobs are the test knobs the admin API exposes (the root package's Server).
type Knobs interface {
	State() *control.State
	Instances(poolName string) (map[string]int32, error)
	Reset()
	Calls() []faults.Call
	ResetCalls()
	Faults() map[string][]faults.Fault
	InjectFault(method string, f faults.Fault)
	ClearFaults()
	Readiness() (delay time.Duration, manual bool)
	SetReadinessDelay(d time.Duration)
	SetManualReadiness(manual bool)
	SetRevisionReady(revisionName string, ready bool) error
	FailingImages() []string
	AddFailingImage(image string)
	Behaviors() behavior.Behaviors
	SetBehaviors(bs behavior.Behaviors) error
	ClearBehaviors()
	IngestionDelay() time.Duration
	SetIngestionDelay(d time.Duration)
	Loads() []dataplane.LoadStatus
	StartLoad(l dataplane.Load) (string, error)
	Clock() control.ClockStatus
	SetNow(t time.Time)
	Advance(d time.Duration)
}

// admin implements the admin API's handlers on top of a Server.
type admin struct {
	srv Knobs
	mux *http.ServeMux
}

// faultJSON is a fault as the admin API reads and writes it.
type faultJSON struct {
	// Method is an RPC short name from Methods, e.g. "UpdateService".
	Method string `json:"method"`
	// Code is a gRPC code name such as "UNAVAILABLE" (case and underscores
	// do not matter) or its number; empty or "OK" only adds Delay.
	Code string `json:"code,omitempty"`
	// Message replaces the default error message.
	Message string `json:"message,omitempty"`
	// Times is how many calls the fault affects (remaining calls when read back); 0 means every call.
	Times int `json:"times,omitempty"`
	// Delay is wall-clock latency added to each affected call, e.g. "250ms".
	Delay string `json:"delay,omitempty"`
}

// callJSON is one entry of the call log as the admin API writes it.
type callJSON struct {
	Method  string          `json:"method"`
	Code    string          `json:"code"`
	Time    time.Time       `json:"time"`
	Request json.RawMessage `json:"request,omitempty"` // protojson
}

// readinessJSON is the readiness behaviour for new revisions.
type readinessJSON struct {
	// Delay is how long a new revision takes to become ready, e.g. "5s".
	Delay *string `json:"delay,omitempty"`
	// Manual keeps new revisions pending until marked ready or failed.
	Manual *bool `json:"manual,omitempty"`
}

// revisionReadyJSON decides one revision's readiness.
type revisionReadyJSON struct {
	// Revision is a full revision name or an unambiguous short name.
	Revision string `json:"revision"`
	// Ready true makes the revision Ready, false makes it fail.
	Ready *bool `json:"ready"`
}

// clockJSON is the server clock: PUT sets (and freezes) it, GET reads it.
type clockJSON struct {
	Now    string `json:"now"`              // RFC 3339
	Frozen bool   `json:"frozen,omitempty"` // true once PUT has frozen the clock; ignored in requests
}

// advanceJSON moves the server clock forward.
type advanceJSON struct {
	Duration string `json:"duration"` // e.g. "30s"
}

// adminError is the body of every admin API error.
type adminError struct {
	Error     string   `json:"error"`
	Endpoints []string `json:"endpoints,omitempty"`
}

func (a *admin) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *admin) state(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.srv.State())
}

// instances answers the instances per revision of one worker pool (query parameter workerPool, a full
// name), or of every pool by name without it.
func (a *admin) instances(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("workerPool")
	if name == "" {
		writeJSON(w, http.StatusOK, a.srv.State().Instances)
		return
	}
	counts, err := a.srv.Instances(name)
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("query parameter %q: %s", "workerPool", status.Convert(err).Message()))
		return
	}
	writeJSON(w, http.StatusOK, counts)
}

func (a *admin) reset(w http.ResponseWriter, _ *http.Request) {
	a.srv.Reset()
	writeJSON(w, http.StatusOK, map[string]string{"status": "reset"})
}

func (a *admin) calls(w http.ResponseWriter, r *http.Request) {
	method := r.URL.Query().Get("method")
	if method != "" && !slices.Contains(faults.Methods, method) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("query parameter %q: unknown method %q; allowed: %s", "method", method, strings.Join(faults.Methods, ", ")))
		return
	}
	out := []callJSON{}
	for _, c := range a.srv.Calls() {
		if method != "" && c.Method != method {
			continue
		}
		entry := callJSON{Method: c.Method, Code: code.Code(c.Code).String(), Time: c.Time}
		if c.Request != nil {
			if b, err := protojson.Marshal(c.Request); err == nil {
				entry.Request = b
			}
		}
		out = append(out, entry)
	}
	writeJSON(w, http.StatusOK, map[string][]callJSON{"calls": out})
}

func (a *admin) resetCalls(w http.ResponseWriter, _ *http.Request) {
	a.srv.ResetCalls()
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) getFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]faultJSON{"faults": a.listFaults()})
}

// listFaults renders the registered faults in Methods order, each method's
// faults in the order they apply.
func (a *admin) listFaults() []faultJSON {
	registered := a.srv.Faults()
	out := []faultJSON{}
	for _, m := range faults.Methods {
		for _, f := range registered[m] {
			fj := faultJSON{Method: m, Code: code.Code(f.Code).String(), Message: f.Message, Times: f.Times}
			if f.Delay > 0 {
				fj.Delay = f.Delay.String()
			}
			out = append(out, fj)
		}
	}
	return out
}

func (a *admin) injectFault(w http.ResponseWriter, r *http.Request) {
	var in faultJSON
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	f, err := parseFault(in)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	a.srv.InjectFault(in.Method, f)
	writeJSON(w, http.StatusCreated, map[string][]faultJSON{"faults": a.listFaults()})
}

// parseFault checks a fault read from JSON and converts it.
func parseFault(in faultJSON) (faults.Fault, error) {
	if !slices.Contains(faults.Methods, in.Method) {
		return faults.Fault{}, fmt.Errorf("field %q: unknown method %q; allowed: %s", "method", in.Method, strings.Join(faults.Methods, ", "))
	}
	c, err := parseCode(in.Code)
	if err != nil {
		return faults.Fault{}, err
	}
	if in.Times < 0 {
		return faults.Fault{}, fmt.Errorf("field %q: must be >= 0 (0 = every call), got %d", "times", in.Times)
	}
	delay, err := behavior.ParseDuration("delay", in.Delay)
	if err != nil {
		return faults.Fault{}, err
	}
	return faults.Fault{Code: c, Message: in.Message, Times: in.Times, Delay: delay}, nil
}

// parseCode reads a gRPC code by name ("UNAVAILABLE", "Unavailable",
// "unavailable") or number; empty means OK.
func parseCode(s string) (codes.Code, error) {
	if s == "" {
		return codes.OK, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if _, ok := code.Code_name[int32(n)]; ok {
			return codes.Code(n), nil
		}
	}
	want := strings.ReplaceAll(strings.ToUpper(s), "_", "")
	names := make([]string, 0, len(code.Code_name))
	for n := range int32(len(code.Code_name)) {
		name := code.Code_name[n]
		if strings.ReplaceAll(name, "_", "") == want {
			return codes.Code(n), nil
		}
		names = append(names, name)
	}
	return codes.OK, fmt.Errorf("field %q: unknown gRPC code %q; allowed: %s (or their numbers 0-16)", "code", s, strings.Join(names, ", "))
}

func (a *admin) clearFaults(w http.ResponseWriter, _ *http.Request) {
	a.srv.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) readiness(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.currentReadiness())
}

func (a *admin) currentReadiness() readinessJSON {
	d, manual := a.srv.Readiness()
	delay := d.String()
	return readinessJSON{Delay: &delay, Manual: &manual}
}

func (a *admin) setReadiness(w http.ResponseWriter, r *http.Request) {
	var in readinessJSON
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if in.Delay == nil && in.Manual == nil {
		writeError(w, http.StatusBadRequest, errors.New(`set at least one of the fields "delay" (e.g. "5s") and "manual" (true or false)`))
		return
	}
	if in.Delay != nil {
		if *in.Delay == "" {
			writeError(w, http.StatusBadRequest, errors.New(`field "delay": must not be empty; use "0s" for no delay`))
			return
		}
		d, err := behavior.ParseDuration("delay", *in.Delay)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		a.srv.SetReadinessDelay(d)
	}
	if in.Manual != nil {
		a.srv.SetManualReadiness(*in.Manual)
	}
	writeJSON(w, http.StatusOK, a.currentReadiness())
}

func (a *admin) setRevisionReady(w http.ResponseWriter, r *http.Request) {
	var in revisionReadyJSON
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	switch {
	case in.Revision == "":
		writeError(w, http.StatusBadRequest, errors.New(`field "revision": required; a full revision name or a short one such as "svc-00002-abc"`))
		return
	case in.Ready == nil:
		writeError(w, http.StatusBadRequest, errors.New(`field "ready": required; true (make the revision Ready) or false (make it fail)`))
		return
	}
	if err := a.srv.SetRevisionReady(in.Revision, *in.Ready); err != nil {
		status := http.StatusBadRequest // an ambiguous short name
		if strings.Contains(err.Error(), "not found") {
			status = http.StatusNotFound
		}
		writeError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, in)
}

func (a *admin) failingImages(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]string{"images": a.srv.FailingImages()})
}

func (a *admin) addFailingImage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Image string `json:"image"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if in.Image == "" {
		writeError(w, http.StatusBadRequest, errors.New(`field "image": required; the container image whose revisions never become ready`))
		return
	}
	a.srv.AddFailingImage(in.Image)
	writeJSON(w, http.StatusCreated, map[string][]string{"images": a.srv.FailingImages()})
}

func (a *admin) clock(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.currentClock())
}

func (a *admin) currentClock() clockJSON {
	c := a.srv.Clock()
	return clockJSON{Now: c.Now.UTC().Format(time.RFC3339Nano), Frozen: c.Frozen}
}

// clockInjected reports (and answers) a request to move a clock given by WithClock.
func (a *admin) clockInjected(w http.ResponseWriter) bool {
	if !a.srv.Clock().Injected {
		return false
	}
	writeError(w, http.StatusConflict, errors.New("the clock is injected with WithClock; move that clock instead"))
	return true
}

func (a *admin) setClock(w http.ResponseWriter, r *http.Request) {
	var in clockJSON
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	t, err := time.Parse(time.RFC3339Nano, in.Now)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("field %q: invalid time %q; want RFC 3339 such as \"2026-01-02T15:04:05Z\"", "now", in.Now))
		return
	}
	if a.clockInjected(w) {
		return
	}
	a.srv.SetNow(t)
	writeJSON(w, http.StatusOK, a.currentClock())
}

func (a *admin) advanceClock(w http.ResponseWriter, r *http.Request) {
	var in advanceJSON
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if in.Duration == "" {
		writeError(w, http.StatusBadRequest, errors.New(`field "duration": required; a Go duration such as "30s"`))
		return
	}
	d, err := behavior.ParseDuration("duration", in.Duration)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if a.clockInjected(w) {
		return
	}
	a.srv.Advance(d)
	writeJSON(w, http.StatusOK, a.currentClock())
}

// unknown answers requests no endpoint matches: 405 when the path exists
// for other HTTP methods, else 404; both list the endpoints.
func (a *admin) unknown(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != Prefix {
			allowed = append(allowed, m)
		}
	}
	status := http.StatusNotFound
	if len(allowed) > 0 {
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
	writeJSON(w, status, adminError{
		Error:     fmt.Sprintf("no admin endpoint %s %s", r.Method, r.URL.Path),
		Endpoints: adminEndpoints,
	})
}

// maxAdminBody bounds request bodies.
const maxAdminBody = 1 << 20

// decodeBody reads one JSON object into v, rejecting unknown fields.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err != nil {
		return fmt.Errorf("reading the request body: %w", err)
	}
	if len(body) > maxAdminBody {
		return fmt.Errorf("request body is larger than %d bytes", maxAdminBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fmt.Errorf("field %q: want a JSON %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return fmt.Errorf("invalid JSON body: %s; allowed fields: %s", strings.TrimPrefix(err.Error(), "json: "), strings.Join(jsonFields(v), ", "))
	}
	if dec.More() {
		return errors.New("invalid JSON body: want exactly one JSON object")
	}
	return nil
}

// jsonFields lists the JSON field names of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v).Elem()
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

// writeJSON writes v as a JSON response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(adminError{Error: "encoding the response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError writes {"error": err} with the given status.
func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, adminError{Error: err.Error()})
}
