package manifest

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	// A registry host: DNS name or IP with an optional port, or a bracketed IPv6 address.
	domainPattern = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$`)
	// A repository path component: lowercase alphanumerics joined by ".", "_", "__" or dashes.
	pathPattern   = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagPattern    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(?:[-_+.][a-z][a-z0-9]*)*:[0-9a-f]{32,}$`)
)

// Image is a parsed container image reference.
type Image struct {
	// Name is the repository including its registry, e.g. "localhost:5000/team/app".
	Name string
	// Tag is the tag, e.g. "v1"; empty when the reference has none.
	Tag string
	// Digest is the content digest, e.g. "sha256:…"; empty when the reference has none.
	Digest string
}

// Version returns what identifies this build of the image: the tag, else the digest,
// else "latest" (what a registry serves for a reference without either).
func (i Image) Version() string {
	switch {
	case i.Tag != "":
		return i.Tag
	case i.Digest != "":
		return i.Digest
	}
	return "latest"
}

// String returns the reference in its canonical "name[:tag][@digest]" form.
func (i Image) String() string {
	s := i.Name
	if i.Tag != "" {
		s += ":" + i.Tag
	}
	if i.Digest != "" {
		s += "@" + i.Digest
	}
	return s
}

// ParseImage parses a container image reference such as "gcr.io/p/app:v1",
// "localhost:5000/app:v1" (a registry port is not a tag), "app@sha256:…" or "app:v1@sha256:…".
func ParseImage(ref string) (Image, error) {
	fail := func(why string) (Image, error) {
		return Image{}, fmt.Errorf("image %q is not a valid reference: %s", ref, why)
	}
	if ref == "" {
		return fail("it is empty")
	}
	if strings.ContainsAny(ref, " \t\r\n") {
		return fail("it contains white space")
	}
	if strings.Contains(ref, "://") {
		return fail("it must not have a scheme such as https://")
	}
	var img Image
	name := ref
	if at := strings.Index(name, "@"); at >= 0 {
		name, img.Digest = name[:at], name[at+1:]
		if !digestPattern.MatchString(img.Digest) {
			return fail(fmt.Sprintf("digest %q is not like sha256:<hex>", img.Digest))
		}
		if strings.HasPrefix(img.Digest, "sha256:") && len(img.Digest) != len("sha256:")+64 {
			return fail("a sha256 digest needs 64 hexadecimal digits")
		}
	}
	// A tag is introduced by the last ":" after the last "/"; a ":" before it belongs to the registry port.
	if colon := strings.LastIndex(name, ":"); colon > strings.LastIndex(name, "/") {
		name, img.Tag = name[:colon], name[colon+1:]
		if !tagPattern.MatchString(img.Tag) {
			return fail(fmt.Sprintf("tag %q must be 1-128 letters, digits, \"_\", \".\" or \"-\", not starting with \".\" or \"-\"", img.Tag))
		}
	}
	if len(name) > 255 {
		return fail("the name is longer than 255 characters")
	}
	parts := strings.Split(name, "/")
	if len(parts) > 1 && isDomain(parts[0]) {
		if !domainPattern.MatchString(parts[0]) {
			return fail(fmt.Sprintf("registry %q is not a host name with an optional port", parts[0]))
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !pathPattern.MatchString(p) {
			return fail(fmt.Sprintf("repository path component %q must be lowercase letters and digits separated by \".\", \"_\" or \"-\"", p))
		}
	}
	img.Name = name
	return img, nil
}

// isDomain tells whether the first path component names a registry rather than a repository,
// following the convention of container tools: it has a "." or ":", is "localhost", or has upper case.
func isDomain(s string) bool {
	return strings.ContainsAny(s, ".:[") || s == "localhost" || strings.ToLower(s) != s
}
