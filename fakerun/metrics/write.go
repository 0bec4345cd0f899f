package metrics

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/genproto/googleapis/api/label"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Limits of CreateTimeSeries, as Cloud Monitoring documents them
// (https://cloud.google.com/monitoring/quotas, and the TimeInterval message).
const (
	maxSeriesPerWrite = 200
	maxPointAge       = 25 * time.Hour
	maxPointAhead     = 5 * time.Minute
	samplingPeriod    = 5 * time.Second // one point each 5 s per time series
)

// userDefinedPrefixes are the metric types CreateTimeSeries accepts.
var userDefinedPrefixes = []string{"custom.googleapis.com/", "workload.googleapis.com/"}

// resourceLabelKeys are the monitored resource types fakerun accepts in writes, with their labels.
var resourceLabelKeys = map[string][]string{
	"global":        {"project_id"},
	"generic_node":  {"location", "namespace", "node_id", "project_id"},
	"generic_task":  {"job", "location", "namespace", "project_id", "task_id"},
	ResourceType:    {"configuration_name", "location", "project_id", "revision_name", "service_name"},
	"k8s_container": {"cluster_name", "container_name", "location", "namespace_name", "pod_name", "project_id"},
	"gce_instance":  {"instance_id", "project_id", "zone"},
	"cloud_run_job": {"job_name", "location", "project_id"},
}

var labelKey = regexp.MustCompile(`^[a-z][a-z0-9_]{0,99}$`)

// descriptorKey names a user-defined metric descriptor in a project.
type descriptorKey struct{ project, metricType string }

func isUserDefined(metricType string) bool {
	return slices.ContainsFunc(userDefinedPrefixes, func(p string) bool {
		return strings.HasPrefix(metricType, p) && len(metricType) > len(p)
	})
}

// descriptorIn returns the descriptor of metricType in project: a Cloud Run
// metric, or a user-defined one created by a write; nil if there is none.
func (st *Store) descriptorIn(project, metricType string) *metric.MetricDescriptor {
	if d := descriptor(metricType); d != nil {
		return d
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.written[descriptorKey{project, metricType}]
}

// descriptorsIn lists the Cloud Run metrics and the project's user-defined ones, by type.
func (st *Store) descriptorsIn(project string) []*metric.MetricDescriptor {
	out := slices.Clone(descriptors)
	st.mu.RLock()
	for k, d := range st.written {
		if k.project == project {
			out = append(out, d)
		}
	}
	st.mu.RUnlock()
	slices.SortFunc(out, func(a, b *metric.MetricDescriptor) int { return strings.Compare(a.GetType(), b.GetType()) })
	return out
}

// write is one checked time series of a CreateTimeSeries request.
type write struct {
	key            seriesKey
	resourceType   string
	resourceLabels map[string]string
	metricLabels   map[string]string
	desc           *metric.MetricDescriptor
	point          qpoint
}

// CreateTimeSeries writes one point to each of up to 200 time series of
// user-defined metrics, creating their metric descriptors on first write.
// Every series is checked before any is written: a bad one fails the call.
func (s *Service) CreateTimeSeries(_ context.Context, req *monitoringpb.CreateTimeSeriesRequest) (*emptypb.Empty, error) {
	project, err := parseProject(req.GetName())
	if err != nil {
		return nil, err
	}
	switch n := len(req.GetTimeSeries()); {
	case n == 0:
		return nil, invalidArgument("time_series", fmt.Errorf("required: at least one time series"))
	case n > maxSeriesPerWrite:
		return nil, invalidArgument("time_series", fmt.Errorf("at most %d time series per request, got %d", maxSeriesPerWrite, n))
	}
	st := s.store
	now := st.now()
	writes := make([]write, len(req.GetTimeSeries()))
	for i, ts := range req.GetTimeSeries() {
		w, field, err := checkWrite(project, ts, now)
		if err != nil {
			return nil, invalidArgument(fmt.Sprintf("time_series[%d].%s", i, field), err)
		}
		for j := range i {
			if writes[j].key == w.key {
				return nil, invalidArgument(fmt.Sprintf("time_series[%d]", i), fmt.Errorf("duplicate of time_series[%d]: one point per time series per request", j))
			}
			if o := writes[j].desc; o.GetType() == w.desc.GetType() && (o.GetMetricKind() != w.desc.GetMetricKind() || o.GetValueType() != w.desc.GetValueType()) {
				return nil, invalidArgument(fmt.Sprintf("time_series[%d]", i), fmt.Errorf("%s %s does not match time_series[%d]'s %s %s for the same metric",
					w.desc.GetMetricKind(), w.desc.GetValueType(), j, o.GetMetricKind(), o.GetValueType()))
			}
		}
		writes[i] = w
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for i := range writes {
		if field, err := st.checkWriteLocked(&writes[i]); err != nil {
			return nil, invalidArgument(fmt.Sprintf("time_series[%d].%s", i, field), err)
		}
	}
	cutoff := now.Add(-st.retention).Unix()
	for _, w := range writes {
		k := descriptorKey{project, w.key.metric}
		st.written[k] = withLabelsOf(st.written[k], w.desc)
		sr := st.series[w.key]
		if sr == nil {
			sr = &series{key: w.key, resourceType: w.resourceType, resourceLabels: w.resourceLabels, metricLabels: w.metricLabels}
			st.addSeriesLocked(sr)
		}
		sr.points = append(sr.points, w.point)
	}
	st.sweepLocked(cutoff)
	return &emptypb.Empty{}, nil
}

// checkWrite checks one time series on its own; the error names the field at fault.
func checkWrite(project string, ts *monitoringpb.TimeSeries, now time.Time) (write, string, error) {
	var w write
	typ := ts.GetMetric().GetType()
	if !isUserDefined(typ) {
		return w, "metric.type", fmt.Errorf("%q is not a user-defined metric type; fakerun accepts writes to types starting with %s", typ, strings.Join(userDefinedPrefixes, " or "))
	}
	for k := range ts.GetMetric().GetLabels() {
		if !labelKey.MatchString(k) {
			return w, "metric.labels", fmt.Errorf("label key %q must start with a lowercase letter and hold only lowercase letters, digits and underscores (at most 100)", k)
		}
	}
	res := ts.GetResource()
	keys, ok := resourceLabelKeys[res.GetType()]
	if !ok {
		return w, "resource.type", fmt.Errorf("required: a monitored resource type fakerun knows (%s), got %q", strings.Join(resourceTypes(), ", "), res.GetType())
	}
	if got := slices.Sorted(maps.Keys(res.GetLabels())); !slices.Equal(got, keys) {
		return w, "resource.labels", fmt.Errorf("resource type %s takes exactly the labels %s, got %s", res.GetType(), strings.Join(keys, ", "), strings.Join(got, ", "))
	}
	if len(ts.GetPoints()) != 1 {
		return w, "points", fmt.Errorf("exactly one point per time series per request, got %d", len(ts.GetPoints()))
	}
	p := ts.GetPoints()[0]
	valueType, point, err := pointValue(p.GetValue())
	if err != nil {
		return w, "points[0].value", err
	}
	if vt := ts.GetValueType(); vt != metric.MetricDescriptor_VALUE_TYPE_UNSPECIFIED && vt != valueType {
		return w, "value_type", fmt.Errorf("%s does not match the point's %s value", vt, valueType)
	}
	kind := ts.GetMetricKind()
	switch kind {
	case metric.MetricDescriptor_METRIC_KIND_UNSPECIFIED:
		kind = metric.MetricDescriptor_GAUGE
	case metric.MetricDescriptor_GAUGE, metric.MetricDescriptor_DELTA, metric.MetricDescriptor_CUMULATIVE:
	default:
		return w, "metric_kind", fmt.Errorf("must be GAUGE, DELTA or CUMULATIVE, got %s", kind)
	}
	if point.start, point.end, err = pointInterval(p.GetInterval(), kind, now); err != nil {
		return w, "points[0].interval", err
	}
	rendered := res.GetType() + "\x00" + renderLabels(res.GetLabels()) + "\x00" + renderLabels(ts.GetMetric().GetLabels())
	labels := make([]*label.LabelDescriptor, 0, len(ts.GetMetric().GetLabels()))
	for _, k := range slices.Sorted(maps.Keys(ts.GetMetric().GetLabels())) {
		labels = append(labels, &label.LabelDescriptor{Key: k, ValueType: label.LabelDescriptor_STRING})
	}
	w = write{
		key:          seriesKey{metric: typ, resource: Resource{ProjectID: project}, written: rendered},
		resourceType: res.GetType(), resourceLabels: maps.Clone(res.GetLabels()), metricLabels: maps.Clone(ts.GetMetric().GetLabels()),
		desc: &metric.MetricDescriptor{
			Name: "projects/" + project + "/metricDescriptors/" + typ, Type: typ, Labels: labels, MetricKind: kind, ValueType: valueType,
			Unit: ts.GetUnit(), Description: "Auto-created custom metric.", MonitoredResourceTypes: []string{res.GetType()}, LaunchStage: api.LaunchStage_GA,
		},
		point: point,
	}
	if w.metricLabels == nil {
		w.metricLabels = map[string]string{}
	}
	return w, "", nil
}

// checkWriteLocked checks w against its metric's descriptor and series.
// Must be called with st.mu held.
func (st *Store) checkWriteLocked(w *write) (string, error) {
	if d := st.written[descriptorKey{w.key.resource.ProjectID, w.key.metric}]; d != nil {
		if d.GetMetricKind() != w.desc.GetMetricKind() {
			return "metric_kind", fmt.Errorf("%s does not match the metric descriptor's %s", w.desc.GetMetricKind(), d.GetMetricKind())
		}
		if d.GetValueType() != w.desc.GetValueType() {
			return "value_type", fmt.Errorf("%s does not match the metric descriptor's %s", w.desc.GetValueType(), d.GetValueType())
		}
	}
	sr := st.series[w.key]
	if sr == nil || len(sr.points) == 0 {
		return "", nil
	}
	last, p := sr.points[len(sr.points)-1], w.point
	switch {
	case p.end <= last.end:
		return "points[0].interval.end_time", fmt.Errorf("points must be written in order: %s is not after the series' latest point, %s", timeOf(p.end).Format(time.RFC3339Nano), timeOf(last.end).Format(time.RFC3339Nano))
	case p.end-last.end < int64(samplingPeriod):
		return "points[0].interval.end_time", fmt.Errorf("written more frequently than the maximum sampling period: at most one point each %s per time series", samplingPeriod)
	case w.desc.GetMetricKind() == metric.MetricDescriptor_DELTA && p.start <= last.end:
		return "points[0].interval.start_time", fmt.Errorf("a DELTA point's interval must start after the end of the series' latest point, %s", timeOf(last.end).Format(time.RFC3339Nano))
	case w.desc.GetMetricKind() == metric.MetricDescriptor_CUMULATIVE && p.start != last.start && p.start <= last.end:
		return "points[0].interval.start_time", fmt.Errorf("a CUMULATIVE point keeps the start time of the series' latest point, %s, or starts after its end (a reset)", timeOf(last.start).Format(time.RFC3339Nano))
	}
	return "", nil
}

// withLabelsOf returns the descriptor of a metric written first as old (nil if never) and now as
// written: old with the labels and resource type of written added.
func withLabelsOf(old, written *metric.MetricDescriptor) *metric.MetricDescriptor {
	if old == nil {
		return written
	}
	merged := proto.Clone(old).(*metric.MetricDescriptor)
	for _, l := range written.GetLabels() {
		if !slices.ContainsFunc(merged.Labels, func(m *label.LabelDescriptor) bool { return m.GetKey() == l.GetKey() }) {
			merged.Labels = append(merged.Labels, l)
		}
	}
	for _, t := range written.GetMonitoredResourceTypes() {
		if !slices.Contains(merged.MonitoredResourceTypes, t) {
			merged.MonitoredResourceTypes = append(merged.MonitoredResourceTypes, t)
		}
	}
	return merged
}

// pointValue reads an INT64 or DOUBLE value.
func pointValue(v *monitoringpb.TypedValue) (metric.MetricDescriptor_ValueType, qpoint, error) {
	switch v := v.GetValue().(type) {
	case *monitoringpb.TypedValue_Int64Value:
		return metric.MetricDescriptor_INT64, qpoint{i: v.Int64Value}, nil
	case *monitoringpb.TypedValue_DoubleValue:
		return metric.MetricDescriptor_DOUBLE, qpoint{f: v.DoubleValue}, nil
	case nil:
		return 0, qpoint{}, fmt.Errorf("required: an int64_value or double_value")
	}
	return 0, qpoint{}, fmt.Errorf("fakerun stores only int64_value and double_value points, got %T", v.GetValue())
}

// pointInterval checks a written point's interval for its metric kind and returns it in unix nanoseconds.
func pointInterval(ti *monitoringpb.TimeInterval, kind metric.MetricDescriptor_MetricKind, now time.Time) (start, end int64, err error) {
	if ti.GetEndTime() == nil {
		return 0, 0, fmt.Errorf("end_time is required")
	}
	if err := ti.GetEndTime().CheckValid(); err != nil {
		return 0, 0, fmt.Errorf("end_time: %w", err)
	}
	endTime := ti.GetEndTime().AsTime()
	switch {
	case endTime.Before(now.Add(-maxPointAge)):
		return 0, 0, fmt.Errorf("end_time %s is more than 25 hours in the past", endTime.Format(time.RFC3339Nano))
	case endTime.After(now.Add(maxPointAhead)):
		return 0, 0, fmt.Errorf("end_time %s is more than 5 minutes in the future", endTime.Format(time.RFC3339Nano))
	}
	end, start = endTime.UnixNano(), endTime.UnixNano()
	if ti.GetStartTime() != nil {
		if err := ti.GetStartTime().CheckValid(); err != nil {
			return 0, 0, fmt.Errorf("start_time: %w", err)
		}
		start = ti.GetStartTime().AsTime().UnixNano()
	}
	switch {
	case kind == metric.MetricDescriptor_GAUGE && start != end:
		return 0, 0, fmt.Errorf("a GAUGE point's start_time must be left out or equal end_time")
	case kind != metric.MetricDescriptor_GAUGE && start >= end:
		return 0, 0, fmt.Errorf("a %s point needs a start_time before end_time", kind)
	}
	return start, end, nil
}

func resourceTypes() []string {
	return slices.Sorted(maps.Keys(resourceLabelKeys))
}

// renderLabels renders labels as sorted key=value pairs.
func renderLabels(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b.WriteString(k + "=" + m[k] + "\x00")
	}
	return b.String()
}
