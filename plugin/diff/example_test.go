package diff_test

import (
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/pipecd-cloudrun/cloudrun/plugin/diff"
)

// Compare ignores what Cloud Run fills in by itself and names the fields that really differ.
func ExampleCompare() {
	git := &runpb.Service{
		Name: "projects/p/locations/us-central1/services/web",
		Template: &runpb.RevisionTemplate{Containers: []*runpb.Container{{
			Name:  "app",
			Image: "gcr.io/p/web:v2",
			Env:   []*runpb.EnvVar{{Name: "DEBUG", Values: &runpb.EnvVar_Value{Value: "false"}}},
		}}},
	}
	live := &runpb.Service{
		Name:       "projects/p/locations/us-central1/services/web",
		Uid:        "0b3c", // output only
		Generation: 4,      // output only
		Template: &runpb.RevisionTemplate{
			Revision:                      "web-abc1234-k2v9q8lm", // owned by the plugin
			MaxInstanceRequestConcurrency: 80,                     // a default: git leaves it unset
			Containers: []*runpb.Container{{
				Name:  "app",
				Image: "gcr.io/p/web:v1",
				Env:   []*runpb.EnvVar{{Name: "DEBUG", Values: &runpb.EnvVar_Value{Value: "false"}}},
				Ports: []*runpb.ContainerPort{{Name: "http1", ContainerPort: 8080}}, // a default
			}},
		},
	}
	for _, d := range diff.Compare(git, live).Differences {
		fmt.Println(d.Format("git", "live"))
	}
	// Output:
	// template.containers[app].image: git "gcr.io/p/web:v2", live "gcr.io/p/web:v1"
}
