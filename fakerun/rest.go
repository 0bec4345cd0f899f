package fakerun

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"connectrpc.com/vanguard"
	"connectrpc.com/vanguard/vanguardgrpc"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
)

// operationRules bind google.longrunning.Operations the way Cloud Run's
// service config does (the proto's own /v1/operations bindings stay too).
var operationRules = []*annotations.HttpRule{
	{Selector: "google.longrunning.Operations.GetOperation",
		Pattern: &annotations.HttpRule_Get{Get: "/v2/{name=projects/*/locations/*/operations/*}"}},
	{Selector: "google.longrunning.Operations.ListOperations",
		Pattern: &annotations.HttpRule_Get{Get: "/v2/{name=projects/*/locations/*}/operations"}},
	{Selector: "google.longrunning.Operations.DeleteOperation",
		Pattern: &annotations.HttpRule_Delete{Delete: "/v2/{name=projects/*/locations/*/operations/*}"}},
	{Selector: "google.longrunning.Operations.WaitOperation",
		Pattern: &annotations.HttpRule_Post{Post: "/v2/{name=projects/*/locations/*/operations/*}:wait"}, Body: "*"},
}

// newRESTHandler transcodes HTTP/JSON requests, routed by the protos'
// google.api.http rules, into calls on gs, and writes errors in Google's
// {"error":{...}} shape.
func newRESTHandler(gs *grpc.Server) (http.Handler, error) {
	transcoder, err := vanguardgrpc.NewTranscoder(gs,
		vanguard.WithRules(operationRules...),
		vanguard.WithUnknownHandler(http.HandlerFunc(notFoundRoute)),
		vanguard.WithDefaultServiceOptions(
			// The Go REST client always sends "$alt=json;enum-encoding=int".
			vanguard.WithRESTUnmarshalOptions(vanguard.RESTUnmarshalOptions{DiscardUnknownQueryParams: true}),
		),
	)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ew := &googleErrorWriter{ResponseWriter: w}
		transcoder.ServeHTTP(ew, r)
		ew.finish()
	}), nil
}

// googleError is the JSON error body of Google REST APIs.
type googleError struct {
	Error googleErrorBody `json:"error"`
}

type googleErrorBody struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status"`
	Details []json.RawMessage `json:"details,omitempty"`
}

// googleErrorWriter rewrites the google.rpc.Status JSON that vanguard writes
// for errors into {"error":{"code":<http>,"message":…,"status":…,"details":…}},
// which googleapi.CheckResponse parses.
type googleErrorWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *googleErrorWriter) WriteHeader(status int) {
	if status < 400 {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.status = status
}

func (w *googleErrorWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		return w.ResponseWriter.Write(b)
	}
	return w.body.Write(b)
}

// Flush passes through only for successful responses; errors are written whole.
func (w *googleErrorWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && w.status == 0 {
		f.Flush()
	}
}

func (w *googleErrorWriter) finish() {
	if w.status == 0 {
		return
	}
	var st struct {
		Code    int32             `json:"code"`
		Message string            `json:"message"`
		Details []json.RawMessage `json:"details"`
		Error   json.RawMessage   `json:"error"` // already in Google's shape
	}
	body := w.body.Bytes()
	if err := json.Unmarshal(body, &st); err == nil && st.Error == nil {
		if body, err = json.Marshal(googleError{Error: googleErrorBody{
			Code: w.status, Message: st.Message, Status: code.Code(st.Code).String(), Details: st.Details,
		}}); err != nil {
			body = w.body.Bytes()
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Del("Content-Encoding")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(body)
}

// notFoundRoute answers requests that match no HTTP rule as Google's front end does.
func notFoundRoute(w http.ResponseWriter, r *http.Request) {
	body, _ := json.Marshal(googleError{Error: googleErrorBody{
		Code:    http.StatusNotFound,
		Message: "The requested URL " + r.URL.Path + " was not found on this server.",
		Status:  "NOT_FOUND",
	}})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(body)
}
