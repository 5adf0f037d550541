package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A second serve on a data directory in use exits at once and names the first's pid,
// instead of starting and fighting the first over its clusters.
func TestSecondServeOnSameDataDirExitsNamingTheFirst(t *testing.T) {
	t.Parallel()
	first := shared.get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "serve", "--data-dir", first.DataDir, "--api-addr", freeAddr(t)).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the second serve did not exit:\n%s", out)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("the second serve exited with %v, want a non-zero status:\n%s", err, out)
	}
	pid := strconv.Itoa(first.cmd.Process.Pid)
	if !strings.Contains(string(out), "in use") || !strings.Contains(string(out), "pid "+pid) {
		t.Fatalf("the second serve's message does not name the first (pid %s):\n%s", pid, out)
	}
	// The first still serves.
	if _, err := first.rds(t).DescribeDBClusters(context.Background(), nil); err != nil {
		t.Fatalf("the first serve stopped answering: %v", err)
	}
}

// The start log tells an operator where everything is: the API and console URLs, the
// root user's credentials file and the trust bundle.
func TestStartLogNamesURLsAndFiles(t *testing.T) {
	t.Parallel()
	srv := shared.get(t)
	b, err := os.ReadFile(srv.logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{
		"api=http://" + srv.APIAddr,
		"console=http://" + srv.APIAddr + "/console/",
		"credentials=" + filepath.Join(srv.DataDir, "credentials"),
		"trust_bundle=" + srv.bundlePath(),
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the start log does not say %s:\n%s", want, srv.logTail())
		}
	}
}

// With --metrics-addr, /metrics is served there alone: the API's address no longer says
// anything about the host to whoever can reach it.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	t.Parallel()
	metricsAddr := freeAddr(t)
	srv, err := startServer(testDataDir(t, "borealis-metrics-"), freeAddr(t), "--metrics-addr", metricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	status := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := status("http://" + metricsAddr + "/metrics"); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics address: %d\n%.300s", code, body)
	}
	if code, _ := status("http://" + srv.APIAddr + "/metrics"); code != http.StatusNotFound {
		t.Fatalf("the API still serves /metrics: %d", code)
	}
}
