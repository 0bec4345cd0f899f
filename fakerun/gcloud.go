package fakerun

import (
	"net"
	"net/http"
	"net/url"

	"google.golang.org/api/option"
)

// The Admin API v1 that gcloud speaks is served by Host: {region}-run.googleapis.com for the Knative
// resources, run.googleapis.com/v1/ for locations and IAM. A client reaches it by sending plain HTTP
// requests for those hosts to fakerun as its HTTP proxy.

// V1ClientOptions returns options for the discovery-based v1 client google.golang.org/api/run/v1 for
// region: the endpoint http://{region}-run.googleapis.com/ reached through this server as HTTP proxy,
// no authentication. With region "", the global endpoint (locations, IAM).
func (s *Server) V1ClientOptions(region string) []option.ClientOption {
	host := "run.googleapis.com"
	if region != "" {
		host = region + "-" + host
	}
	proxy := &url.URL{Scheme: "http", Host: s.Addr()}
	return []option.ClientOption{
		option.WithEndpoint("http://" + host + "/"),
		option.WithHTTPClient(&http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}),
		option.WithTelemetryDisabled(),
	}
}

// GcloudEnv returns the environment, as KEY=value, that points the gcloud CLI at a fakerun listening on
// addr (host:port): Cloud Run's endpoint overridden to http://run.googleapis.com/ (and Cloud Resource
// Manager's, which gcloud asks for project numbers) and fakerun as gcloud's HTTP proxy, so that gcloud's
// regional hosts reach it; an access token (fakerun accepts any); a private
// configuration directory (configDir), so that the user's own gcloud settings and credentials are
// neither read nor changed; the project and region; no prompts, no API-enablement checks, no usage
// reporting or update checks.
func GcloudEnv(addr, configDir, project, region string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "80"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return []string{
		"CLOUDSDK_CONFIG=" + configDir,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://run.googleapis.com/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER=http://cloudresourcemanager.googleapis.com/",
		"CLOUDSDK_PROXY_TYPE=http",
		"CLOUDSDK_PROXY_ADDRESS=" + host,
		"CLOUDSDK_PROXY_PORT=" + port,
		"CLOUDSDK_AUTH_ACCESS_TOKEN=fakerun",
		"CLOUDSDK_CORE_PROJECT=" + project,
		"CLOUDSDK_RUN_REGION=" + region,
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_CORE_SHOULD_PROMPT_TO_ENABLE_API=false",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
		"CLOUDSDK_SURVEY_DISABLE_PROMPTS=true",
	}
}
