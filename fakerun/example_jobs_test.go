package fakerun_test

import (
	"context"
	"fmt"
	"log"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// A job whose image fails its second task: the run operation fails once the
// execution completes, and the task says why.
func ExampleServer_jobs() {
	ctx := context.Background()
	srv, err := fakerun.NewServer(fakerun.WithBehaviors(fakerun.Behaviors{Images: map[string]fakerun.Behavior{
		"us-docker.pkg.dev/p/r/migrate:v2": {Task: fakerun.TaskBehavior{Duration: time.Minute, ExitCode: 2, FailTasks: []int{1}}},
	}}))
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	srv.SetNow(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) // the clock moves only with Advance

	jobs, err := run.NewJobsClient(ctx, srv.ClientOptions()...)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = jobs.Close() }()
	tasks, err := run.NewTasksClient(ctx, srv.ClientOptions()...)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = tasks.Close() }()

	create, err := jobs.CreateJob(ctx, &runpb.CreateJobRequest{
		Parent: "projects/my-project/locations/us-central1",
		JobId:  "migrate",
		Job: &runpb.Job{Template: &runpb.ExecutionTemplate{TaskCount: 2, Template: &runpb.TaskTemplate{
			Containers: []*runpb.Container{{Image: "us-docker.pkg.dev/p/r/migrate:v2"}},
			Retries:    &runpb.TaskTemplate_MaxRetries{MaxRetries: 0},
		}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	job, err := create.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	runOp, err := jobs.RunJob(ctx, &runpb.RunJobRequest{Name: job.GetName()})
	if err != nil {
		log.Fatal(err)
	}
	exec, err := runOp.Metadata()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("running:", !runOp.Done())

	srv.Advance(time.Minute)
	_, err = runOp.Poll(ctx)
	fmt.Println("done:", runOp.Done(), "failed:", err != nil)
	for task, err := range tasks.ListTasks(ctx, &runpb.ListTasksRequest{Parent: exec.GetName()}).All() {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("task %d: %s %q\n", task.GetIndex(), task.GetConditions()[0].GetState(), task.GetConditions()[0].GetMessage())
	}
	// Output:
	// running: true
	// done: true failed: true
	// task 0: CONDITION_SUCCEEDED ""
	// task 1: CONDITION_FAILED "The container exited with an exit code of 2."
}
