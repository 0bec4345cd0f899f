package knative

import (
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
)

// project is Cloud Resource Manager v1's Project, as projects.get answers it
// (https://cloud.google.com/resource-manager/reference/rest/v1/projects).
type project struct {
	ProjectNumber  string `json:"projectNumber"`
	ProjectID      string `json:"projectId"`
	LifecycleState string `json:"lifecycleState"`
	Name           string `json:"name"`
}

// getProject answers GET /v1/projects/{id}: every project exists in fakerun, with a 12-digit number
// derived from its ID, so that one ID always has one number.
func getProject(r *http.Request) (any, error) {
	id, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/")
	if !ok || id == "" || strings.Contains(id, "/") || r.Method != http.MethodGet {
		return nil, notFoundPath(r.URL.Path)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	number := 100000000000 + h.Sum64()%900000000000
	return &project{ProjectNumber: strconv.FormatUint(number, 10), ProjectID: id, LifecycleState: "ACTIVE", Name: id}, nil
}
