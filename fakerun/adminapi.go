package fakerun

import (
	"net/http"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/adminapi"
)

// AdminPrefix is the path under which AdminHandler serves the HTTP admin API.
const AdminPrefix = adminapi.Prefix

// AdminHandler returns the HTTP admin API, which exposes the Server's test
// knobs to clients that cannot call Go methods (the standalone binary, other
// languages). It serves JSON under AdminPrefix; mount it on the server's own
// port with
//
//	srv.Handle(fakerun.AdminPrefix, srv.AdminHandler())
//
// Bad requests get HTTP 400 with {"error": "..."} naming the field at fault
// and its allowed values.
func (s *Server) AdminHandler() http.Handler {
	return adminapi.New(s, s.ConsoleHandler())
}
