package rules

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/distribution/reference"
)

// The documented limits of the string fields a deployment sets, shared by
// every resource that carries labels, annotations or containers. Each limit
// cites its source in the README (Documented rules and their sources).
const (
	maxDescriptionLen    = 512       // Service.description: "a 512-character limit"
	maxLabels            = 64        // resource-manager label requirements
	maxLabelLen          = 63        // label keys and values
	maxAnnotationsSize   = 256 << 10 // Kubernetes: all annotation keys and values together
	maxAnnotationNameLen = 63        // Kubernetes: the name part of an annotation key
	maxDNSSubdomainLen   = 253       // Kubernetes: the prefix part of an annotation key
	maxDNSLabelLen       = 63        // RFC 1123 labels: container names
	maxEnvVars           = 1000      // per container
	maxEnvLen            = 32768     // EnvVar.name characters, EnvVar.value bytes
)

// reservedNamespaces are the label and annotation namespaces Cloud Run API v2
// rejects ("they will be rejected").
var reservedNamespaces = []string{"run.googleapis.com", "cloud.googleapis.com", "serving.knative.dev", "autoscaling.knative.dev"}

// reservedEnvNames are the variables of the container runtime contract, which
// "are reserved and cannot be set".
var reservedEnvNames = []string{"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}

var (
	// labelKeyPattern and labelValuePattern: lowercase letters, digits,
	// underscores and dashes, international characters allowed; keys start
	// with a lowercase letter or an international character.
	labelKeyPattern   = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]*$`)
	labelValuePattern = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]*$`)
	// annotationNamePattern is Kubernetes' qualified name.
	annotationNamePattern = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	// dnsSubdomainPattern is an RFC 1123 subdomain.
	dnsSubdomainPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// rfc1123LabelPattern is an RFC 1123 DNS label (it may start with a digit).
	rfc1123LabelPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// reservedNamespace returns the reserved namespace a label or annotation key
// belongs to ("" if none): the namespace itself, a subdomain of it, or either
// followed by "/".
func reservedNamespace(key string) string {
	prefix, _, _ := strings.Cut(key, "/")
	for _, ns := range reservedNamespaces {
		if prefix == ns || strings.HasSuffix(prefix, "."+ns) {
			return ns
		}
	}
	return ""
}

// validateLabels checks a labels map against the reserved namespaces and the
// resource-manager requirements for labels.
func ValidateLabels(field string, labels map[string]string) error {
	if len(labels) > maxLabels {
		return InvalidArgument(field, fmt.Sprintf("at most %d labels are allowed, got %d", maxLabels, len(labels)))
	}
	return firstKeyError(labels, func(k string) error {
		if ns := reservedNamespace(k); ns != "" {
			return InvalidArgument(field, fmt.Sprintf("label %q uses the reserved namespace %s; Cloud Run API v2 rejects labels in the run.googleapis.com, cloud.googleapis.com, serving.knative.dev and autoscaling.knative.dev namespaces", k, ns))
		}
		if utf8.RuneCountInString(k) > maxLabelLen || !labelKeyPattern.MatchString(k) {
			return InvalidArgument(field, fmt.Sprintf("label key %q must be 1 to %d lowercase letters, digits, underscores or dashes, starting with a lowercase letter", k, maxLabelLen))
		}
		if v := labels[k]; utf8.RuneCountInString(v) > maxLabelLen || !labelValuePattern.MatchString(v) {
			return InvalidArgument(field, fmt.Sprintf("value %q of label %q must be at most %d lowercase letters, digits, underscores or dashes", v, k, maxLabelLen))
		}
		return nil
	})
}

// firstKeyError returns check's error for the first key of m, in sorted
// order, that check rejects, or nil. The keys are sorted only once one is
// rejected, so that valid maps cost no allocation.
func firstKeyError(m map[string]string, check func(key string) error) error {
	for k := range m {
		if check(k) != nil {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if err := check(k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// validateAnnotations checks an annotations map against the reserved
// namespaces and Kubernetes' rules for annotation keys and total size.
func ValidateAnnotations(field string, annotations map[string]string) error {
	err := firstKeyError(annotations, func(k string) error {
		if ns := reservedNamespace(k); ns != "" {
			return InvalidArgument(field, fmt.Sprintf("annotation %q uses the reserved namespace %s; Cloud Run API v2 rejects annotations in the run.googleapis.com, cloud.googleapis.com, serving.knative.dev and autoscaling.knative.dev namespaces", k, ns))
		}
		prefix, name, hasPrefix := strings.Cut(k, "/")
		if !hasPrefix {
			prefix, name = "", k
		}
		if hasPrefix && (len(prefix) > maxDNSSubdomainLen || !dnsSubdomainPattern.MatchString(prefix)) {
			return InvalidArgument(field, fmt.Sprintf("annotation key %q: the prefix %q must be a DNS subdomain of at most %d characters", k, prefix, maxDNSSubdomainLen))
		}
		if len(name) > maxAnnotationNameLen || !annotationNamePattern.MatchString(name) {
			return InvalidArgument(field, fmt.Sprintf("annotation key %q: the name %q must be 1 to %d letters, digits, '-', '_' or '.', beginning and ending with a letter or digit", k, name, maxAnnotationNameLen))
		}
		return nil
	})
	if err != nil {
		return err
	}
	size := 0
	for k, v := range annotations {
		size += len(k) + len(v)
	}
	if size > maxAnnotationsSize {
		return InvalidArgument(field, fmt.Sprintf("annotations take %d bytes; keys and values together must not exceed %d bytes", size, maxAnnotationsSize))
	}
	return nil
}

// validateDescription checks a resource description's length.
func ValidateDescription(field, description string) error {
	if n := utf8.RuneCountInString(description); n > maxDescriptionLen {
		return InvalidArgument(field, fmt.Sprintf("the description has %d characters; at most %d are allowed", n, maxDescriptionLen))
	}
	return nil
}

// validateContainers checks that every container has an image, a DNS-label
// name if named, and valid environment variables.
func validateContainers(field string, containers []*runpb.Container) error {
	if len(containers) == 0 {
		return InvalidArgument(field, "at least one container is required")
	}
	for i, c := range containers {
		at := func(sub string) string { return fmt.Sprintf("%s[%d]%s", field, i, sub) } // built only for an error
		if c.GetImage() == "" {
			return InvalidArgument(at(".image"), "a container image is required")
		}
		if err := parseImage(c.GetImage()); err != nil {
			return InvalidArgument(at(".image"), fmt.Sprintf("Expected an image path like [host/]repo-path[:tag and/or @digest], but obtained %q (%v)", c.GetImage(), err))
		}
		if n := c.GetName(); n != "" && (len(n) > maxDNSLabelLen || !rfc1123LabelPattern.MatchString(n)) {
			return InvalidArgument(at(".name"), fmt.Sprintf("container name %q must be a DNS label (RFC 1123): at most %d lowercase letters, digits and hyphens, beginning and ending with a letter or digit", n, maxDNSLabelLen))
		}
		if len(c.GetEnv()) > 0 {
			if err := validateEnv(at(".env"), c.GetEnv()); err != nil {
				return err
			}
		}
	}
	return nil
}

// parsedImages remembers the image references reference.Parse accepted: the
// answer depends on the string alone, and an update that keeps its images
// (a traffic change) then skips the parser's regular expressions. It is
// emptied when it holds parsedImagesLimit references.
var parsedImages = struct {
	sync.Mutex
	ok map[string]struct{}
}{ok: map[string]struct{}{}}

// parsedImagesLimit bounds parsedImages.
const parsedImagesLimit = 4096

// parseImage returns reference.Parse's error for image, or nil.
func parseImage(image string) error {
	parsedImages.Lock()
	_, ok := parsedImages.ok[image]
	parsedImages.Unlock()
	if ok {
		return nil
	}
	if _, err := reference.Parse(image); err != nil {
		return err
	}
	parsedImages.Lock()
	defer parsedImages.Unlock()
	if len(parsedImages.ok) >= parsedImagesLimit {
		clear(parsedImages.ok)
	}
	parsedImages.ok[image] = struct{}{}
	return nil
}

// validateEnv checks a container's environment variables.
func validateEnv(field string, env []*runpb.EnvVar) error {
	if len(env) > maxEnvVars {
		return InvalidArgument(field, fmt.Sprintf("at most %d environment variables are allowed per container, got %d", maxEnvVars, len(env)))
	}
	for i, e := range env {
		at := func(sub string) string { return fmt.Sprintf("%s[%d]%s", field, i, sub) } // built only for an error
		name := e.GetName()
		switch {
		case name == "":
			return InvalidArgument(at(".name"), "an environment variable name is required")
		case strings.Contains(name, "="):
			return InvalidArgument(at(".name"), fmt.Sprintf("environment variable name %q must not contain '='", name))
		case utf8.RuneCountInString(name) > maxEnvLen:
			return InvalidArgument(at(".name"), fmt.Sprintf("an environment variable name must not exceed %d characters", maxEnvLen))
		}
		if slices.Contains(reservedEnvNames, name) {
			return InvalidArgument(at(".name"), fmt.Sprintf("environment variable %s is reserved (%s are set by Cloud Run) and cannot be set", name, strings.Join(reservedEnvNames, ", ")))
		}
		if len(e.GetValue()) > maxEnvLen {
			return InvalidArgument(at(".value"), fmt.Sprintf("the value of %s has %d bytes; at most %d are allowed", name, len(e.GetValue()), maxEnvLen))
		}
	}
	return nil
}

// validateRevisionTemplate checks a revision template's metadata and containers.
func ValidateRevisionTemplate(field string, t *runpb.RevisionTemplate) error {
	if t == nil {
		return InvalidArgument(field, "a revision template is required")
	}
	if err := ValidateLabels(field+".labels", t.GetLabels()); err != nil {
		return err
	}
	if err := ValidateAnnotations(field+".annotations", t.GetAnnotations()); err != nil {
		return err
	}
	return validateContainers(field+".containers", t.GetContainers())
}
