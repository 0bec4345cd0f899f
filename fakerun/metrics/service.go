package metrics

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/api"
	"google.golang.org/genproto/googleapis/api/label"
	"google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// maxPageSize is ListTimeSeries' default and largest page size.
const maxPageSize = 100000

// descriptors are the metric types a Store records, as Cloud Monitoring
// describes them (https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run).
var descriptors = []*metric.MetricDescriptor{
	{
		Type: RequestCount, DisplayName: "Request Count", Description: "Number of requests reaching the revision.",
		MetricKind: metric.MetricDescriptor_DELTA, ValueType: metric.MetricDescriptor_INT64, Unit: "1",
		Labels: []*label.LabelDescriptor{
			{Key: "response_code", Description: "Response code of a request."},
			{Key: "response_code_class", Description: "Response code class of a request."},
		},
		MonitoredResourceTypes: []string{ResourceType}, LaunchStage: api.LaunchStage_GA,
	},
	{
		Type: RequestLatencies, DisplayName: "Request Latencies", Description: "Distribution of request latency in milliseconds reaching the revision.",
		MetricKind: metric.MetricDescriptor_DELTA, ValueType: metric.MetricDescriptor_DISTRIBUTION, Unit: "ms",
		Labels: []*label.LabelDescriptor{
			{Key: "response_code_class", Description: "Response code class of a request."},
		},
		MonitoredResourceTypes: []string{ResourceType}, LaunchStage: api.LaunchStage_GA,
	},
}

func descriptor(metricType string) *metric.MetricDescriptor {
	for _, d := range descriptors {
		if d.GetType() == metricType {
			return d
		}
	}
	return nil
}

func knownTypes() string {
	types := make([]string, len(descriptors))
	for i, d := range descriptors {
		types[i] = d.GetType()
	}
	return strings.Join(types, ", ")
}

// Service serves google.monitoring.v3.MetricService from a Store. Only
// ListTimeSeries, CreateTimeSeries, GetMetricDescriptor and
// ListMetricDescriptors are implemented; the other RPCs return UNIMPLEMENTED.
type Service struct {
	monitoringpb.UnimplementedMetricServiceServer
	store *Store
}

// NewService returns a MetricService reading st.
func NewService(st *Store) *Service { return &Service{store: st} }

// invalidArgument is an INVALID_ARGUMENT status with a BadRequest field violation.
func invalidArgument(field string, err error) error {
	st := status.New(codes.InvalidArgument, fmt.Sprintf("Field %s had an invalid value: %v", field, err))
	if detailed, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: field, Description: err.Error()},
	}}); derr == nil {
		return detailed.Err()
	}
	return st.Err()
}

// parseProject reads "projects/{id}".
func parseProject(name string) (string, error) {
	id, ok := strings.CutPrefix(name, "projects/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", invalidArgument("name", fmt.Errorf("want projects/PROJECT_ID, got %q (organizations and folders are not modelled)", name))
	}
	return id, nil
}

// ListTimeSeries answers with the series of one metric type that match the
// filter and have points in the interval, newest point first.
func (s *Service) ListTimeSeries(_ context.Context, req *monitoringpb.ListTimeSeriesRequest) (*monitoringpb.ListTimeSeriesResponse, error) {
	project, err := parseProject(req.GetName())
	if err != nil {
		return nil, err
	}
	f, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, invalidArgument("filter", err)
	}
	if f.metricType == "" {
		return nil, invalidArgument("filter", fmt.Errorf("the filter must restrict metric.type to a single type with metric.type = \"…\" (joined to the rest by AND), got %q", req.GetFilter()))
	}
	start, end, err := interval(req.GetInterval())
	if err != nil {
		return nil, err
	}
	desc := s.store.descriptorIn(project, f.metricType)
	if desc == nil && isUserDefined(f.metricType) {
		return &monitoringpb.ListTimeSeriesResponse{}, nil // no point written yet
	}
	if desc == nil {
		return nil, invalidArgument("filter", fmt.Errorf("fakerun records the metric types %s and user-defined ones written with CreateTimeSeries, not %q", knownTypes(), f.metricType))
	}
	agg, field, err := checkAggregation(req.GetAggregation(), desc.GetMetricKind(), desc.GetValueType())
	if err != nil {
		return nil, invalidArgument(field, err)
	}
	switch {
	case req.GetSecondaryAggregation() != nil:
		return nil, invalidArgument("secondary_aggregation", fmt.Errorf("not supported by fakerun; leave it empty"))
	case req.GetOrderBy() != "":
		return nil, invalidArgument("order_by", fmt.Errorf("unsupported: must be left blank (points come newest first)"))
	case req.GetView() != monitoringpb.ListTimeSeriesRequest_FULL && req.GetView() != monitoringpb.ListTimeSeriesRequest_HEADERS:
		return nil, invalidArgument("view", fmt.Errorf("unknown view %d; allowed: FULL, HEADERS", req.GetView()))
	case req.GetPageSize() < 0:
		return nil, invalidArgument("page_size", fmt.Errorf("must not be negative, got %d", req.GetPageSize()))
	}

	series := s.query(project, f, desc, agg, start, end)
	return page(series, req)
}

// interval reads (start, end] in unix nanoseconds; a missing start_time means end_time.
func interval(ti *monitoringpb.TimeInterval) (start, end int64, err error) {
	if ti.GetEndTime() == nil {
		return 0, 0, invalidArgument("interval.end_time", fmt.Errorf("required"))
	}
	if err := ti.GetEndTime().CheckValid(); err != nil {
		return 0, 0, invalidArgument("interval.end_time", err)
	}
	end = ti.GetEndTime().AsTime().UnixNano()
	start = end
	if ti.GetStartTime() != nil {
		if err := ti.GetStartTime().CheckValid(); err != nil {
			return 0, 0, invalidArgument("interval.start_time", err)
		}
		start = ti.GetStartTime().AsTime().UnixNano()
	}
	if start > end {
		return 0, 0, invalidArgument("interval.start_time", fmt.Errorf("must not be later than end_time"))
	}
	if start == end {
		start = end - 1 // the points that end exactly at end_time
	}
	return start, end, nil
}

// query reads, aligns and reduces the matching series; it drops series
// without points and sorts the rest by their labels.
func (s *Service) query(project string, f *filter, desc *metric.MetricDescriptor, agg aggregation, start, end int64) []*qseries {
	st := s.store
	now := st.now() // before locking: the clock has its own lock
	cutoff := now.Add(-st.retention).UnixNano()
	if delay := st.IngestionDelay(); delay > 0 {
		end = min(end, now.Add(-delay).UnixNano()) // points that have not arrived yet
	}
	st.mu.RLock()
	var aligned []*qseries
	for _, sr := range st.candidatesLocked(f.serviceName) {
		if sr.key.metric != desc.GetType() || sr.key.resource.ProjectID != project || !f.root.match(sr.fields) {
			continue
		}
		if q := agg.align(sr, max(start, cutoff), end, desc); len(q.points) > 0 {
			aligned = append(aligned, q)
		}
	}
	st.mu.RUnlock()
	out := agg.reduce(aligned)
	slices.SortFunc(out, func(a, b *qseries) int {
		return cmp.Or(compareLabels(a.resourceLabels, b.resourceLabels), compareLabels(a.metricLabels, b.metricLabels))
	})
	return out
}

// compareLabels orders label sets by their sorted key=value pairs.
func compareLabels(a, b map[string]string) int {
	flat := func(m map[string]string) []string {
		out := make([]string, 0, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			out = append(out, k+"="+m[k])
		}
		return out
	}
	return slices.Compare(flat(a), flat(b))
}

// page cuts the answer into pages: page_size counts points with view FULL
// (a series may continue on the next page) and series with HEADERS. The
// token is an offset.
func page(series []*qseries, req *monitoringpb.ListTimeSeriesRequest) (*monitoringpb.ListTimeSeriesResponse, error) {
	size := int(req.GetPageSize())
	if size == 0 || size > maxPageSize {
		size = maxPageSize
	}
	headers := req.GetView() == monitoringpb.ListTimeSeriesRequest_HEADERS
	total := len(series)
	if !headers {
		total = 0
		for _, q := range series {
			total += len(q.points)
		}
	}
	offset := 0
	if tok := req.GetPageToken(); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > total {
			return nil, invalidArgument("page_token", fmt.Errorf("invalid page token %q; pass the next_page_token of a previous response", tok))
		}
		offset = n
	}
	resp := &monitoringpb.ListTimeSeriesResponse{Unit: ""}
	taken := 0
	if headers {
		for _, q := range series[offset:min(offset+size, total)] {
			resp.TimeSeries = append(resp.TimeSeries, q.proto(nil))
		}
		taken = min(size, total-offset)
	} else {
		skip := offset
		for _, q := range series {
			if taken == size {
				break
			}
			n := len(q.points)
			if skip >= n {
				skip -= n
				continue
			}
			// Points are oldest first; the page takes them newest first.
			newest := n - skip
			oldest := max(newest-(size-taken), 0)
			resp.TimeSeries = append(resp.TimeSeries, q.proto(q.points[oldest:newest]))
			taken += newest - oldest
			skip = 0
		}
	}
	if offset+taken < total {
		resp.NextPageToken = strconv.Itoa(offset + taken)
	}
	if len(series) > 0 {
		resp.Unit = series[0].unit
	}
	return resp, nil
}

// proto renders q with the given points (oldest first), newest first.
func (q *qseries) proto(points []qpoint) *monitoringpb.TimeSeries {
	ts := &monitoringpb.TimeSeries{
		Metric:     &metric.Metric{Type: q.metricType, Labels: q.metricLabels},
		Resource:   &monitoredres.MonitoredResource{Type: q.resourceType, Labels: q.resourceLabels},
		MetricKind: q.kind,
		ValueType:  q.valueType,
		Unit:       q.unit,
	}
	for i := len(points) - 1; i >= 0; i-- {
		p := points[i]
		pt := &monitoringpb.Point{Interval: &monitoringpb.TimeInterval{
			StartTime: timestamppb.New(timeOf(p.start)), EndTime: timestamppb.New(timeOf(p.end)),
		}}
		switch q.valueType {
		case metric.MetricDescriptor_INT64:
			pt.Value = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: p.i}}
		case metric.MetricDescriptor_DOUBLE:
			pt.Value = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: p.f}}
		default:
			pt.Value = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DistributionValue{DistributionValue: p.d.proto()}}
		}
		ts.Points = append(ts.Points, pt)
	}
	return ts
}

// GetMetricDescriptor returns a Cloud Run metric type or a user-defined one written in the project.
func (s *Service) GetMetricDescriptor(_ context.Context, req *monitoringpb.GetMetricDescriptorRequest) (*metric.MetricDescriptor, error) {
	project, typ, ok := strings.Cut(strings.TrimPrefix(req.GetName(), "projects/"), "/metricDescriptors/")
	if !ok || !strings.HasPrefix(req.GetName(), "projects/") || project == "" {
		return nil, invalidArgument("name", fmt.Errorf("want projects/PROJECT_ID/metricDescriptors/METRIC_TYPE, got %q", req.GetName()))
	}
	d := s.store.descriptorIn(project, typ)
	if d == nil {
		return nil, status.Errorf(codes.NotFound, "Could not find descriptor for metric '%s'; fakerun describes %s and the user-defined metrics written in the project.", typ, knownTypes())
	}
	return withName(d, project), nil
}

// withName returns a copy of d named in project.
func withName(d *metric.MetricDescriptor, project string) *metric.MetricDescriptor {
	out := proto.Clone(d).(*metric.MetricDescriptor)
	out.Name = "projects/" + project + "/metricDescriptors/" + d.GetType()
	return out
}

// ListMetricDescriptors lists the recorded and written metric types that match the
// filter (metric.type and resource.type selectors).
func (s *Service) ListMetricDescriptors(_ context.Context, req *monitoringpb.ListMetricDescriptorsRequest) (*monitoringpb.ListMetricDescriptorsResponse, error) {
	project, err := parseProject(req.GetName())
	if err != nil {
		return nil, err
	}
	match := func(fieldFunc) bool { return true }
	if req.GetFilter() != "" {
		f, err := parseFilter(req.GetFilter())
		if err != nil {
			return nil, invalidArgument("filter", err)
		}
		match = f.root.match
	}
	var out []*metric.MetricDescriptor
	for _, d := range s.store.descriptorsIn(project) {
		if match(func(sel string) (string, bool) {
			return selectorValue(d.GetType(), d.GetMonitoredResourceTypes()[0], nil, nil, sel)
		}) {
			out = append(out, withName(d, project))
		}
	}
	offset := 0
	if tok := req.GetPageToken(); tok != "" {
		if offset, err = strconv.Atoi(tok); err != nil || offset < 0 || offset > len(out) {
			return nil, invalidArgument("page_token", fmt.Errorf("invalid page token %q", tok))
		}
	}
	size := int(req.GetPageSize())
	if size <= 0 {
		size = len(out)
	}
	resp := &monitoringpb.ListMetricDescriptorsResponse{MetricDescriptors: out[offset:min(offset+size, len(out))]}
	if offset+size < len(out) {
		resp.NextPageToken = strconv.Itoa(offset + size)
	}
	return resp, nil
}
