package install

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	config "github.com/pipe-cd/pipecd/pkg/configv1"
	"github.com/pipe-cd/pipecd/pkg/lifecycle"
	"go.uber.org/zap"
)

// Environment of the test binary when it runs as piped's plugin launcher (see launch).
const (
	// installURLEnv is the plugin's spec.plugins[].url in piped.yaml.
	installURLEnv = "E2E_INSTALL_URL"
	// pluginsDirEnv is piped's plugins directory (~/.piped/plugins), where the plugin is cached by name.
	pluginsDirEnv = "E2E_INSTALL_PLUGINS_DIR"
)

// launchGrace is how long the launcher waits for the plugin after SIGTERM; shorter than the stand-in's grace period,
// which then kills the launcher.
const launchGrace = 3 * time.Second

// launch is piped's part in installing a plugin. The piped stand-in (e2e/piped) starts the test binary in place of
// the plugin, with the arguments it gives the plugin; launch then does what piped's runPlugins
// (pkg/app/pipedv1/cmd/piped) does with spec.plugins[] of piped.yaml: lifecycle.DownloadBinary from the URL into the
// plugins directory under the plugin's name, lifecycle.RunBinary with `start --piped-plugin-service
// localhost:<port> --config <the plugin's config as JSON>`, and on SIGTERM, as piped on shutdown, GracefulStop. The
// plugin writes to this process's stdout and stderr, which the stand-in records. It returns the exit code.
func launch(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger, err := zap.NewDevelopment()
	if err != nil {
		fmt.Fprintln(os.Stderr, "launcher:", err)
		return 1
	}
	if err := runPlugin(ctx, args, logger); err != nil {
		logger.Error("launcher failed", zap.Error(err))
		return 1
	}
	return 0
}

func runPlugin(ctx context.Context, args []string, logger *zap.Logger) error {
	if len(args) == 0 || args[0] != "start" {
		return fmt.Errorf("want the plugin's arguments `start --piped-plugin-service ... --config ...`, got %q", args)
	}
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	service := fs.String("piped-plugin-service", "", "address of piped's PluginService")
	cfgJSON := fs.String("config", "", "the plugin's config (config.PipedPlugin as JSON)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var pCfg config.PipedPlugin
	if err := json.Unmarshal([]byte(*cfgJSON), &pCfg); err != nil {
		return fmt.Errorf("parsing --config: %w", err)
	}
	// What piped.yaml says, instead of the stand-in's file:// URL of this binary. Like piped, the launcher does not
	// validate it (config.PipedSpec.Validate skips plugins): the plugin does, on --config.
	pCfg.URL = os.Getenv(installURLEnv)
	_, port, err := net.SplitHostPort(*service)
	if err != nil {
		return fmt.Errorf("--piped-plugin-service %q: %w", *service, err)
	}
	servicePort, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("--piped-plugin-service %q: %w", *service, err)
	}

	// From here on as runPlugins.
	pPath, err := lifecycle.DownloadBinary(pCfg.URL, os.Getenv(pluginsDirEnv), pCfg.Name, logger)
	if err != nil {
		return fmt.Errorf("failed to download plugin %s: %w", pCfg.Name, err)
	}
	pArgs := []string{"start", "--piped-plugin-service", net.JoinHostPort("localhost", strconv.Itoa(servicePort))}
	b, err := json.Marshal(pCfg)
	if err != nil {
		return fmt.Errorf("failed to prepare plugin %s config: %w", pCfg.Name, err)
	}
	pArgs = append(pArgs, "--config", string(b))
	cmd, err := lifecycle.RunBinary(ctx, pPath, pArgs)
	if err != nil {
		return fmt.Errorf("failed to run plugin %s: %w", pCfg.Name, err)
	}

	for cmd.IsRunning() {
		select {
		case <-ctx.Done():
			return cmd.GracefulStop(launchGrace)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("the plugin exited on its own")
}
