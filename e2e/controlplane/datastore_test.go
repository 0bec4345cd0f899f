package controlplane

import (
	"testing"

	"github.com/pipe-cd/pipecd/pkg/datastore"
	"github.com/pipe-cd/pipecd/pkg/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemDatastoreFindFiltersAndOrders(t *testing.T) {
	t.Parallel()
	ds := newMemDatastore()
	store := datastore.NewDeploymentStore(ds)
	for i, st := range []model.DeploymentStatus{model.DeploymentStatus_DEPLOYMENT_RUNNING, model.DeploymentStatus_DEPLOYMENT_SUCCESS, model.DeploymentStatus_DEPLOYMENT_PLANNED} {
		require.NoError(t, store.Add(t.Context(), &model.Deployment{
			Id: string(rune('a' + i)), ApplicationId: "app", ApplicationName: "app", PipedId: "p", ProjectId: "pr",
			GitPath: &model.ApplicationGitPath{Repo: &model.ApplicationGitRepository{Id: "r"}, Path: "app"},
			Trigger: &model.DeploymentTrigger{Commit: &model.Commit{Hash: "h", Message: "m", Author: "a", Branch: "main", CreatedAt: 1}, Timestamp: 1},
			Status:  st, CreatedAt: int64(10 - i),
		}))
	}
	got, _, err := store.List(t.Context(), datastore.ListOptions{
		Filters: []datastore.ListFilter{
			{Field: "PipedId", Operator: datastore.OperatorEqual, Value: "p"},
			{Field: "Status", Operator: datastore.OperatorIn, Value: model.GetNotCompletedDeploymentStatuses()},
		},
		Orders: []datastore.Order{{Field: "CreatedAt", Direction: datastore.Asc}},
	})
	require.NoError(t, err)
	ids := make([]string, 0, len(got))
	for _, d := range got {
		ids = append(ids, d.Id)
	}
	assert.Equal(t, []string{"c", "a"}, ids)

	_, _, err = store.List(t.Context(), datastore.ListOptions{Filters: []datastore.ListFilter{{Field: "NoSuchField", Operator: datastore.OperatorEqual, Value: 1}}})
	assert.ErrorIs(t, err, datastore.ErrInvalidArgument)
}

func TestMemDatastoreCopiesEntities(t *testing.T) {
	t.Parallel()
	ds := newMemDatastore()
	store := datastore.NewPipedStore(ds)
	p := &model.Piped{Id: "p", Name: "n", ProjectId: "pr"}
	require.NoError(t, store.Add(t.Context(), p))
	p.Name = "changed by the caller"
	got, err := store.Get(t.Context(), "p")
	require.NoError(t, err)
	assert.Equal(t, "n", got.Name)
	assert.ErrorIs(t, store.Add(t.Context(), &model.Piped{Id: "p", Name: "n", ProjectId: "pr"}), datastore.ErrAlreadyExists)
}
