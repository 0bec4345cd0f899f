package fakerun

import (
	"context"
	"net/http"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/rpc/code"

	"github.com/pipecd-cloudrun/cloudrun/fakerun/console"
)

// ConsoleHandler returns the web console (see package console), which
// AdminHandler serves under console.Prefix. It only reads: the state, the
// faults, and request metrics through the same ListTimeSeries that answers
// Cloud Monitoring clients.
func (s *Server) ConsoleHandler() http.Handler {
	return console.Handler(consoleSource{s})
}

// consoleSource shows a Server to the console.
type consoleSource struct{ srv *Server }

func (c consoleSource) Snapshot() console.Snapshot {
	st := c.srv.State()
	snap := console.Snapshot{Now: c.srv.Clock().Now, Services: st.Services, Revisions: st.Revisions, Operations: st.Operations,
		LatestReady: c.srv.control.LatestReady(), WorkerPools: st.WorkerPools, PoolRevisions: st.WorkerPoolRevisions, Instances: st.Instances}
	faults := c.srv.Faults()
	for _, m := range Methods {
		for _, f := range faults[m] {
			snap.Faults = append(snap.Faults, console.Fault{Method: m, Code: code.Code(f.Code).String(), Message: f.Message, Times: f.Times, Delay: f.Delay})
		}
	}
	return snap
}

func (c consoleSource) ListTimeSeries(ctx context.Context, req *monitoringpb.ListTimeSeriesRequest) (*monitoringpb.ListTimeSeriesResponse, error) {
	return c.srv.monitoring.ListTimeSeries(ctx, req)
}

func (c consoleSource) TrafficHandler() http.Handler { return c.srv.TrafficHandler() }
