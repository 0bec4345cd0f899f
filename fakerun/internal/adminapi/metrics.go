package adminapi

import (
	"errors"
	"net/http"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/behavior"
)

// The admin API's metrics endpoint: the ingestion delay of Cloud Monitoring.

// metricsJSON is the settings of the request metrics.
type metricsJSON struct {
	// IngestionDelay is how long after its second a point becomes visible, e.g. "5s".
	IngestionDelay *string `json:"ingestionDelay,omitempty"`
}

func (a *admin) metricsSettings(w http.ResponseWriter, _ *http.Request) {
	delay := a.srv.IngestionDelay().String()
	writeJSON(w, http.StatusOK, metricsJSON{IngestionDelay: &delay})
}

func (a *admin) setMetricsSettings(w http.ResponseWriter, r *http.Request) {
	var in metricsJSON
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if in.IngestionDelay == nil || *in.IngestionDelay == "" {
		writeError(w, http.StatusBadRequest, errors.New(`set the field "ingestionDelay", e.g. "5s" ("0s" for none)`))
		return
	}
	d, err := behavior.ParseDuration("ingestionDelay", *in.IngestionDelay)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	a.srv.SetIngestionDelay(d)
	a.metricsSettings(w, r)
}
