package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

const deployTargetWhere = "deploy target config"

// regionPattern matches Cloud Run region names such as "us-central1" or "asia-northeast1".
var regionPattern = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]{1,2}$`)

// projectPattern accepts project IDs ("my-project-123", legacy domain-scoped "example.com:my-project")
// and project numbers; it only rules out values that would break resource names.
var projectPattern = regexp.MustCompile(`^[a-z0-9][-a-z0-9.:]*[a-z0-9]$|^[a-z0-9]$`)

// DeployTargetConfig is the config of one deploy target (piped.yaml spec.plugins[].deployTargets[].config):
// the Cloud Run project and region the application is deployed to, and how to reach the API.
type DeployTargetConfig struct {
	// Project is the Google Cloud project ID. Required.
	Project string `json:"project"`
	// Region is the Cloud Run region, e.g. "asia-northeast1". Required.
	Region string `json:"region"`
	// CredentialsFile is the path of a service-account key file. Empty (the default) uses
	// Application Default Credentials, which also covers workload identity.
	CredentialsFile string `json:"credentialsFile,omitempty"`
	// Endpoint overrides the Cloud Run Admin API v2 gRPC endpoint as "host:port", e.g. to reach
	// a local fake. Empty (the default) uses the real API.
	Endpoint string `json:"endpoint,omitempty"`
	// Insecure dials Endpoint without TLS and without credentials. Only allowed with Endpoint and
	// without CredentialsFile.
	// Default: false.
	Insecure bool `json:"insecure,omitempty"`
}

// DecodeDeployTargetConfig strictly decodes and validates a deploy target config.
func DecodeDeployTargetConfig(raw []byte) (DeployTargetConfig, error) {
	var c DeployTargetConfig
	if err := decodeObject(deployTargetWhere, raw,
		projectField("project", &c.Project),
		stringField("region", &c.Region),
		stringField("credentialsFile", &c.CredentialsFile),
		stringField("endpoint", &c.Endpoint),
		boolField("insecure", &c.Insecure),
	); err != nil {
		return DeployTargetConfig{}, err
	}
	if err := c.Validate(); err != nil {
		return DeployTargetConfig{}, err
	}
	return c, nil
}

// projectNumberPattern is a project number written as a bare YAML number, which piped sends as a JSON number.
var projectNumberPattern = regexp.MustCompile(`^[1-9][0-9]*$`)

// projectField decodes a project ID or number. A number may be written unquoted (`project: 123456789012`):
// the project meant is unambiguous, so it is taken as the string of its digits.
func projectField(name string, dst *string) field {
	return field{name, func(o *object) error {
		if v := strings.TrimSpace(string(o.value(name))); projectNumberPattern.MatchString(v) {
			*dst = v
			return nil
		}
		return o.string(name, dst)
	}}
}

// UnmarshalJSON decodes like DecodeDeployTargetConfig, so the SDK's plain json.Unmarshal of
// piped.yaml deploy targets is strict, defaulted and validated too.
func (c *DeployTargetConfig) UnmarshalJSON(data []byte) error {
	v, err := DecodeDeployTargetConfig(data)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Validate checks the required fields and their formats.
func (c DeployTargetConfig) Validate() error {
	fail := func(field, format string, args ...any) error {
		return fmt.Errorf("%s: field %q: %s", deployTargetWhere, field, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Project == "":
		return fail("project", "is required, allowed a Google Cloud project ID such as \"my-project\"")
	case !projectPattern.MatchString(c.Project):
		return fail("project", "%q is not a project ID, allowed lowercase letters, digits, hyphens (and \".\" or \":\" for domain-scoped projects)", c.Project)
	case c.Region == "":
		return fail("region", "is required, allowed a Cloud Run region such as \"us-central1\" or \"asia-northeast1\"")
	case !regionPattern.MatchString(c.Region):
		return fail("region", "%q is not a Cloud Run region, allowed names like \"us-central1\" or \"asia-northeast1\"", c.Region)
	case c.Insecure && c.Endpoint == "":
		return fail("insecure", "true requires \"endpoint\" to be set (insecure only applies to a custom endpoint)")
	case c.Insecure && c.CredentialsFile != "":
		return fail("insecure", "true and \"credentialsFile\" are both set: an insecure connection sends no credentials, remove one of them")
	}
	if c.Endpoint != "" {
		if err := validateEndpoint(c.Endpoint); err != nil {
			return fail("endpoint", "%q %s, allowed \"host:port\" such as \"localhost:8080\"", c.Endpoint, err.Error())
		}
	}
	return nil
}

func validateEndpoint(endpoint string) error {
	if strings.Contains(endpoint, "://") {
		return fmt.Errorf("must not have a scheme")
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil || host == "" {
		return fmt.Errorf("is not host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("has an invalid port")
	}
	return nil
}
