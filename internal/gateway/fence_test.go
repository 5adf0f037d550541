package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/borealis-db/borealis/internal/steer"
)

// syncBuffer is a log destination the test reads while the gateway writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFencedServerIsReachedOnlyThroughItsEndpoint fences an echo "server": another local
// account connecting to its port is refused, counted and logged, while the endpoint still
// relays to it, with kernel steering on and off.
func TestFencedServerIsReachedOnlyThroughItsEndpoint(t *testing.T) {
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	// The system's python3: one under root's home is not the other account's to run.
	const python = "/usr/bin/python3"
	if _, err := exec.LookPath(python); err != nil {
		t.Skip("no python3 to connect as another account")
	}
	for _, steering := range []bool{false, true} {
		t.Run(fmt.Sprintf("steering=%v", steering), func(t *testing.T) {
			var logs syncBuffer
			reg := prometheus.NewRegistry()
			g := New(slog.New(slog.NewTextHandler(&logs, nil)), NewMetrics(reg), Options{KernelSteering: steering})
			t.Cleanup(g.Close)
			if g.fence == nil {
				t.Skip("no fence here (needs root, BPF and cgroup v2)")
			}
			backend := echoServer(t)
			_, portText, _ := net.SplitHostPort(backend)
			var port int
			fmt.Sscan(portText, &port)
			g.FenceServer("c1", "c1-writer", port, 0)
			if err := g.Ensure("ep", []string{"127.0.0.1:0"}, func() (Target, bool) {
				t := Target{Addr: backend, Admission: loopback}
				if steering {
					t.PID = os.Getpid() // this process is the server, whose socket steering takes
				}
				return t, true
			}); err != nil {
				t.Fatal(err)
			}
			endpoint := g.listeners["ep"].lns[0].Addr().String()

			connect := func(addr string) string {
				host, p, _ := net.SplitHostPort(addr)
				cmd := exec.Command(python, "-c", `import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close(); print("ok")
except OSError as e:
    print(e.errno)`, host, p)
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("python3 as nobody: %v", err)
				}
				return strings.TrimSpace(string(out))
			}
			if got := connect(backend); got != fmt.Sprint(int(syscall.EPERM)) {
				t.Errorf("nobody to the private port: %s; want EPERM (%d)", got, syscall.EPERM)
			}
			if got := connect(endpoint); got != "ok" {
				t.Errorf("nobody to the endpoint: %s; want ok", got)
			}
			assertEchoes(t, net.Dialer{}, endpoint)

			if _, err := reg.Gather(); err != nil {
				t.Fatal(err)
			}
			if n := value(g.metrics.privateRefused.WithLabelValues("c1", "c1-writer")); n != 1 {
				t.Errorf("refused = %v; want 1", n)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logs.String(), "connection to a private port refused") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if l := logs.String(); !strings.Contains(l, "instance=c1-writer") || !strings.Contains(l, "uid=65534") || !strings.Contains(l, "command=python3") {
				t.Errorf("the refusal was not logged with who tried:\n%s", l)
			}

			g.UnfenceServer("c1-writer")
			if got := connect(backend); got != "ok" {
				t.Errorf("nobody to the port of a server no longer fenced: %s; want ok", got)
			}
		})
	}
}

// TestRelayDialsWithTheFencesMark: the fence lets the relay through by its socket mark,
// not only because serve runs as root.
func TestRelayDialsWithTheFencesMark(t *testing.T) {
	backend := echoServer(t)
	c, err := relayDialer.Dial("tcp", backend)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var mark int
	var gerr error
	rc.Control(func(fd uintptr) { mark, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	if mark != steer.RelayMark {
		t.Fatalf("relay socket mark %#x; want %#x", mark, steer.RelayMark)
	}
}

// TestRelayRefusesAnImpostorOnThePrivatePort: a process that took 127.0.0.1:P while
// serve was down (so no fence refused its bind), with the server up on [::1]:P alone, as
// PostgreSQL starts when one of its addresses is taken, must not get the endpoint's
// connections from the relay.
func TestRelayRefusesAnImpostorOnThePrivatePort(t *testing.T) {
	impostor := exec.Command("/usr/bin/python3", "-c", `import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"impostor"); c.close()`)
	out, err := impostor.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := impostor.Start(); err != nil {
		t.Skipf("python3: %v", err)
	}
	t.Cleanup(func() { impostor.Process.Kill(); impostor.Wait() })
	var port int
	if _, err := fmt.Fscan(out, &port); err != nil {
		t.Fatal(err)
	}
	var lc net.ListenConfig
	server, err := lc.Listen(context.Background(), "tcp6", fmt.Sprintf("[::1]:%d", port))
	if err != nil {
		t.Skipf("no ::1: %v", err)
	}
	defer server.Close()

	reg := prometheus.NewRegistry()
	g := New(slog.New(slog.DiscardHandler), NewMetrics(reg), Options{})
	t.Cleanup(g.Close)
	backend := fmt.Sprintf("127.0.0.1:%d", port)
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, func() (Target, bool) {
		return Target{Addr: backend, Admission: loopback, PID: os.Getpid()}, true
	}); err != nil {
		t.Fatal(err)
	}
	endpoint := g.listeners["ep"].lns[0].Addr().String()
	assertClosedWithoutData(t, endpoint, []byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"))
	if n := value(g.metrics.refused.WithLabelValues("ep", "server-impostor")); n != 1 {
		t.Errorf("refused as server-impostor: %v; want 1", n)
	}

	// Once the server holds its port again, the relay carries on.
	impostor.Process.Kill()
	impostor.Wait()
	ln, err := lc.Listen(context.Background(), "tcp4", backend)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	assertEchoes(t, net.Dialer{}, endpoint)
}

// TestEndpointPortIsServesFromEnsureToRemove: from Ensure on, no local account but root
// binds the endpoint's port, so none can take it while serve is away; the refusal is
// logged; Remove gives the port back.
func TestEndpointPortIsServesFromEnsureToRemove(t *testing.T) {
	var logs syncBuffer
	g := New(slog.New(slog.NewTextHandler(&logs, nil)), nil, Options{})
	t.Cleanup(g.Close)
	if g.fence == nil {
		t.Skip("no fence here (needs root, BPF and cgroup v2)")
	}
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, func() (Target, bool) { return Target{}, false }); err != nil {
		t.Fatal(err)
	}
	port := g.listeners["ep"].lns[0].Addr().(*net.TCPAddr).Port
	// nobody binds the port on another address (the endpoint's own is taken by serve).
	bindAsNobody := func() string {
		t.Helper()
		cmd := exec.Command("/usr/bin/python3", "-c", fmt.Sprintf("import socket; socket.create_server(('127.0.0.2', %d))", port))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out)
		}
		return "ok"
	}
	if got := bindAsNobody(); !strings.Contains(got, "PermissionError") {
		t.Errorf("nobody's bind of the endpoint's port: %s; want PermissionError", got)
	}
	eventuallyTrue(t, "the refused bind logged", func() bool {
		return strings.Contains(logs.String(), "bind of an endpoint's port refused") && strings.Contains(logs.String(), "endpoint=ep")
	})
	g.Remove("ep")
	if got := bindAsNobody(); got != "ok" {
		t.Errorf("nobody's bind after Remove: %s; want ok", got)
	}
}

func eventuallyTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
