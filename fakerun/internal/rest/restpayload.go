package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// payloadError explains why a REST request body did not unmarshal into a
// message of type md, in the words of Google's front end: every unknown name
// ("Invalid JSON payload received. Unknown name …") and every unknown enum
// name ("Invalid value at …"), each also a google.rpc.BadRequest field
// violation. Any other fault is reported with protojson's text. The root
// path is the body field a request binds (a message named Service is the body
// "service"); a whole request message is the root itself.
func payloadError(data []byte, md protoreflect.MessageDescriptor, cause error) error {
	root := ""
	if !strings.HasSuffix(string(md.Name()), "Request") {
		root = rules.SnakeCase(lowerFirst(string(md.Name())))
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var violations []*errdetails.BadRequest_FieldViolation
	if dec.Decode(&v) == nil {
		violations = payloadViolations(md, v, root)
	}
	if len(violations) == 0 {
		violations = []*errdetails.BadRequest_FieldViolation{{Field: root, Description: "Invalid JSON payload received. " + cause.Error()}}
	}
	msgs := make([]string, len(violations))
	for i, fv := range violations {
		msgs[i] = fv.GetDescription()
	}
	// A connect error, so that vanguard writes its code and details as they are.
	out := connect.NewError(connect.CodeInvalidArgument, errors.New(strings.Join(msgs, "\n")))
	if detail, err := connect.NewErrorDetail(&errdetails.BadRequest{FieldViolations: violations}); err == nil {
		out.AddDetail(detail)
	}
	return out
}

// payloadViolations walks the JSON value v of a message of type md at path.
func payloadViolations(md protoreflect.MessageDescriptor, v any, path string) []*errdetails.BadRequest_FieldViolation {
	obj, ok := v.(map[string]any)
	if !ok || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return nil // well-known types have JSON forms of their own
	}
	var out []*errdetails.BadRequest_FieldViolation
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		fd := md.Fields().ByJSONName(name)
		if fd == nil {
			fd = md.Fields().ByTextName(name)
		}
		if fd == nil {
			at := ""
			if path != "" {
				at = " at '" + path + "'"
			}
			out = append(out, &errdetails.BadRequest_FieldViolation{Field: path,
				Description: fmt.Sprintf("Invalid JSON payload received. Unknown name %q%s: Cannot find field.", name, at)})
			continue
		}
		if fd.IsMap() {
			continue // Cloud Run's maps hold strings
		}
		fieldPath := string(fd.Name())
		if path != "" {
			fieldPath = path + "." + fieldPath
		}
		values, isList := obj[name].([]any)
		if !fd.IsList() || !isList {
			values = []any{obj[name]}
		}
		for i, item := range values {
			at := fieldPath
			if fd.IsList() && isList {
				at = fmt.Sprintf("%s[%d]", fieldPath, i)
			}
			switch fd.Kind() {
			case protoreflect.MessageKind, protoreflect.GroupKind:
				out = append(out, payloadViolations(fd.Message(), item, at)...)
			case protoreflect.EnumKind:
				if s, ok := item.(string); ok && fd.Enum().Values().ByName(protoreflect.Name(s)) == nil {
					out = append(out, &errdetails.BadRequest_FieldViolation{Field: at,
						Description: fmt.Sprintf("Invalid value at '%s' (type.googleapis.com/%s), %q", at, fd.Enum().FullName(), s)})
				}
			default:
			}
		}
	}
	return out
}

// lowerFirst lowers the first letter of a message name ("Service" → "service").
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
