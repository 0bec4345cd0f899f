package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/status"

	"github.com/pipecd-cloudrun/cloudrun/e2e/fidelity"
	. "github.com/pipecd-cloudrun/cloudrun/e2e/framework"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
)

// probe is one request of the fidelity report and the code Cloud Run's documentation gives for it ("" when
// the documentation says nothing: only recorded).
type probe struct {
	behaviour, request, documented string
	do                             func(ctx context.Context) (fields map[string]string, err error)
}

// codeName returns the status code of err as the API spells it ("OK", "NOT_FOUND", ...) and its message.
func codeName(err error) (string, string) {
	st := status.Convert(err)
	return code.Code_name[int32(st.Code())], st.Message()
}

// serviceFields are the fields of a Service that fakerun models: names, URI, revisions, generations,
// conditions and traffic statuses.
func serviceFields(svc *runpb.Service) map[string]string {
	var conds []string
	for _, c := range svc.GetConditions() {
		conds = append(conds, c.GetType()+"="+c.GetState().String())
	}
	slices.Sort(conds)
	var statuses []string
	for _, t := range svc.GetTrafficStatuses() {
		statuses = append(statuses, t.GetType().String()+" "+t.GetRevision()+" "+strconv.Itoa(int(t.GetPercent()))+" "+t.GetTag())
	}
	slices.Sort(statuses)
	return map[string]string{
		"name":                    svc.GetName(),
		"uri":                     svc.GetUri(),
		"urls.count":              strconv.Itoa(len(svc.GetUrls())),
		"generation":              strconv.FormatInt(svc.GetGeneration(), 10),
		"observedGeneration":      strconv.FormatInt(svc.GetObservedGeneration(), 10),
		"latestReadyRevision":     svc.GetLatestReadyRevision(),
		"latestCreatedRevision":   svc.GetLatestCreatedRevision(),
		"terminalCondition":       svc.GetTerminalCondition().GetType() + "=" + svc.GetTerminalCondition().GetState().String(),
		"conditions":              strings.Join(conds, ", "),
		"trafficStatuses":         strings.Join(statuses, "; "),
		"reconciling":             strconv.FormatBool(svc.GetReconciling()),
		"etag.empty":              strconv.FormatBool(svc.GetEtag() == ""),
		"template.revision.empty": strconv.FormatBool(svc.GetTemplate().GetRevision() == ""),
	}
}

func revisionFields(rev *runpb.Revision) map[string]string {
	var conds []string
	for _, c := range rev.GetConditions() {
		conds = append(conds, c.GetType()+"="+c.GetState().String())
	}
	slices.Sort(conds)
	return map[string]string{
		"name":               rev.GetName(),
		"service":            rev.GetService(),
		"generation":         strconv.FormatInt(rev.GetGeneration(), 10),
		"observedGeneration": strconv.FormatInt(rev.GetObservedGeneration(), 10),
		"conditions":         strings.Join(conds, ", "),
		"reconciling":        strconv.FormatBool(rev.GetReconciling()),
		"image":              rev.GetContainers()[0].GetImage(),
	}
}

// fidelityProbes are the requests of the report, on services of e; they run in order.
func fidelityProbes(e *Environment) []probe {
	parent := "projects/" + e.Target.Project() + "/locations/" + e.Target.Region()
	id := e.ID("fid")
	name := e.ServiceName(id)
	create := func(ctx context.Context, id string, svc *runpb.Service) (*runpb.Service, error) {
		op, err := e.ServicesClient.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: id, Service: svc})
		if err != nil {
			return nil, err
		}
		return op.Wait(ctx)
	}
	update := func(ctx context.Context, change func(*runpb.Service)) (map[string]string, error) {
		svc, err := e.ServicesClient.GetService(ctx, &runpb.GetServiceRequest{Name: name})
		if err != nil {
			return nil, err
		}
		change(svc)
		op, err := e.ServicesClient.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
		if err != nil {
			return nil, err
		}
		svc, err = op.Wait(ctx)
		if err != nil {
			return nil, err
		}
		return serviceFields(svc), nil
	}
	latest := func(ctx context.Context) string {
		svc, err := e.ServicesClient.GetService(ctx, &runpb.GetServiceRequest{Name: name})
		if err != nil {
			return ""
		}
		return svc.GetLatestReadyRevision()
	}
	revision := func(t runpb.TrafficTargetAllocationType, rev string, percent int32, tag string) *runpb.TrafficTarget {
		return &runpb.TrafficTarget{Type: t, Revision: rev, Percent: percent, Tag: tag}
	}
	const latestType, revisionType = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
	return []probe{
		{"create a service", "CreateService, no revision name, no traffic", "OK", func(ctx context.Context) (map[string]string, error) {
			svc, err := create(ctx, id, sampleService("one"))
			return serviceFields(svc), err
		}},
		{"read the ready revision", "GetRevision of latestReadyRevision", "OK", func(ctx context.Context) (map[string]string, error) {
			rev, err := e.RevisionsClient.GetRevision(ctx, &runpb.GetRevisionRequest{Name: latest(ctx)})
			return revisionFields(rev), err
		}},
		{"update with a named revision", "UpdateService, template.revision {service}-named", "OK", func(ctx context.Context) (map[string]string, error) {
			return update(ctx, func(s *runpb.Service) {
				s.Template.Revision = id + "-named"
				s.Template.Containers[0].Env[0].Values = &runpb.EnvVar_Value{Value: "two"}
			})
		}},
		{"get a missing service", "GetService of a service that does not exist", "NOT_FOUND", func(ctx context.Context) (map[string]string, error) {
			_, err := e.ServicesClient.GetService(ctx, &runpb.GetServiceRequest{Name: e.ServiceName(e.ID("missing"))})
			return nil, err
		}},
		{"get a missing revision", "GetRevision of a revision that does not exist", "NOT_FOUND", func(ctx context.Context) (map[string]string, error) {
			_, err := e.RevisionsClient.GetRevision(ctx, &runpb.GetRevisionRequest{Name: name + "/revisions/" + id + "-missing"})
			return nil, err
		}},
		{"create an existing service", "CreateService with the ID of an existing service", "ALREADY_EXISTS", func(ctx context.Context) (map[string]string, error) {
			_, err := create(ctx, id, sampleService("one"))
			return nil, err
		}},
		{"create with an invalid service ID", "CreateService, service_id with capitals and underscore", "INVALID_ARGUMENT", func(ctx context.Context) (map[string]string, error) {
			_, err := create(ctx, e.ID("Bad_ID"), sampleService("one"))
			return nil, err
		}},
		{"traffic not summing to 100", "UpdateService, traffic LATEST 90%", "INVALID_ARGUMENT", func(ctx context.Context) (map[string]string, error) {
			return update(ctx, func(s *runpb.Service) { s.Traffic = []*runpb.TrafficTarget{revision(latestType, "", 90, "")} })
		}},
		{"traffic with a duplicate tag", "UpdateService, two targets tagged dup", "INVALID_ARGUMENT", func(ctx context.Context) (map[string]string, error) {
			return update(ctx, func(s *runpb.Service) {
				s.Traffic = []*runpb.TrafficTarget{revision(latestType, "", 100, "dup"), revision(revisionType, id+"-named", 0, "dup")}
			})
		}},
		{"traffic to a missing revision", "UpdateService, 100% to {service}-missing", "", func(ctx context.Context) (map[string]string, error) {
			return update(ctx, func(s *runpb.Service) {
				s.Traffic = []*runpb.TrafficTarget{revision(revisionType, id+"-missing", 100, "")}
			})
		}},
		{"revision name without the service prefix", "UpdateService, template.revision other-abc", "INVALID_ARGUMENT", func(ctx context.Context) (map[string]string, error) {
			return update(ctx, func(s *runpb.Service) { s.Template.Revision = "other-abc" })
		}},
		{"reuse a revision name with another template", "UpdateService, template.revision {service}-named, other env", "ALREADY_EXISTS", func(ctx context.Context) (map[string]string, error) {
			return update(ctx, func(s *runpb.Service) {
				s.Template.Revision = id + "-named"
				s.Template.Containers[0].Env[0].Values = &runpb.EnvVar_Value{Value: "three"}
			})
		}},
		{"update with a stale etag", "UpdateService, service.etag from an older generation", "ABORTED", func(ctx context.Context) (map[string]string, error) {
			return update(ctx, func(s *runpb.Service) {
				s.Etag = `"stale-etag"`
				s.Template.Revision = ""
				s.Template.Containers[0].Env[0].Values = &runpb.EnvVar_Value{Value: "four"}
			})
		}},
		{"create a service with a missing image", "CreateService, image {sample}-missing (waits for the operation)", "", func(ctx context.Context) (map[string]string, error) {
			svc := sampleService("one")
			svc.Template.Containers[0].Image = sampleImage + "-missing"
			_, err := create(ctx, e.ID("noimage"), svc)
			return nil, err
		}},
		{"read a service whose image is missing", "GetService after the failed creation", "", func(ctx context.Context) (map[string]string, error) {
			svc, err := e.ServicesClient.GetService(ctx, &runpb.GetServiceRequest{Name: e.ServiceName(e.ID("noimage"))})
			return serviceFields(svc), err
		}},
		{"delete the serving revision", "DeleteRevision of the revision serving 100%", "FAILED_PRECONDITION", func(ctx context.Context) (map[string]string, error) {
			op, err := e.RevisionsClient.DeleteRevision(ctx, &runpb.DeleteRevisionRequest{Name: latest(ctx)})
			if err != nil {
				return nil, err
			}
			_, err = op.Wait(ctx)
			return nil, err
		}},
	}
}

var _ = Describe("Fidelity report [fidelity]", Label("fidelity"), func() {
	It("records what the target answers for each behaviour fakerun models, and fakerun answers the documented codes", func(ctx SpecContext) {
		e := newTargetEnv()
		placeholders := map[string]string{
			"project": e.Target.Project(), "region": e.Target.Region(), "service": e.ID("fid"), "prefix": e.Prefix(), "sample": sampleImage,
		}
		By("sending the report's requests to the " + e.Target.Kind() + " target")
		report := fidelity.Report{Target: e.Target.Kind()}
		probes := fidelityProbes(e)
		for _, p := range probes {
			fields, err := p.do(ctx)
			c, msg := codeName(err)
			if err != nil {
				fields = nil
			}
			for k, v := range fields {
				fields[k] = fidelity.Shape(v, placeholders)
			}
			report.Observations = append(report.Observations, fidelity.Observation{
				Behaviour: p.behaviour, Request: p.request, Code: c, Message: fidelity.Shape(msg, placeholders), Fields: fields,
			})
		}
		By("writing the report to the artifacts folder")
		dir := artifactsDir()
		Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
		path := filepath.Join(dir, "fidelity-"+e.Target.Kind()+".json")
		Expect(fidelity.Write(path, report)).To(Succeed())
		AddReportEntry("fidelity report", path)

		By("checking the service was created, and on fakerun that every documented code is answered")
		created := report.Observations[0]
		Expect(created.Code).To(Equal("OK"), created.Message)
		Expect(created.Fields).To(HaveKeyWithValue("name", "projects/{project}/locations/{region}/services/{service}"))
		Expect(created.Fields).To(HaveKeyWithValue("terminalCondition", "Ready=CONDITION_SUCCEEDED"))
		if e.Target.Kind() != target.KindFakerun {
			return // real Cloud Run: the report is the result; compare it with cmd/fidelity.
		}
		for i, o := range report.Observations {
			if p := probes[i]; p.documented != "" {
				Expect(o.Code).To(Equal(p.documented), "%s (%s): %s", o.Behaviour, o.Request, o.Message)
			}
		}
	})
})
