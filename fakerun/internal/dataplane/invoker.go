package dataplane

import (
	"fmt"
	"html"
	"net/http"
	"strings"
)

// The invoker check: Cloud Run answers 403 to a request without credentials for a service that is not
// public (https://cloud.google.com/run/docs/authenticating/overview). fakerun verifies no signature: any
// bearer token stands for an authorised invoker.

// InvokerToken is the bearer token the traffic client and the load generator send, standing for an
// authorised invoker.
const InvokerToken = "fakerun"

// hasBearer reports whether r carries a bearer token in Authorization or in X-Serverless-Authorization,
// which Cloud Run checks instead when both are set.
func hasBearer(r *http.Request) bool {
	for _, h := range []string{"Authorization", "X-Serverless-Authorization"} {
		scheme, token, ok := strings.Cut(r.Header.Get(h), " ")
		if ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != "" {
			return true
		}
	}
	return false
}

// forbidden writes Google's front end's 403 page for a request the invoker check refused.
func forbidden(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(http.StatusForbidden)
	_, _ = fmt.Fprintf(w, "\n<html><head>\n<meta http-equiv=\"content-type\" content=\"text/html;charset=utf-8\">\n<title>403 Forbidden</title>\n</head>\n"+
		"<body text=#000000 bgcolor=#ffffff>\n<h1>Error: Forbidden</h1>\n<h2>Your client does not have permission to get URL <code>%s</code> from this server.</h2>\n<h2></h2>\n</body></html>\n",
		html.EscapeString(r.URL.Path))
}
