package manifest

import (
	"fmt"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
)

// runResource is a Cloud Run resource a document describes: *runpb.Job or *runpb.WorkerPool.
type runResource interface {
	proto.Message
	GetName() string
}

// document is what a job and a worker pool manifest share: the decoded resource and where it comes from.
type document[R runResource] struct {
	// File is the manifest's path relative to the application directory, used in messages.
	File string
	// Format is the format the manifest was written in.
	Format Format

	res R
	// where is where a v1 manifest's metadata says the resource lives.
	where placement
	kind  *docKind[R]
}

// docKind is what tells one kind of document from the other.
type docKind[R runResource] struct {
	name    string   // kindJob or kindWorkerPool
	names   resource // how the resource is named
	ranges  []fieldRange
	empty   func() R                                   // a new, empty resource to decode a v2 manifest into
	knative func(map[string]any) (R, placement, error) // decodes a v1 manifest
	field   string                                     // the path of the container list, for messages
	list    func(R) []*runpb.Container                 // the container list
	rename  func(R, string)                            // sets the resource's name
	more    func(file string, res R) error             // what else the plugin needs of the resource, or nil
}

// decode decodes and validates the document data; file names the source in errors.
func (k *docKind[R]) decode(file string, data []byte) (document[R], error) {
	d, err := k.parse(data)
	if err != nil {
		return document[R]{}, fmt.Errorf("manifest %s: %w", file, err)
	}
	d.File = file
	return d, k.validate(file, d.res)
}

func (k *docKind[R]) parse(data []byte) (document[R], error) {
	obj, err := parseDocument(data, k.name)
	if err != nil {
		return document[R]{}, err
	}
	format, err := detectFormat(obj, k.name)
	if err != nil {
		return document[R]{}, err
	}
	res := k.empty()
	var where placement
	if format == FormatCloudRunV2 {
		err = decodeCloudRunV2(obj, res, k.ranges)
	} else {
		res, where, err = k.knative(obj)
	}
	return document[R]{Format: format, res: res, where: where, kind: k}, err
}

// validate checks the resource's name, that it has at least one container with a valid image on every
// container, and what more the kind needs.
func (k *docKind[R]) validate(file string, res R) error {
	if _, _, _, err := k.names.split(file, res.GetName()); err != nil {
		return err
	}
	if err := validateContainers(file, k.field, k.list(res)); err != nil {
		return err
	}
	if k.more == nil {
		return nil
	}
	return k.more(file, res)
}

// id returns the short resource name, e.g. "migrate".
func (d *document[R]) id() string {
	_, _, id, _ := d.kind.names.split(d.File, d.res.GetName())
	return id
}

// proto returns a copy of the decoded resource, exactly as written (after SetImage).
func (d *document[R]) proto() R {
	return proto.Clone(d.res).(R)
}

// locate returns a copy of the resource with its full name for the deploy target's project and region;
// where the manifest says the resource lives must match them.
func (d *document[R]) locate(project, region string) (R, error) {
	name, err := d.kind.names.locate(d.File, d.res.GetName(), d.where, project, region)
	if err != nil {
		var none R
		return none, err
	}
	res := d.proto()
	d.kind.rename(res, name)
	return res, nil
}

// Images returns the image of every container, in order.
func (d *document[R]) Images() []string {
	return images(d.kind.list(d.res))
}

// images returns the image of every container, in order.
func images(containers []*runpb.Container) []string {
	var out []string
	for _, c := range containers {
		out = append(out, c.GetImage())
	}
	return out
}

// SetImage replaces the image of the only container (input.image). Neither a job nor a worker pool has an
// ingress container to pick among several, so several containers are an error.
func (d *document[R]) SetImage(image string) error {
	if _, err := ParseImage(image); err != nil {
		return fileErrorf(d.File, "cannot apply input.image: %v", err)
	}
	containers := d.kind.list(d.res)
	if len(containers) != 1 {
		kind := d.kind.names.kind
		return fileErrorf(d.File, "cannot apply input.image: the %s has %d containers; input.image needs exactly one, "+
			"so set the images in the %s manifest instead", kind, len(containers), kind)
	}
	containers[0].Image = image
	return nil
}
