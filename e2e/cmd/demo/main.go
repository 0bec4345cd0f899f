// Command demo runs the examples/canary-analysis application through the Cloud Run plugin against fakerun: first
// a quick sync of v1 (the previous version), then, with fakerun's load generator sending traffic, the canary
// pipeline of v2, whose CLOUDRUN_ANALYSIS judges v2 at 10% on fakerun's Cloud Monitoring. It prints each stage,
// its logs (the analysis checks among them) and the traffic split as it goes. With -scenario bad-canary, v2
// answers 20% of its requests with 503: the analysis fails and CLOUDRUN_ROLLBACK restores v1.
//
//	go -C e2e run ./cmd/demo                      # in-process fakerun
//	go -C e2e run ./cmd/demo -scenario bad-canary
//	go -C e2e run ./cmd/demo -fakerun 127.0.0.1:8080
package main

import (
	"context"
	"crypto/sha1"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pipe-cd/pipecd/pkg/model"
	"sigs.k8s.io/yaml"

	"github.com/pipecd-cloudrun/cloudrun/e2e/cloudrun"
	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
	"github.com/pipecd-cloudrun/cloudrun/e2e/target"
	"github.com/pipecd-cloudrun/cloudrun/fakerun"
	"github.com/pipecd-cloudrun/cloudrun/fakerun/console"
	"github.com/pipecd-cloudrun/cloudrun/plugin/naming"
)

type flags struct {
	fakerunAddr    string
	app            string
	project        string
	region         string
	previousImage  string
	timeScale      float64
	readinessDelay time.Duration
	timeout        time.Duration
	scenario       string
	analysisScale  float64
	loadRate       int
	piped          string
}

// appFiles is the demo's application: its service manifest (file name, content at v2 and at v1), service and
// image.
type appFiles struct {
	manifestFile, manifest, v1 string
	serviceID, serviceName     string
	image                      string
}

func main() {
	var f flags
	flag.StringVar(&f.fakerunAddr, "fakerun", "", "address of a running fakerun (host:port); empty starts one in-process")
	flag.StringVar(&f.app, "app", "", "application directory (default: examples/canary of this repository)")
	flag.StringVar(&f.project, "project", "demo-project", "Google Cloud project of the deploy target")
	flag.StringVar(&f.region, "region", "asia-northeast1", "Cloud Run region of the deploy target")
	flag.StringVar(&f.previousImage, "previous-image", "", "image of the first (quick sync) deployment (default: the manifest's image with tag v1)")
	flag.Float64Var(&f.timeScale, "wait-scale", 1, "factor applied to WAIT durations")
	flag.DurationVar(&f.readinessDelay, "readiness-delay", time.Second, "in-process fakerun: time a new revision takes to become ready")
	flag.DurationVar(&f.timeout, "timeout", 0, "give up after this long (default 3m; 8m with -piped real, which builds pipedv1 and waits on its loops)")
	flag.StringVar(&f.scenario, "scenario", scenarioGood, "good: a healthy v2 passes the analysis; bad-canary: v2 answers 20% 503 and is rolled back")
	flag.Float64Var(&f.analysisScale, "analysis-scale", 0.01, "factor applied to the durations of CLOUDRUN_ANALYSIS (10m of analysis take 6s)")
	flag.IntVar(&f.loadRate, "load-rate", 1000, "requests per second fakerun's load generator sends to the service during the canary")
	flag.StringVar(&f.piped, "piped", pipedStandIn, "stand-in: the e2e stand-in drives the plugin; real: pipedv1 (built from the pinned module) and the in-memory control plane")
	flag.Parse()

	if f.timeout == 0 {
		f.timeout = 3 * time.Minute
		if f.piped == pipedReal {
			f.timeout = 8 * time.Minute
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if err := run(ctx, f, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags, out io.Writer) error {
	start := time.Now()
	p := &printer{w: out}
	if f.scenario != scenarioGood && f.scenario != scenarioBadCanary {
		return fmt.Errorf("-scenario %q: allowed %s or %s", f.scenario, scenarioGood, scenarioBadCanary)
	}
	if f.piped != pipedStandIn && f.piped != pipedReal {
		return fmt.Errorf("-piped %q: allowed %s or %s", f.piped, pipedStandIn, pipedReal)
	}
	if f.app == "" {
		root, err := piped.RepoRoot()
		if err != nil {
			return err
		}
		f.app = filepath.Join(root, "examples", "canary-analysis")
	}
	manifestFile, manifest, serviceID, image, err := readApp(f.app)
	if err != nil {
		return err
	}
	if f.previousImage == "" {
		f.previousImage = withTag(image, "v1")
	}

	addr := f.fakerunAddr
	if addr == "" {
		srv, err := fakerun.NewServer(fakerun.WithReadinessDelay(f.readinessDelay))
		if err != nil {
			return fmt.Errorf("failed to start fakerun: %w", err)
		}
		defer func() { _ = srv.Close() }()
		srv.Handle(fakerun.AdminPrefix, srv.AdminHandler()) // the admin API and the web console
		addr = srv.Addr()
		p.step("fakerun (in-process) listening on %s, revisions become ready after %s", addr, f.readinessDelay)
	} else {
		p.step("Using the fakerun at %s", addr)
	}
	p.step("Watch it live in fakerun's console: http://%s%s%s", addr, console.Prefix, naming.ServiceName(f.project, f.region, serviceID))
	p.step("Or inspect it with gcloud, in another shell while the demo runs:\n"+
		"        eval \"$(go run ./fakerun/cmd/fakerun gcloud-env -addr %s -project %s -region %s)\"\n"+
		"        gcloud run services describe %s\n"+
		"        gcloud run revisions list --service %s",
		addr, f.project, f.region, serviceID, serviceID)

	endpoint := target.NewEndpoint(addr, f.project, f.region)
	reader, err := cloudrun.NewReader(ctx, endpoint.ClientOptions()...)
	if err != nil {
		return err
	}
	defer func() { _ = reader.Close() }()
	serviceName := naming.ServiceName(f.project, f.region, serviceID)
	if f.piped == pipedReal {
		app := appFiles{
			manifestFile: manifestFile, manifest: manifest, v1: strings.Replace(manifest, image, f.previousImage, 1),
			serviceID: serviceID, serviceName: serviceName, image: image,
		}
		if err := runReal(ctx, f, p, app, addr, reader); err != nil {
			return err
		}
		p.line("\nDone in %s.", since(start))
		return nil
	}

	p.step("Building the plugin")
	t := time.Now()
	bin, err := piped.BuildPlugin()
	if err != nil {
		return err
	}
	if os.Getenv(piped.PluginBinaryEnv) == "" {
		defer func() { _ = os.RemoveAll(filepath.Dir(bin)) }()
	}
	p.done("built %s in %s", bin, since(t))

	pd, err := piped.New(ctx,
		piped.WithPluginBinary(bin),
		piped.WithTimeScale(f.timeScale),
		piped.WithGracePeriod(5*time.Second),
		piped.WithDeployTargets(piped.DeployTarget{Name: "local", Config: endpoint.DeployTargetConfig(f.region)}),
	)
	if err != nil {
		return err
	}
	defer pd.Close()
	p.step("Plugin %q started (pid %d) with deploy target \"local\" → %s (%s/%s)", pd.PluginName(), pd.PluginPID(), addr, f.project, f.region)

	showTraffic := func() {
		readCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		svc, err := reader.Service(readCtx, serviceName)
		if err != nil {
			p.line("      traffic: unavailable (%v)", err)
			return
		}
		p.block("      ", cloudrun.TrafficTable(svc))
	}
	hooks := piped.Hooks{
		OnPlanned: func(r *piped.Run) {
			m := r.Model()
			p.line("Planned %s: %s", m.Trigger.SyncStrategy, m.Summary)
			for _, s := range r.Stages() {
				if !s.Rollback {
					p.line("  • %s", strings.TrimSpace(s.Name+"  "+s.Desc))
				}
			}
		},
		OnStageStart: func(_ *piped.Run, s piped.StageRecord) {
			kind := ""
			if s.Rollback {
				kind = " (rollback)"
			}
			p.line("\n▶ %s%s", s.Name, kind)
		},
		OnLog: func(_ *piped.Run, _ piped.StageRecord, l piped.LogLine) {
			first, rest, _ := strings.Cut(strings.TrimRight(l.Text, "\n"), "\n")
			p.line("      %s %s", severityMark(l.Severity), first)
			if rest != "" {
				p.block("        ", rest)
			}
		},
		OnStageEnd: func(_ *piped.Run, s piped.StageRecord) {
			p.line("    %s %s in %s (plugin ≈%s, log flush ≈%s)", statusMark(s.Status), shortStatus(s.Status),
				round(s.Latency()), round(s.PluginTime()), round(s.FlushWait()))
			if s.Err != nil {
				p.line("      error: %v", s.Err)
			}
			showTraffic()
		},
	}

	var results []*piped.Result
	p.header("Deployment 1/2: %s at %s (the version running before the canary)", serviceID, f.previousImage)
	v1 := strings.Replace(manifest, image, f.previousImage, 1)
	res, err := pd.Deploy(ctx, piped.Deployment{
		AppDir: f.app, Commit: commitHash("v1"), CommitMessage: "Deploy " + f.previousImage,
		Files: map[string]string{manifestFile: v1}, Hooks: hooks,
	})
	if err != nil {
		return err
	}
	results = append(results, res)
	if res.Terminated {
		return fmt.Errorf("interrupted: %s", res.StatusReason)
	}
	if res.Status != model.DeploymentStatus_DEPLOYMENT_SUCCESS {
		return fmt.Errorf("the first deployment ended %s: %s", res.Status, res.StatusReason)
	}

	files, err := prepareCanary(ctx, p, f, reader, serviceName, addr, image)
	if err != nil {
		return err
	}
	p.header("Deployment 2/2: %s at %s (canary pipeline, scenario %s)", serviceID, image, f.scenario)
	res, err = pd.Deploy(ctx, piped.Deployment{
		AppDir: f.app, Commit: commitHash("v2"), CommitMessage: "Deploy " + image, Files: files, Hooks: hooks,
	})
	if err != nil {
		return err
	}
	results = append(results, res)
	if res.Terminated {
		return fmt.Errorf("interrupted: %s", res.StatusReason)
	}

	p.header("Summary")
	for i, r := range results {
		p.line("Deployment %d: %s, %s — %s", i+1, r.Strategy, shortDeploymentStatus(r.Status), r.StatusReason)
		for _, s := range r.Executed() {
			p.line("  %-26s %-9s total %6s  plugin ≈%6s  log flush ≈%6s", s.Name, shortStatus(s.Status),
				round(s.Latency()), round(s.PluginTime()), round(s.FlushWait()))
		}
	}
	if err := printService(ctx, p, reader, serviceName); err != nil {
		return err
	}
	p.line("\nDone in %s.", since(start))
	if f.scenario == scenarioBadCanary {
		return expectRolledBack(p, res)
	}
	if res.Status != model.DeploymentStatus_DEPLOYMENT_SUCCESS {
		return fmt.Errorf("the canary deployment ended %s: %s", res.Status, res.StatusReason)
	}
	return nil
}

// prepareCanary sets the scene of the canary deployment: fakerun's load generator sends traffic to the service,
// v2 answers badly in the bad-canary scenario, and the analysis is scaled down. It returns the files that
// override the application's.
func prepareCanary(ctx context.Context, p *printer, f flags, reader *cloudrun.Reader, serviceName, addr, image string) (map[string]string, error) {
	svc, err := reader.Service(ctx, serviceName)
	if err != nil {
		return nil, fmt.Errorf("failed to read the service: %w", err)
	}
	admin := fakerunAdmin{addr: addr}
	if err := admin.startLoad(ctx, svc.GetUri(), f.loadRate, f.timeout); err != nil {
		return nil, err
	}
	p.step("fakerun's load generator sends %d requests a second to %s", f.loadRate, svc.GetUri())
	if f.scenario == scenarioBadCanary {
		if err := admin.breakImage(ctx, image); err != nil {
			return nil, err
		}
		p.step("Scenario bad-canary: revisions of %s answer 20%% of their requests with 503", image)
	}
	raw, err := os.ReadFile(filepath.Join(f.app, "app.pipecd.yaml"))
	if err != nil {
		return nil, err
	}
	config, err := scaleAnalysis(string(raw), f.analysisScale)
	if err != nil {
		return nil, err
	}
	p.step("CLOUDRUN_ANALYSIS durations scaled by %g (fakerun's metrics are per second and visible at once)", f.analysisScale)
	return map[string]string{"app.pipecd.yaml": config}, nil
}

// expectRolledBack reports whether the bad canary was caught: the deployment failed and CLOUDRUN_ROLLBACK ran.
func expectRolledBack(p *printer, res *piped.Result) error {
	executed := res.Executed()
	if res.Status != model.DeploymentStatus_DEPLOYMENT_FAILURE || len(executed) == 0 ||
		executed[len(executed)-1].Name != "CLOUDRUN_ROLLBACK" || executed[len(executed)-1].Status != model.StageStatus_STAGE_SUCCESS {
		return fmt.Errorf("the bad canary was not rolled back: the deployment ended %s: %s", res.Status, res.StatusReason)
	}
	p.line("The analysis caught the bad revision and CLOUDRUN_ROLLBACK restored the traffic from before the deployment.")
	return nil
}

func printService(ctx context.Context, p *printer, reader *cloudrun.Reader, name string) error {
	svc, err := reader.Service(ctx, name)
	if err != nil {
		return fmt.Errorf("failed to read the service: %w", err)
	}
	revs, err := reader.Revisions(ctx, name)
	if err != nil {
		return fmt.Errorf("failed to list the revisions: %w", err)
	}
	p.line("\nFinal state of %s", name)
	p.line("  URI: %s", svc.GetUri())
	p.line("  latest ready revision: %s", naming.ShortName(svc.GetLatestReadyRevision()))
	p.line("  traffic:")
	p.block("    ", cloudrun.TrafficTable(svc))
	for _, t := range svc.GetTrafficStatuses() {
		if t.GetUri() != "" {
			p.line("  tag %s → %s", t.GetTag(), t.GetUri())
		}
	}
	p.line("  revisions (%d):", len(revs))
	for _, r := range revs {
		img := ""
		if cs := r.GetContainers(); len(cs) > 0 {
			img = cs[0].GetImage()
		}
		p.line("    %s  %s", naming.ShortName(r.GetName()), img)
	}
	return nil
}

// readApp loads the application's service manifest: its file name, content, service id and first image.
func readApp(appDir string) (file, content, service, image string, err error) {
	var app struct {
		Spec struct {
			Plugins map[string]struct {
				Input struct {
					ServiceManifestFile string `json:"serviceManifestFile"`
				} `json:"input"`
			} `json:"plugins"`
		} `json:"spec"`
	}
	raw, err := os.ReadFile(filepath.Join(appDir, "app.pipecd.yaml"))
	if err != nil {
		return "", "", "", "", err
	}
	if err := yaml.Unmarshal(raw, &app); err != nil {
		return "", "", "", "", fmt.Errorf("%s/app.pipecd.yaml: %w", appDir, err)
	}
	file = "service.yaml"
	if f := app.Spec.Plugins["cloudrun"].Input.ServiceManifestFile; f != "" {
		file = f
	}
	data, err := os.ReadFile(filepath.Join(appDir, file))
	if err != nil {
		return "", "", "", "", err
	}
	var svc struct {
		Name     string `json:"name"`
		Template struct {
			Containers []struct {
				Image string `json:"image"`
			} `json:"containers"`
		} `json:"template"`
	}
	if err := yaml.Unmarshal(data, &svc); err != nil {
		return "", "", "", "", fmt.Errorf("%s: %w", file, err)
	}
	if svc.Name == "" || len(svc.Template.Containers) == 0 || svc.Template.Containers[0].Image == "" {
		return "", "", "", "", errors.New(file + ": the demo needs a manifest with a name and a container image")
	}
	return file, string(data), naming.ShortName(svc.Name), svc.Template.Containers[0].Image, nil
}

// withTag replaces the tag of an image reference (or adds one).
func withTag(image, tag string) string {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image + ":" + tag
}

// commitHash returns a stable fake commit hash (40 hex digits) for a version label.
func commitHash(label string) string {
	return fmt.Sprintf("%x", sha1.Sum([]byte("demo-"+label)))
}

func severityMark(s model.LogSeverity) string {
	switch s {
	case model.LogSeverity_SUCCESS:
		return "✔"
	case model.LogSeverity_ERROR:
		return "✘"
	default:
		return "│"
	}
}

func statusMark(s model.StageStatus) string {
	if s == model.StageStatus_STAGE_SUCCESS {
		return "✔"
	}
	return "✘"
}

func shortStatus(s model.StageStatus) string { return strings.TrimPrefix(s.String(), "STAGE_") }

func shortDeploymentStatus(s model.DeploymentStatus) string {
	return strings.TrimPrefix(s.String(), "DEPLOYMENT_")
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

func since(t time.Time) time.Duration { return round(time.Since(t)) }

// printer writes the demo's output; hooks run on several goroutines, so every write holds mu.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *printer) block(indent, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		_, _ = fmt.Fprintln(p.w, indent+l)
	}
}

func (p *printer) step(format string, args ...any) { p.line("▶ "+format, args...) }

func (p *printer) done(format string, args ...any) { p.line("  "+format, args...) }

func (p *printer) header(format string, args ...any) {
	title := fmt.Sprintf(format, args...)
	p.line("\n%s\n%s", title, strings.Repeat("═", len([]rune(title))))
}
