// Package rest serves the Admin API's REST/JSON face: it transcodes HTTP/JSON requests into gRPC calls on the
// fake's grpc.Server by the protos' google.api.http rules, and speaks JSON as Google's front end does
// (system parameters such as fields= and prettyPrint, Google's {"error":{...}} shape).
package rest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"connectrpc.com/vanguard"
	"connectrpc.com/vanguard/vanguardgrpc"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
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

// NewHandler transcodes HTTP/JSON requests, routed by the protos'
// google.api.http rules, into calls on gs. It speaks JSON as Google's front
// end does (see restCodec), takes Google's system parameters off the query
// (see takeSystemParams) and writes errors in Google's {"error":{...}} shape.
func NewHandler(gs *grpc.Server) (http.Handler, error) {
	// One transcoder per enum encoding: the codec, hence the encoding, is fixed per transcoder.
	transcoders := map[bool]http.Handler{}
	for _, enumNumbers := range []bool{false, true} {
		transcoder, err := vanguardgrpc.NewTranscoder(gs,
			vanguard.WithRules(operationRules...),
			vanguard.WithCodec(newRESTCodec(enumNumbers)),
			vanguard.WithUnknownHandler(http.HandlerFunc(notFoundRoute)),
		)
		if err != nil {
			return nil, err
		}
		transcoders[enumNumbers] = transcoder
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, err := takeSystemParams(r.URL)
		if err != nil {
			writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error(), true)
			return
		}
		// Answers are rewritten whole (finish), so they must not come compressed.
		r.Header.Del("Accept-Encoding")
		rec := &restRecorder{header: w.Header()}
		transcoders[params.enumNumbers].ServeHTTP(rec, r)
		rec.finish(w, r, params)
	}), nil
}

// restCodec is the JSON of Google's REST front end, and the one place that
// decides it: protojson without EmitUnpopulated (unset fields are left out),
// so lowerCamelCase names, int64 as strings, RFC 3339 timestamps, "60s"
// durations and enum names; requests with an unknown field or enum name are
// refused (see payloadError) instead of being stored without it.
type restCodec struct {
	vanguard.JSONCodec
}

// newRESTCodec returns the codec factory; enumNumbers writes enums as numbers
// ("$alt=json;enum-encoding=int").
func newRESTCodec(enumNumbers bool) func(vanguard.TypeResolver) vanguard.Codec {
	return func(res vanguard.TypeResolver) vanguard.Codec {
		return restCodec{JSONCodec: vanguard.JSONCodec{
			MarshalOptions:   protojson.MarshalOptions{Resolver: res, UseEnumNumbers: enumNumbers},
			UnmarshalOptions: protojson.UnmarshalOptions{Resolver: res},
		}}
	}
}

// Unmarshal implements vanguard.Codec with Google's errors for bad payloads.
func (c restCodec) Unmarshal(data []byte, msg proto.Message) error {
	if err := c.JSONCodec.Unmarshal(data, msg); err != nil {
		return payloadError(data, msg.ProtoReflect().Descriptor(), err)
	}
	return nil
}

// systemParams are the standard query parameters every Google REST API
// accepts (https://cloud.google.com/apis/docs/system-parameters), which bind
// to no request field.
type systemParams struct {
	prettyPrint bool   // default true, as on Google's front end
	fields      string // partial response selector; "" is the whole response
	enumNumbers bool   // "$alt=json;enum-encoding=int": enums as numbers
}

// takeSystemParams removes the system parameters from u's query and returns
// the ones fakerun honours. Every other parameter must then bind to a
// request field (vanguard refuses the rest). Only JSON responses are served.
func takeSystemParams(u *url.URL) (systemParams, error) {
	p := systemParams{prettyPrint: true}
	if u.RawQuery == "" {
		return p, nil
	}
	q := u.Query()
	for name, values := range q {
		value := values[len(values)-1]
		switch strings.TrimPrefix(name, "$") {
		case "alt":
			format, option, _ := strings.Cut(value, ";")
			if format != "json" || option != "" && option != "enum-encoding=int" {
				return p, fmt.Errorf("invalid value %q for parameter alt: fakerun serves alt=json, optionally with ;enum-encoding=int", value)
			}
			p.enumNumbers = option != ""
		case "prettyPrint":
			b, err := strconv.ParseBool(value)
			if err != nil {
				return p, fmt.Errorf("invalid value %q for parameter prettyPrint: a boolean is required", value)
			}
			p.prettyPrint = b
		case "fields":
			p.fields = value
		case ".xgafv", "apiFormat", "key", "quotaUser", "access_token", "oauth_token", "callback", "uploadType", "upload_protocol", "userIp":
		default:
			continue
		}
		delete(q, name)
	}
	u.RawQuery = q.Encode()
	return p, nil
}

// restRecorder holds a REST answer until finish rewrites it: errors into
// Google's shape, successes through the fields selector and prettyPrint.
type restRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *restRecorder) Header() http.Header { return r.header }

func (r *restRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *restRecorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// Flush implements http.Flusher, which vanguard requires; the answer is written whole by finish.
func (r *restRecorder) Flush() {}

func (r *restRecorder) finish(w http.ResponseWriter, req *http.Request, params systemParams) {
	status := cmp.Or(r.status, http.StatusOK)
	body := r.body.Bytes()
	switch {
	case status == http.StatusMethodNotAllowed:
		// No binding has this verb for the path: the front end routes by verb and path together.
		w.Header().Del("Allow")
		notFoundRoute(w, req)
		return
	case status >= 400:
		writeGoogleStatus(w, status, body, params.prettyPrint)
		return
	case params.fields != "":
		filtered, err := selectFields(body, params.fields)
		if err != nil {
			writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error(), params.prettyPrint)
			return
		}
		body = filtered
	}
	writeRESTBody(w, status, body, params.prettyPrint)
}

// writeRESTBody writes a JSON body indented by two spaces, or compact when
// prettyPrint is false; non-JSON bodies are written as they are.
func writeRESTBody(w http.ResponseWriter, status int, body []byte, prettyPrint bool) {
	var out bytes.Buffer
	var err error
	if prettyPrint {
		err = json.Indent(&out, body, "", "  ")
	} else {
		err = json.Compact(&out, body)
	}
	if err == nil {
		body = out.Bytes()
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	w.Header().Del("Content-Encoding")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
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

// writeGoogleStatus rewrites the google.rpc.Status JSON that vanguard writes
// for errors into {"error":{"code":<http>,"message":…,"status":…,"details":…}},
// which googleapi.CheckResponse parses. vanguard's wording for a query
// parameter that binds to no field becomes Google's.
func writeGoogleStatus(w http.ResponseWriter, status int, body []byte, prettyPrint bool) {
	var st struct {
		Code    int32             `json:"code"`
		Message string            `json:"message"`
		Details []json.RawMessage `json:"details"`
		Error   json.RawMessage   `json:"error"` // already in Google's shape
	}
	if err := json.Unmarshal(body, &st); err == nil && st.Error == nil {
		if m := unboundQueryParam.FindStringSubmatch(st.Message); m != nil {
			status, st.Code = http.StatusBadRequest, int32(code.Code_INVALID_ARGUMENT)
			st.Message = fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot bind query parameter. Field '%s' could not be found in request message.", m[1], m[1])
		}
		if out, err := json.Marshal(googleError{Error: googleErrorBody{
			Code: status, Message: st.Message, Status: code.Code(st.Code).String(), Details: st.Details,
		}}); err == nil {
			body = out
		}
	}
	writeRESTBody(w, status, body, prettyPrint)
}

// unboundQueryParam matches vanguard's error for a query parameter naming no request field.
var unboundQueryParam = regexp.MustCompile(`^unknown field in field path "([^"]+)"`)

// writeGoogleError writes an error of Google's shape.
func writeGoogleError(w http.ResponseWriter, status int, statusName, message string, prettyPrint bool) {
	body, _ := json.Marshal(googleError{Error: googleErrorBody{Code: status, Message: message, Status: statusName}})
	writeRESTBody(w, status, body, prettyPrint)
}

// notFoundRoute answers requests that match no HTTP rule as Google's front end does.
func notFoundRoute(w http.ResponseWriter, r *http.Request) {
	writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", "The requested URL "+r.URL.Path+" was not found on this server.", true)
}
