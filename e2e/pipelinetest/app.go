package pipelinetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/pipecd-cloudrun/cloudrun/fakerun"
)

// Kinds of application.
const (
	KindService = "service"
	KindJob     = "job"
)

// app is an application directory as the plugin reads it: its config and the manifest of its service or job.
type app struct {
	dir          string
	config       string // app.pipecd.yaml
	kind         string // KindService or KindJob
	manifestFile string // relative to dir
	manifest     string
	name         string // service or job ID
}

// readApp reads app.pipecd.yaml (spec.plugins.cloudrun.input) and the manifest it names.
func readApp(dir, pluginName string) (*app, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "app.pipecd.yaml"))
	if err != nil {
		return nil, fmt.Errorf("application directory %s: %w", dir, err)
	}
	var cfg struct {
		Spec struct {
			Plugins map[string]struct {
				Input struct {
					ServiceManifestFile string `json:"serviceManifestFile"`
					JobManifestFile     string `json:"jobManifestFile"`
				} `json:"input"`
			} `json:"plugins"`
		} `json:"spec"`
	}
	cfgFile := filepath.Join(dir, "app.pipecd.yaml")
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgFile, err)
	}
	in := cfg.Spec.Plugins[pluginName].Input
	a := &app{dir: dir, config: string(raw), kind: KindService, manifestFile: in.ServiceManifestFile}
	switch {
	case in.JobManifestFile != "" && in.ServiceManifestFile != "":
		return nil, fmt.Errorf("%s: spec.plugins.%s.input names both serviceManifestFile and jobManifestFile", cfgFile, pluginName)
	case in.JobManifestFile != "":
		a.kind, a.manifestFile = KindJob, in.JobManifestFile
	case in.ServiceManifestFile == "":
		a.manifestFile = "service.yaml" // the plugin's default
	}
	data, err := os.ReadFile(filepath.Join(dir, a.manifestFile))
	if err != nil {
		return nil, fmt.Errorf("the %s manifest of %s: %w", a.kind, cfgFile, err)
	}
	a.manifest = string(data)
	var m struct {
		Name     string `json:"name"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"` // Knative serving.knative.dev/v1
	}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, a.manifestFile), err)
	}
	a.name = m.Name
	if a.name == "" {
		a.name = m.Metadata.Name
	}
	if i := strings.LastIndex(a.name, "/"); i >= 0 {
		a.name = a.name[i+1:]
	}
	if a.name == "" {
		return nil, fmt.Errorf("%s: the manifest has no name", filepath.Join(dir, a.manifestFile))
	}
	return a, nil
}

var imageLine = regexp.MustCompile(`(?m)^(\s*-?\s*image:\s*)(\S+)(.*)$`)

// withImage returns the manifest with its first container image replaced.
func (a *app) withImage(image string) (string, error) {
	loc := imageLine.FindStringSubmatchIndex(a.manifest)
	if loc == nil {
		return "", fmt.Errorf("%s: no container image line to replace", filepath.Join(a.dir, a.manifestFile))
	}
	return a.manifest[:loc[4]] + image + a.manifest[loc[5]:], nil
}

// Edit replaces text in a file of the application directory, as a commit would: Old must occur in File.
type Edit struct {
	// File is relative to the application directory, e.g. "app.pipecd.yaml".
	File string
	// Old is replaced by New, once.
	Old, New string
}

// files returns the files d deploys over the application directory: its edits, its image, its files, and
// the analysis durations scaled.
func (a *app) files(d Deployment, scale float64) (map[string]string, error) {
	files := map[string]string{}
	read := func(name string) (string, error) {
		if s, ok := files[name]; ok {
			return s, nil
		}
		if s, ok := d.Files[name]; ok {
			return s, nil
		}
		raw, err := os.ReadFile(filepath.Join(a.dir, name))
		return string(raw), err
	}
	for name, content := range d.Files {
		files[name] = content
	}
	if d.Image != "" {
		cur, err := read(a.manifestFile)
		if err != nil {
			return nil, err
		}
		m, err := (&app{dir: a.dir, manifestFile: a.manifestFile, manifest: cur}).withImage(d.Image)
		if err != nil {
			return nil, err
		}
		files[a.manifestFile] = m
	}
	for i, e := range d.Edits {
		cur, err := read(e.File)
		if err != nil {
			return nil, fmt.Errorf("edit %d: %w", i+1, err)
		}
		if !strings.Contains(cur, e.Old) {
			return nil, fmt.Errorf("edit %d: %s does not contain %q", i+1, e.File, e.Old)
		}
		files[e.File] = strings.Replace(cur, e.Old, e.New, 1)
	}
	cfg, err := read("app.pipecd.yaml")
	if err != nil {
		return nil, err
	}
	scaled, err := scaleAnalysis(cfg, scale)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(a.dir, "app.pipecd.yaml"), err)
	}
	files["app.pipecd.yaml"] = scaled
	return files, nil
}

// analysisDuration matches the duration options of a CLOUDRUN_ANALYSIS stage.
var analysisDuration = regexp.MustCompile(`^(\s*(?:duration|interval|ingestionDelay):\s*)([0-9][0-9a-z.]*)(.*)$`)

// scaleAnalysis multiplies the durations of the CLOUDRUN_ANALYSIS stages of an app.pipecd.yaml by scale.
func scaleAnalysis(config string, scale float64) (string, error) {
	if scale == 1 {
		return config, nil
	}
	lines := strings.Split(config, "\n")
	inAnalysis := false
	for i, l := range lines {
		if strings.Contains(l, "- name:") {
			inAnalysis = strings.Contains(l, "CLOUDRUN_ANALYSIS")
			continue
		}
		m := analysisDuration.FindStringSubmatch(l)
		if !inAnalysis || m == nil {
			continue
		}
		d, err := time.ParseDuration(m[2])
		if err != nil {
			return "", fmt.Errorf("line %d: %w", i+1, err)
		}
		lines[i] = m[1] + time.Duration(float64(d)*scale).Round(100*time.Millisecond).String() + m[3]
	}
	return strings.Join(lines, "\n"), nil
}

var errNoAppDir = errors.New("pipelinetest: Deployment.AppDir is required")

// Check reads d's application directory and applies its image and file changes without deploying anything,
// so that a bad application directory or edit is reported before any deployment runs. It returns the kind
// of the application (KindService or KindJob).
func (d Deployment) Check() (kind string, err error) {
	if d.AppDir == "" {
		return "", errNoAppDir
	}
	a, err := readApp(d.AppDir, "cloudrun")
	if err != nil {
		return "", err
	}
	if _, err := a.files(d, 1); err != nil {
		return "", err
	}
	// fakerun checks behaviours in their JSON form, whose field names its errors name.
	raw, err := json.Marshal(fakerun.Behaviors{Images: d.Behaviors})
	if err != nil {
		return "", err
	}
	if _, err := fakerun.ParseBehaviors(raw); err != nil {
		return "", fmt.Errorf("behaviors: %w", err)
	}
	for i, f := range d.Faults {
		if !slices.Contains(fakerun.Methods, f.Method) {
			return "", fmt.Errorf("faults[%d].method %q; allowed: %s", i, f.Method, strings.Join(fakerun.Methods, ", "))
		}
	}
	return a.kind, nil
}
