package knative

import (
	"encoding/json"
	"errors"
	"net/http"

	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// httpCodes is the canonical mapping of gRPC codes to HTTP statuses (google/rpc/code.proto).
var httpCodes = map[codes.Code]int{
	codes.OK: 200, codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400,
	codes.DeadlineExceeded: 504, codes.NotFound: 404, codes.AlreadyExists: 409, codes.PermissionDenied: 403,
	codes.ResourceExhausted: 429, codes.FailedPrecondition: 400, codes.Aborted: 409, codes.OutOfRange: 400,
	codes.Unimplemented: 501, codes.Internal: 500, codes.Unavailable: 503, codes.DataLoss: 500,
	codes.Unauthenticated: 401,
}

// statusNames are the status strings of v1's error body for an HTTP code the API itself chooses.
var statusNames = map[int]string{400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 409: "ABORTED"}

// errorBody is Google's JSON error, as the v1 API answers it.
type errorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// writeError answers err in v1's error shape: a gRPC status from v2 keeps its code and message; an error
// of this package is a googleapi.Error with its HTTP code.
func writeError(w http.ResponseWriter, err error) {
	var body errorBody
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		body.Error.Code, body.Error.Message, body.Error.Status = gerr.Code, gerr.Message, statusNames[gerr.Code]
	} else {
		st := status.Convert(err)
		body.Error.Code, body.Error.Message = httpCodes[st.Code()], st.Message()
		body.Error.Status = codeName(st.Code())
		if body.Error.Code == 0 {
			body.Error.Code = 500
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(body.Error.Code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body)
}

// codeName is a gRPC code as Google's error bodies spell it (NOT_FOUND, INVALID_ARGUMENT).
func codeName(c codes.Code) string {
	names := map[codes.Code]string{
		codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
		codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
		codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
		codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
		codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
		codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
	}
	return names[c]
}

func notFoundPath(path string) error {
	return &googleapi.Error{Code: 404, Message: "The requested URL " + path + " was not found on this server."}
}
