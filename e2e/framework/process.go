package framework

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pipecd-cloudrun/cloudrun/e2e/piped"
)

// ProcessStats is what a plugin process holds at one moment.
type ProcessStats struct {
	// RSS is the resident set size (VmRSS), in kB.
	RSS int
	// Threads is the number of OS threads.
	Threads int
	// Goroutines is the total of the process's goroutine profile.
	Goroutines int
}

func (s ProcessStats) String() string {
	return fmt.Sprintf("RSS %.1f MiB, %d goroutines, %d threads", float64(s.RSS)/1024, s.Goroutines, s.Threads)
}

// PluginStats reads the footprint of the plugin that pd runs: RSS and threads from /proc, goroutines from the
// goroutine profile of the SDK's admin server. The SDK binds that server to a random port and logs none, so
// it is found among the process's listening sockets other than the plugin's gRPC port; the plugin adds no
// debug endpoint of its own.
func PluginStats(ctx context.Context, pd *piped.Piped) (ProcessStats, error) {
	var st ProcessStats
	pid := pd.PluginPID()
	_, grpcPort, err := net.SplitHostPort(pd.PluginAddr())
	if err != nil {
		return st, err
	}
	if st.RSS, err = procStatus(pid, "VmRSS"); err != nil {
		return st, err
	}
	if st.Threads, err = procStatus(pid, "Threads"); err != nil {
		return st, err
	}
	ports, err := listeningPorts(pid)
	if err != nil {
		return st, err
	}
	for _, port := range ports {
		if strconv.Itoa(port) == grpcPort {
			continue
		}
		if n, err := goroutineTotal(ctx, port); err == nil {
			st.Goroutines = n
			return st, nil
		}
	}
	return st, fmt.Errorf("no listening port of process %d (%v) serves a goroutine profile at /debug/pprof/goroutine", pid, ports)
}

// PeakRSS returns the peak resident set size (VmHWM) of a process, in kB.
func PeakRSS(pid int) (int, error) { return procStatus(pid, "VmHWM") }

// procStatus returns a numeric field of /proc/<pid>/status (the first number after "field:").
func procStatus(pid int, field string) (int, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// listeningPorts returns the TCP ports on which process pid listens: the sockets among its file
// descriptors that /proc/<pid>/net/tcp{,6} lists in state LISTEN.
func listeningPorts(pid int) ([]int, error) {
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			const listen = "0A"
			if len(fields) < 10 || fields[3] != listen || !inodes[fields[9]] {
				continue
			}
			hexPort := fields[1][strings.LastIndexByte(fields[1], ':')+1:]
			if port, err := strconv.ParseInt(hexPort, 16, 32); err == nil {
				ports = append(ports, int(port))
			}
		}
		_ = f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return ports, nil
}

// goroutineTotal reads "goroutine profile: total N" from the pprof handler on 127.0.0.1:port.
func goroutineTotal(ctx context.Context, port int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/goroutine?debug=1", port)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	line, err := bufio.NewReader(io.LimitReader(resp.Body, 256)).ReadString('\n')
	if err != nil {
		return 0, err
	}
	total, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("%s: not a goroutine profile: %q", url, line)
	}
	return strconv.Atoi(total)
}
