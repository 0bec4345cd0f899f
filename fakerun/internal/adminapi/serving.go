package adminapi

import (
	"errors"
	"net/http"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/dataplane"
)

// The admin API's serving endpoints: behaviours and the load generator.

func (a *admin) behaviors(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.srv.Behaviors())
}

func (a *admin) setBehaviors(w http.ResponseWriter, r *http.Request) {
	var in behavior.Behaviors
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if len(in.Images) == 0 && len(in.Revisions) == 0 {
		writeError(w, http.StatusBadRequest, errors.New(`set at least one entry of "images" (by image) or "revisions" (by revision name)`))
		return
	}
	if err := a.srv.SetBehaviors(in); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, a.srv.Behaviors())
}

func (a *admin) clearBehaviors(w http.ResponseWriter, _ *http.Request) {
	a.srv.ClearBehaviors()
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) loads(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]dataplane.LoadStatus{"loads": a.srv.Loads()})
}

func (a *admin) startLoad(w http.ResponseWriter, r *http.Request) {
	var in dataplane.LoadJSON
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	l, err := in.Load()
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	id, err := a.srv.StartLoad(l)
	if err != nil { // validated by in.Load already
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
}
