package console

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/internal/rules"
)

// location is one project and region with services.
type location struct {
	Name     string // projects/P/locations/L
	Path     string
	Services int
}

// locationsOf lists the locations that have services.
func locationsOf(snap Snapshot) []location {
	counts := map[string]int{}
	for _, svc := range snap.Services {
		counts[locationOf(svc.GetName())]++
	}
	out := []location{}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		out = append(out, location{Name: name, Path: Prefix + name + "/", Services: counts[name]})
	}
	return out
}

// locationOf is the projects/P/locations/L part of a service name.
func locationOf(serviceName string) string {
	loc, _, _ := strings.Cut(serviceName, "/services/")
	return loc
}

// servicesPage lists the services of a location; the list updates itself.
type servicesPage struct {
	Location, EventsPath string
	Services             []serviceRow
	WorkerPools          []poolLink
}

// poolLink is a worker pool in a location's list.
type poolLink struct {
	ID, Path string
	Split    []splitRow
}

// serviceRow is a service in a location's list.
type serviceRow struct {
	ID, Path, URI, VisitPath, LatestReady string
	Traffic                               []trafficRow
}

func servicesOf(snap Snapshot, loc string) servicesPage {
	page := servicesPage{Location: loc, EventsPath: Prefix + loc + "/events"}
	for _, wp := range snap.WorkerPools {
		if loc+"/workerPools/"+rules.ShortName(wp.GetName()) != wp.GetName() {
			continue
		}
		link := poolLink{ID: rules.ShortName(wp.GetName()), Path: Prefix + wp.GetName()}
		for rev, n := range snap.Instances[wp.GetName()] {
			link.Split = append(link.Split, splitRow{Revision: rev, Percent: n})
		}
		slices.SortFunc(link.Split, func(a, b splitRow) int { return strings.Compare(a.Revision, b.Revision) })
		page.WorkerPools = append(page.WorkerPools, link)
	}
	for _, svc := range snap.Services {
		if locationOf(svc.GetName()) != loc {
			continue
		}
		page.Services = append(page.Services, serviceRow{
			ID: rules.ShortName(svc.GetName()), Path: Prefix + svc.GetName(), URI: svc.GetUri(), VisitPath: visitPath(svc.GetUri()),
			LatestReady: rules.ShortName(svc.GetLatestReadyRevision()),
			Traffic:     trafficOf(svc, snap.LatestReady[svc.GetName()], revisionColors(snap.Revisions[svc.GetName()])),
		})
	}
	return page
}

// servicePage is a service's page; Live is the part that updates itself.
type servicePage struct {
	ID, Location, LocationPath, EventsPath string
	Live                                   live
}

// link is a URL and the console path that opens it.
type link struct{ URL, VisitPath string }

// live is what changes while a deployment runs.
type live struct {
	Now time.Time
	// Missing is true while the service does not exist (yet, or any more).
	Missing     bool
	URLs        []link
	Reconciling bool
	Traffic     []trafficRow
	Revisions   []revisionRow
	Operations  []operationRow
	Faults      []Fault
	Charts      []chart
	Legend      []legendRow
	MetricsErr  string
}

// trafficRow is one entry of the traffic block as it serves now.
type trafficRow struct {
	Revision string
	Latest   bool // the LATEST entry, following the newest ready revision
	Percent  int32
	Tag, URI string
	TagPath  string // console path opening the tag URL
	Color    string
}

// revisionRow is one revision.
type revisionRow struct {
	Name, Image, Color string
	Created            time.Time
	Ready, Message     string
	Percent            int32
	Tags               []string
	Labels             []label
}

type label struct{ Key, Value string }

// operationRow is one long-running operation of the service.
type operationRow struct {
	Name, State, Error string
}

// palette colours revisions, oldest first; it repeats after its end.
var palette = []string{"#1a73e8", "#e8710a", "#188038", "#a142f4", "#d93025", "#12b5cb", "#f9ab00", "#5f6368"}

// revisionColors gives each revision (newest first) a colour that stays the
// same while newer revisions appear.
func revisionColors(revs []*runpb.Revision) map[string]string {
	out := map[string]string{}
	for i, r := range revs {
		out[rules.ShortName(r.GetName())] = palette[(len(revs)-1-i)%len(palette)]
	}
	return out
}

// maxOperations is how many of a service's newest operations its page shows.
const maxOperations = 5

func serviceOf(ctx context.Context, src Source, snap Snapshot, name string) (servicePage, bool) {
	page := servicePage{ID: rules.ShortName(name), Location: locationOf(name),
		LocationPath: Prefix + locationOf(name) + "/", EventsPath: Prefix + name + "/events"}
	idx := slices.IndexFunc(snap.Services, func(s *runpb.Service) bool { return s.GetName() == name })
	if idx < 0 {
		page.Live = live{Now: snap.Now, Missing: true}
		return page, false
	}
	svc := snap.Services[idx]
	revs := snap.Revisions[name]
	colors := revisionColors(revs)
	lv := live{Now: snap.Now, Reconciling: svc.GetReconciling(), Traffic: trafficOf(svc, snap.LatestReady[svc.GetName()], colors), Faults: snap.Faults}
	for _, u := range append([]string{svc.GetUri()}, svc.GetUrls()...) {
		if !slices.ContainsFunc(lv.URLs, func(l link) bool { return l.URL == u }) {
			lv.URLs = append(lv.URLs, link{URL: u, VisitPath: visitPath(u)})
		}
	}
	for _, r := range revs {
		lv.Revisions = append(lv.Revisions, revisionOf(r, lv.Traffic, colors))
	}
	lv.Operations = operationsOf(snap, name)
	order := make([]string, len(lv.Revisions)) // newest first
	for i, r := range lv.Revisions {
		order[i] = r.Name
	}
	charts, legend, err := chartsOf(ctx, src, svc, snap.Now, colors, order)
	lv.Charts, lv.Legend = charts, legend
	if err != nil {
		lv.MetricsErr = err.Error()
	}
	page.Live = lv
	return page, true
}

// trafficOf reads the traffic that serves now (traffic_statuses); a LATEST
// entry is shown with latest, the newest ready revision it follows.
func trafficOf(svc *runpb.Service, latest string, colors map[string]string) []trafficRow {
	var out []trafficRow
	for _, st := range svc.GetTrafficStatuses() {
		row := trafficRow{Revision: st.GetRevision(), Percent: st.GetPercent(), Tag: st.GetTag(), URI: st.GetUri(), TagPath: visitPath(st.GetUri())}
		if st.GetType() == runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST {
			row.Latest, row.Revision = true, latest
		}
		row.Color = colors[row.Revision]
		out = append(out, row)
	}
	return out
}

func revisionOf(r *runpb.Revision, traffic []trafficRow, colors map[string]string) revisionRow {
	id := rules.ShortName(r.GetName())
	row := revisionRow{Name: id, Color: colors[id], Created: r.GetCreateTime().AsTime()}
	if cs := r.GetContainers(); len(cs) > 0 {
		row.Image = cs[0].GetImage()
	}
	for _, c := range r.GetConditions() {
		if c.GetType() == "Ready" {
			row.Ready = strings.TrimPrefix(c.GetState().String(), "CONDITION_")
			row.Message = c.GetMessage()
		}
	}
	for _, t := range traffic {
		if t.Revision == id {
			row.Percent += t.Percent
			if t.Tag != "" {
				row.Tags = append(row.Tags, t.Tag)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.GetLabels())) {
		row.Labels = append(row.Labels, label{Key: k, Value: r.GetLabels()[k]})
	}
	return row
}

// operationsOf returns the newest operations on the service, newest first.
func operationsOf(snap Snapshot, service string) []operationRow {
	var out []operationRow
	for _, op := range slices.Backward(snap.Operations) {
		var svc runpb.Service
		if op.GetMetadata().UnmarshalTo(&svc) != nil || svc.GetName() != service {
			continue
		}
		row := operationRow{Name: rules.ShortName(op.GetName()), State: "running"}
		if op.GetDone() {
			row.State = "done"
		}
		if e := op.GetError(); e != nil {
			row.State, row.Error = "failed", e.GetMessage()
		}
		if out = append(out, row); len(out) == maxOperations {
			break
		}
	}
	return out
}
