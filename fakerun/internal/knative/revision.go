package knative

import (
	"fmt"
	"maps"
	"strconv"

	"cloud.google.com/go/run/apiv2/runpb"
	runv1 "google.golang.org/api/run/v1"
)

// toV1Revision is the v1 view of a v2 revision: its template's fields, and the Knative labels that tie it
// to its service (serving.knative.dev/service, …/configuration, …/configurationGeneration), which
// `gcloud run revisions list --service` selects on. serving says whether the revision receives traffic
// or a tag, which Cloud Run shows as the serving.knative.dev/route label.
func toV1Revision(rev *runpb.Revision, serving bool) *runv1.Revision {
	n := parseName(rev.GetName())
	n.id = short(rev.GetName())
	svc := parseName(rev.GetService()).id
	labels, ann := splitClientLabels(rev.GetLabels(), rev.GetAnnotations())
	labels[labelLocation] = n.region
	labels[labelService] = svc
	labels[labelConfiguration] = svc
	labels[labelConfigGen] = strconv.FormatInt(rev.GetGeneration(), 10)
	if serving {
		labels[labelRoute] = svc
	}
	setIf(ann, annCreator, rev.GetCreator())
	revisionAnnotations(ann, rev.GetScaling(), rev.GetExecutionEnvironment(), rev.GetContainers(), rev.GetSessionAffinity())
	conds := append(conditions(readyCondition(rev), rev.GetConditions()), activeCondition(serving))
	return &runv1.Revision{
		ApiVersion: servingAPIVersion,
		Kind:       "Revision",
		Metadata: &runv1.ObjectMeta{
			Name:              n.id,
			Namespace:         n.project,
			SelfLink:          fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%s/revisions/%s", n.project, n.id),
			Uid:               rev.GetUid(),
			ResourceVersion:   rev.GetEtag(),
			Generation:        1,
			CreationTimestamp: timestamp(rev.GetCreateTime(), rev.GetCreateTime() != nil),
			Labels:            labels,
			Annotations:       ann,
			OwnerReferences: []*runv1.OwnerReference{{
				ApiVersion: servingAPIVersion, Kind: "Configuration", Name: svc, Controller: true, BlockOwnerDeletion: true,
			}},
		},
		Spec: revisionSpec(rev.GetContainers(), rev.GetTimeout(), rev.GetServiceAccount(), rev.GetMaxInstanceRequestConcurrency()),
		Status: &runv1.RevisionStatus{
			ObservedGeneration: 1,
			Conditions:         conds,
			LogUrl:             rev.GetLogUri(),
			ServiceName:        svc,
		},
	}
}

// readyCondition is the revision's Ready condition: v2 keeps it among the others; v1 lists it first.
func readyCondition(rev *runpb.Revision) *runpb.Condition {
	for _, c := range rev.GetConditions() {
		if c.GetType() == "Ready" {
			return nil // already among the conditions
		}
	}
	st := runpb.Condition_CONDITION_PENDING
	if !rev.GetReconciling() {
		st = runpb.Condition_CONDITION_SUCCEEDED
	}
	return &runpb.Condition{Type: "Ready", State: st}
}

// activeCondition is Knative's Active condition, which `gcloud run revisions list` shows as ACTIVE: true
// for a revision that receives traffic or a tag.
func activeCondition(serving bool) *runv1.GoogleCloudRunV1Condition {
	if serving {
		return &runv1.GoogleCloudRunV1Condition{Type: "Active", Status: "True"}
	}
	return &runv1.GoogleCloudRunV1Condition{Type: "Active", Status: "False", Reason: "NoTraffic", Message: "The target is not receiving traffic.", Severity: "Info"}
}

// routeOf is the v1 Route of a service: its traffic, desired and served.
func routeOf(svc *runv1.Service) *runv1.Route {
	meta := *svc.Metadata
	meta.SelfLink = fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%s/routes/%s", meta.Namespace, meta.Name)
	meta.Labels = maps.Clone(meta.Labels)
	meta.Labels[labelService] = meta.Name
	var conds []*runv1.GoogleCloudRunV1Condition
	for _, c := range svc.Status.Conditions {
		if c.Type == "RoutesReady" {
			r := *c
			r.Type = "Ready"
			conds = append(conds, &r)
		}
	}
	return &runv1.Route{
		ApiVersion: servingAPIVersion, Kind: "Route", Metadata: &meta,
		Spec: &runv1.RouteSpec{Traffic: svc.Spec.Traffic},
		Status: &runv1.RouteStatus{
			ObservedGeneration: svc.Status.ObservedGeneration, Conditions: conds,
			Traffic: svc.Status.Traffic, Url: svc.Status.Url, Address: svc.Status.Address,
		},
	}
}

// configurationOf is the v1 Configuration of a service: its template and latest revisions.
func configurationOf(svc *runv1.Service) *runv1.Configuration {
	meta := *svc.Metadata
	meta.SelfLink = fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%s/configurations/%s", meta.Namespace, meta.Name)
	meta.Labels = maps.Clone(meta.Labels)
	meta.Labels[labelService] = meta.Name
	var conds []*runv1.GoogleCloudRunV1Condition
	for _, c := range svc.Status.Conditions {
		if c.Type == "ConfigurationsReady" {
			r := *c
			r.Type = "Ready"
			conds = append(conds, &r)
		}
	}
	return &runv1.Configuration{
		ApiVersion: servingAPIVersion, Kind: "Configuration", Metadata: &meta,
		Spec: &runv1.ConfigurationSpec{Template: svc.Spec.Template},
		Status: &runv1.ConfigurationStatus{
			ObservedGeneration: svc.Status.ObservedGeneration, Conditions: conds,
			LatestCreatedRevisionName: svc.Status.LatestCreatedRevisionName, LatestReadyRevisionName: svc.Status.LatestReadyRevisionName,
		},
	}
}
