package manifest

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
)

// The Knative forms of the fields Cloud Run added in 2024-26, as gcloud writes them
// (googlecloudsdk/api_lib/run: service.py, revision.py and k8s_object.py).

// baseImageRuntimeClass is the spec.template.spec.runtimeClassName gcloud sets with
// run.googleapis.com/base-images; v2 says the same with containers[].baseImageUri alone.
const baseImageRuntimeClass = "run.googleapis.com/linux-base-image-update"

// buildAnnotations converts the service annotations of a function built from source into buildConfig; nil
// when none is set:
//
//	run.googleapis.com/build-source-location          → buildConfig.sourceLocation
//	run.googleapis.com/build-function-target          → buildConfig.functionTarget
//	run.googleapis.com/build-image-uri                → buildConfig.imageUri
//	run.googleapis.com/build-base-image               → buildConfig.baseImage
//	run.googleapis.com/build-enable-automatic-updates → buildConfig.enableAutomaticUpdates
//	run.googleapis.com/build-worker-pool              → buildConfig.workerPool
//	run.googleapis.com/build-service-account          → buildConfig.serviceAccount
//	run.googleapis.com/build-environment-variables    → buildConfig.environmentVariables (a JSON object)
//
// run.googleapis.com/build-name and build-id name the last build: Cloud Run sets them (buildConfig.name
// is output only), so they are ignored like the other annotations Cloud Run writes.
func buildAnnotations(a *kannotations) *runpb.BuildConfig {
	b := &runpb.BuildConfig{}
	b.SourceLocation, _ = a.take("run.googleapis.com/build-source-location")
	b.FunctionTarget, _ = a.take("run.googleapis.com/build-function-target")
	b.ImageUri, _ = a.take("run.googleapis.com/build-image-uri")
	b.BaseImage, _ = a.take("run.googleapis.com/build-base-image")
	b.EnableAutomaticUpdates = a.boolean("run.googleapis.com/build-enable-automatic-updates")
	b.WorkerPool, _ = a.take("run.googleapis.com/build-worker-pool")
	b.ServiceAccount, _ = a.take("run.googleapis.com/build-service-account")
	const envKey = "run.googleapis.com/build-environment-variables"
	if v, ok := a.take(envKey); ok {
		if err := json.Unmarshal([]byte(v), &b.EnvironmentVariables); err != nil {
			a.p.invalid(a.pathOf(envKey), v, `a JSON object of strings such as '{"GOOGLE_NODE_RUN_SCRIPTS":""}'`)
		}
	}
	if isZeroBuild(b) {
		return nil
	}
	return b
}

func isZeroBuild(b *runpb.BuildConfig) bool {
	return b.SourceLocation == "" && b.FunctionTarget == "" && b.ImageUri == "" && b.BaseImage == "" &&
		!b.EnableAutomaticUpdates && b.WorkerPool == "" && b.ServiceAccount == "" && len(b.EnvironmentVariables) == 0
}

// multiRegion converts run.googleapis.com/regions, the comma-separated regions of a multi-region service
// (gcloud run multi-region-services), into multiRegionSettings.regions; nil when absent.
func multiRegion(a *kannotations) *runpb.Service_MultiRegionSettings {
	const key = "run.googleapis.com/regions"
	v, ok := a.take(key)
	if !ok {
		return nil
	}
	var regions []string
	for r := range strings.SplitSeq(v, ",") {
		if r = strings.TrimSpace(r); r != "" {
			regions = append(regions, r)
		}
	}
	if len(regions) == 0 {
		a.p.invalid(a.pathOf(key), v, `comma-separated regions such as "us-central1,europe-west1"`)
		return nil
	}
	return &runpb.Service_MultiRegionSettings{Regions: regions}
}

// serviceMesh converts the revision annotation run.googleapis.com/mesh
// (projects/PROJECT/locations/global/meshes/MESH) into template.serviceMesh; nil when absent.
func serviceMesh(a *kannotations) *runpb.ServiceMesh {
	v, ok := a.take("run.googleapis.com/mesh")
	if !ok {
		return nil
	}
	return &runpb.ServiceMesh{Mesh: v}
}

// baseImages applies the revision annotation run.googleapis.com/base-images, a JSON object from a
// container name to the base image it is built on (automatic base image updates), to containers[].baseImageUri.
// gcloud keys an unnamed only container with "".
func (c *knativeConverter) baseImages(a *kannotations, containers []*runpb.Container) {
	const key = "run.googleapis.com/base-images"
	v, ok := a.take(key)
	if !ok {
		return
	}
	var images map[string]string
	if err := json.Unmarshal([]byte(v), &images); err != nil {
		a.p.invalid(a.pathOf(key), v, `a JSON object such as '{"app":"us-central1-docker.pkg.dev/serverless-runtimes/google-22/runtimes/nodejs22"}'`)
		return
	}
	for _, name := range slices.Sorted(maps.Keys(images)) {
		i := slices.IndexFunc(containers, func(ct *runpb.Container) bool { return ct.GetName() == name })
		if i < 0 {
			a.p.add(a.pathOf(key), "names container %q, which spec.template.spec.containers does not have", name)
			continue
		}
		containers[i].BaseImageUri = images[name]
	}
}
