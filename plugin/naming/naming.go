// Package naming derives the deterministic names the plugin gives to Cloud Run objects (revision names and
// preview traffic tags), builds and shortens resource names, and shortens commit hashes for messages.
package naming

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
)

const (
	// MaxRevisionNameLength is Cloud Run's limit for revision names.
	MaxRevisionNameLength = 63
	// MaxServiceNameLength is Cloud Run's limit for service IDs.
	MaxServiceNameLength = 49
	// MaxTagAndServiceLength is Cloud Run's limit for len(tag)+len(service).
	MaxTagAndServiceLength = 46
	// MinTagLength is the shortest traffic tag Cloud Run accepts.
	MinTagLength = 3

	commitLength = 7
	hashLength   = 8
	previewTag   = "preview-"
)

var servicePattern = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)

// lowerBase32 encodes hashes with lowercase letters and the digits 2-7, all valid in names.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// MaxRevisionGeneration is how many names RevisionNameAt gives one (service, commit, template).
const MaxRevisionGeneration = 5

// RevisionName returns the revision name for deploying template of service at commit:
// "{service}-{commit}-{hash}", where commit is the first 7 characters of the commit hash
// (lowercased, only letters and digits kept) and hash is 8 characters of the SHA-256 of the
// template with its revision field cleared, marshalled deterministically.
// The same (service, commit, template) always gives the same name; any change of the template
// gives a different one. The name fits Cloud Run's rules (at most 63 characters, starts with
// "{service}-"); for long service names the commit part is shortened first, never the hash.
// service is the short service ID (not the full resource name).
func RevisionName(service, commit string, template RevisionTemplate) (string, error) {
	return RevisionNameAt(service, commit, template, 1)
}

// RevisionNameAt returns the generation-th candidate name for the revision RevisionName names:
// generation 1 is RevisionName's name, generation g from 2 to MaxRevisionGeneration is
// "{service}-{commit}-{hash}-{g}". The next generation is used when Cloud Run refuses a name
// because a revision of that name existed, for example one deleted by a cleanup: Cloud Run may
// not give a deleted revision's name again. The commit part is shortened further when the
// suffix would not fit in 63 characters; the hash is kept, so the names of one template stay
// recognisable by SameTemplate.
func RevisionNameAt(service, commit string, template RevisionTemplate, generation int) (string, error) {
	if generation < 1 || generation > MaxRevisionGeneration {
		return "", fmt.Errorf("revision name generation %d is out of range: allowed 1 to %d", generation, MaxRevisionGeneration)
	}
	if err := checkService(service); err != nil {
		return "", err
	}
	c, err := commitPart(commit)
	if err != nil {
		return "", err
	}
	if template == nil || !template.ProtoReflect().IsValid() {
		return "", fmt.Errorf("revision template is missing")
	}
	h, err := TemplateHash(template)
	if err != nil {
		return "", err
	}
	suffix := ""
	if generation > 1 {
		suffix = "-" + strconv.Itoa(generation)
	}
	// Budget after "{service}-" for "{commit}-{hash}{suffix}".
	budget := MaxRevisionNameLength - len(service) - 1 - len(suffix)
	if keep := budget - hashLength - 1; keep < len(c) {
		c = c[:keep]
	}
	return service + "-" + c + "-" + h[:hashLength] + suffix, nil
}

// Generation returns the generation of a name made by RevisionNameAt: the number after the hash,
// or 1 when there is none.
func Generation(revision string) int {
	_, gen := splitGeneration(revision)
	return gen
}

// SameTemplate reports whether two revision names made by RevisionNameAt carry the same template
// hash, whatever their generation.
func SameTemplate(a, b string) bool {
	a, _ = splitGeneration(a)
	b, _ = splitGeneration(b)
	ha, hb := a[strings.LastIndex(a, "-")+1:], b[strings.LastIndex(b, "-")+1:]
	return a != "" && b != "" && ha == hb
}

// splitGeneration splits a revision name into the name without its generation suffix and the
// generation. A suffix is a last dash-separated part of digits shorter than a hash.
func splitGeneration(revision string) (string, int) {
	i := strings.LastIndex(revision, "-")
	last := revision[i+1:]
	if i < 0 || len(last) >= hashLength {
		return revision, 1
	}
	gen, err := strconv.Atoi(last)
	if err != nil || gen < 2 || strconv.Itoa(gen) != last {
		return revision, 1
	}
	return revision[:i], gen
}

// RevisionTemplate is a service's or a worker pool's revision template (*runpb.RevisionTemplate or
// *runpb.WorkerPoolRevisionTemplate): both name the revision they create in a field "revision".
type RevisionTemplate interface {
	proto.Message
	GetRevision() string
}

// TemplateHash returns a lowercase base32 SHA-256 of template with its revision field cleared
// (so the hash does not depend on the name the plugin gives the revision). It is stable for a
// given build of the plugin; Cloud Run never sees it except inside revision names.
func TemplateHash(template RevisionTemplate) (string, error) {
	t := proto.Clone(template)
	t.ProtoReflect().Clear(t.ProtoReflect().Descriptor().Fields().ByName("revision"))
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("failed to marshal the revision template: %w", err)
	}
	sum := sha256.Sum256(b)
	return lowerBase32.EncodeToString(sum[:]), nil
}

// PreviewTag returns the traffic tag the plugin gives a new revision of service deployed at commit,
// so that it has its own URL ("https://{tag}---{service}-...run.app") even at 0% traffic.
// It is "preview-{commit[:7]}". Cloud Run limits len(tag)+len(service) to 46, so for services
// longer than 31 characters the tag is shortened deterministically to "p{commit}" with as many
// commit characters (up to 7) as fit. A service longer than 43 characters leaves no room for a
// tag of at least 3 characters; that is an error telling the user to disable the tag option.
func PreviewTag(service, commit string) (string, error) {
	if err := checkService(service); err != nil {
		return "", err
	}
	c, err := commitPart(commit)
	if err != nil {
		return "", err
	}
	room := MaxTagAndServiceLength - len(service)
	if tag := previewTag + c; len(tag) <= room {
		return tag, nil
	}
	if room < MinTagLength {
		return "", fmt.Errorf("service name %q is %d characters long: Cloud Run allows at most %d characters for a traffic tag plus the service name, "+
			"which leaves no room for a tag of at least %d characters; disable the \"tag\" option of CLOUDRUN_SYNC or use a service name of at most %d characters",
			service, len(service), MaxTagAndServiceLength, MinTagLength, MaxTagAndServiceLength-MinTagLength)
	}
	tag := "p" + c[:min(len(c), room-1)]
	if len(tag) < MinTagLength {
		return "", fmt.Errorf("commit hash %q is too short to build a preview tag of at least %d characters for service %q", commit, MinTagLength, service)
	}
	return tag, nil
}

func checkService(service string) error {
	if !servicePattern.MatchString(service) {
		return fmt.Errorf("service name %q is invalid: allowed lowercase letters, digits and hyphens, starting with a letter, not ending with a hyphen, at most %d characters", service, MaxServiceNameLength)
	}
	return nil
}

// commitPart returns the first 7 letters or digits of the lowercased commit hash.
func commitPart(commit string) (string, error) {
	var b strings.Builder
	for _, r := range strings.ToLower(commit) {
		if b.Len() == commitLength {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("commit hash %q has no letters or digits", commit)
	}
	return b.String(), nil
}

// ShortCommit is the first 7 characters of a commit hash, as logs and summaries show it; "(unknown)" for none.
func ShortCommit(commit string) string {
	if commit == "" {
		return "(unknown)"
	}
	return commit[:min(len(commit), 7)]
}

// ServiceName returns the full resource name projects/{project}/locations/{region}/services/{id}.
func ServiceName(project, region, id string) string {
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", project, region, id)
}

// JobName returns the full resource name projects/{project}/locations/{region}/jobs/{id}.
func JobName(project, region, id string) string {
	return fmt.Sprintf("projects/%s/locations/%s/jobs/%s", project, region, id)
}

// FullRevisionName returns the full resource name of the revision rev (a short name) of service (a full name).
func FullRevisionName(service, rev string) string {
	return service + "/revisions/" + rev
}

// ShortName returns the last segment of a resource name: the service id or the revision name.
func ShortName(name string) string {
	return name[strings.LastIndex(name, "/")+1:]
}
