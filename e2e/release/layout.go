package release

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pipe-cd/pipecd/pkg/oci"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
)

// WritePluginLayout writes the plugin's OCI artifact for the binaries in files (one per platform) as an OCI image
// layout in dir, its index tagged version. The artifact is what `pipectl plugin push` pushes (pipecd's
// oci.PushFilesToRegistry): an image index with one entry per platform, each an OCI 1.1 artifact manifest of type
// oci.ArtifactTypePipedPlugin packed by oras with one layer of type oci.MediaTypePipedPlugin titled with the
// file's name. Unlike pipectl, the manifests' creation time is created, not now, and the platforms come in a fixed
// order, so that one commit gives the same bytes.
func WritePluginLayout(ctx context.Context, dir, version string, created time.Time, files map[Platform]string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("creating the OCI layout %s: %w", dir, err)
	}
	store := layoutPusher{lp}
	platforms := slices.SortedFunc(maps.Keys(files), func(a, b Platform) int {
		return cmp.Or(cmp.Compare(a.OS, b.OS), cmp.Compare(a.Arch, b.Arch))
	})
	manifests := make([]ocispec.Descriptor, 0, len(platforms))
	for _, p := range platforms {
		data, err := os.ReadFile(files[p])
		if err != nil {
			return err
		}
		layer := content.NewDescriptorFromBytes(oci.MediaTypePipedPlugin, data)
		layer.Annotations = map[string]string{ocispec.AnnotationTitle: filepath.Base(files[p])}
		if err := store.Push(ctx, layer, bytes.NewReader(data)); err != nil {
			return err
		}
		manifest, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, oci.ArtifactTypePipedPlugin, oras.PackManifestOptions{
			Layers:              []ocispec.Descriptor{layer},
			ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: created.UTC().Format(time.RFC3339)},
		})
		if err != nil {
			return fmt.Errorf("packing the manifest for %s: %w", p, err)
		}
		manifest.Platform = &ocispec.Platform{OS: p.OS, Architecture: p.Arch}
		manifests = append(manifests, manifest)
	}
	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: manifests,
	})
	if err != nil {
		return err
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, index)
	if err := store.Push(ctx, desc, bytes.NewReader(index)); err != nil {
		return err
	}
	hash, err := v1.NewHash(desc.Digest.String())
	if err != nil {
		return err
	}
	return lp.AppendDescriptor(v1.Descriptor{
		MediaType:   types.OCIImageIndex,
		Size:        desc.Size,
		Digest:      hash,
		Annotations: map[string]string{ocispec.AnnotationRefName: version},
	})
}

// layoutPusher stores blobs in an OCI layout: the content.Pusher that oras packs manifests into.
type layoutPusher struct{ lp layout.Path }

func (s layoutPusher) Push(_ context.Context, expected ocispec.Descriptor, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if got := digest.FromBytes(data); got != expected.Digest || int64(len(data)) != expected.Size {
		return fmt.Errorf("blob %s: got %d bytes with digest %s, want %d bytes", expected.Digest, len(data), got, expected.Size)
	}
	hash, err := v1.NewHash(expected.Digest.String())
	if err != nil {
		return err
	}
	return s.lp.WriteBlob(hash, io.NopCloser(bytes.NewReader(data)))
}
