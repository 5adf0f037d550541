package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/borealis-db/borealis/internal/steer"
)

// steeredGateway is a gateway with kernel steering, logging to logs; the test skips
// where steering cannot be had.
func steeredGateway(t *testing.T, logs io.Writer) (*Gateway, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	g := New(slog.New(slog.NewTextHandler(logs, nil)), NewMetrics(reg), Options{KernelSteering: true})
	t.Cleanup(g.Close)
	if g.steer == nil {
		t.Skip("no kernel steering here (needs root, BPF and cgroup v2)")
	}
	return g, reg
}

// steeredServer is a listener standing in for the postmaster (this process), echoing;
// each connection it accepts arrives on the channel.
func steeredServer(t *testing.T) (net.Listener, chan net.Conn) {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(false) // as PostgreSQL listens
	server, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	arrived := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := server.Accept()
			if err != nil {
				return
			}
			arrived <- c
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return server, arrived
}

// routeVar is a route the test changes while the gateway reads it.
type routeVar struct {
	mu sync.Mutex
	t  Target
	ok bool
}

func (r *routeVar) set(change func(t *Target, ok *bool)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	change(&r.t, &r.ok)
}

func (r *routeVar) route() (Target, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.t, r.ok
}

func dialFrom(src, dst string) (net.Conn, error) {
	return (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}).Dial("tcp", dst)
}

// assertRefusedAtSYN expects connect itself to fail with ECONNREFUSED: the kernel
// answered the SYN with a reset, and nothing was accepted.
func assertRefusedAtSYN(t *testing.T, src, dst string) {
	t.Helper()
	c, err := dialFrom(src, dst)
	if err == nil {
		c.Close()
		t.Fatalf("%s connected to %s; want connection refused", src, dst)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s from %s: %v; want ECONNREFUSED", dst, src, err)
	}
}

func waitForLog(t *testing.T, logs *syncBuffer, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			if containsAll(line, want) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line with %q in:\n%s", want, logs.String())
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestAdmittedConnectionsAreSteeredPastTheGateway runs the gateway with kernel steering
// and this process as "the server": an admitted source's connection arrives at the
// server's own listener still addressed to the endpoint (the gateway never dialled it),
// the rest are refused at their SYN, and both show in the endpoint metrics and the log.
func TestAdmittedConnectionsAreSteeredPastTheGateway(t *testing.T) {
	var logs syncBuffer
	g, reg := steeredGateway(t, &logs)
	server, arrived := steeredServer(t)
	only2 := NewAdmission([]string{"sg-test"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	route := func() (Target, bool) {
		return Target{Addr: server.Addr().String(), Admission: only2, PID: os.Getpid()}, true
	}
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, route); err != nil {
		t.Fatal(err)
	}
	endpoint := g.listeners["ep"].lns[0].Addr().String()

	client, err := dialFrom("127.0.0.2", endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	select {
	case c := <-arrived:
		if c.LocalAddr().String() != endpoint || c.RemoteAddr().(*net.TCPAddr).IP.String() != "127.0.0.2" {
			t.Fatalf("the server got %s → %s; want the client's own connection to the endpoint %s", c.RemoteAddr(), c.LocalAddr(), endpoint)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the admitted connection never reached the server")
	}
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}

	assertRefusedAtSYN(t, "127.0.0.3", endpoint)
	waitForLog(t, &logs, "connection refused by security groups", "endpoint=ep", "source=127.0.0.3:", "groups=[sg-test]")

	// A scrape brings in what the kernel counted.
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if n := value(g.metrics.accepted.WithLabelValues("ep")); n != 1 {
		t.Errorf("accepted = %v; want 1, the steered connection", n)
	}
	if n := value(g.metrics.open.WithLabelValues("ep")); n != 1 {
		t.Errorf("open = %v; want the steered connection", n)
	}
	if n := value(g.metrics.refused.WithLabelValues("ep", "security-group")); n != 1 {
		t.Errorf("refused = %v; want 1", n)
	}
}

// Security-group changes apply to the very next connection, and the endpoint refuses at
// the SYN whether it is steered, relayed or without a server.
func TestRefusalsFollowTheRouteAtOnce(t *testing.T) {
	var logs syncBuffer
	g, reg := steeredGateway(t, &logs)
	server, arrived := steeredServer(t)
	rv := &routeVar{t: Target{Addr: server.Addr().String(), PID: os.Getpid(),
		Admission: NewAdmission([]string{"sg-a"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})}, ok: true}
	if err := g.Ensure("ep", []string{"127.0.0.1:0", "[::1]:0"}, rv.route); err != nil {
		t.Fatal(err)
	}
	v4, v6 := g.listeners["ep"].lns[0].Addr().String(), g.listeners["ep"].lns[1].Addr().String()
	steered := func(src, dst string) {
		t.Helper()
		c, err := dialFrom(src, dst)
		if err != nil {
			t.Fatalf("admitted %s: %v", src, err)
		}
		defer c.Close()
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatalf("admitted %s never reached the server", src)
		}
	}
	steered("127.0.0.2", v4)
	assertRefusedAtSYN(t, "127.0.0.3", v4)
	assertRefusedAtSYN(t, "::1", v6)

	// The rule changes; the next connection meets the new one.
	rv.set(func(t *Target, _ *bool) {
		t.Admission = NewAdmission([]string{"sg-b"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32"), netip.MustParsePrefix("::1/128")})
	})
	g.Refresh("ep")
	steered("127.0.0.3", v4)
	assertRefusedAtSYN(t, "127.0.0.2", v4)
	// The server listens on 127.0.0.1 only: the IPv6 endpoint is relayed to it.
	assertEchoes(t, net.Dialer{}, v6)

	// Relayed (no postmaster to steer to): admitted sources reach the gateway, which
	// relays them; the others are still refused at the SYN.
	rv.set(func(t *Target, _ *bool) { t.PID = 0 })
	g.Refresh("ep")
	assertEchoes(t, net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}, v4)
	assertRefusedAtSYN(t, "127.0.0.2", v4)

	// No server: everyone is refused at the SYN.
	rv.set(func(_ *Target, ok *bool) { *ok = false })
	g.Refresh("ep")
	time.Sleep(250 * time.Millisecond) // the kernel reports one refusal per endpoint in 100 ms
	assertRefusedAtSYN(t, "127.0.0.3", v4)
	waitForLog(t, &logs, "connection refused: no server behind endpoint", "endpoint=ep", "source=127.0.0.3:")
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if n := value(g.metrics.refused.WithLabelValues("ep", "security-group")); n != 4 {
		t.Errorf("refused by security groups = %v; want 4", n)
	}
	if n := value(g.metrics.refused.WithLabelValues("ep", "no-server")); n != 1 {
		t.Errorf("refused for want of a server = %v; want 1", n)
	}
}

// TestRestartedGatewayTakesOnThePinnedKernelState: a gateway with a DataDir leaves its
// kernel programs pinned (Leave, as a killed serve does); while no gateway runs, the
// endpoint still steers and refuses and the private port stays fenced. The next gateway
// on the same DataDir keeps that state while it does not know the server yet, applies a
// new rule at once once it does, and Close takes everything away.
func TestRestartedGatewayTakesOnThePinnedKernelState(t *testing.T) {
	dataDir := t.TempDir()
	t.Cleanup(func() { // whatever a failure left pinned
		if dir, err := steer.PinDir(dataDir); err == nil {
			os.RemoveAll(dir)
		}
	})
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	first := New(slog.New(slog.NewTextHandler(&logs, nil)), NewMetrics(reg), Options{KernelSteering: true, DataDir: dataDir})
	if first.steer == nil || first.fence == nil {
		first.Close()
		t.Skip("no kernel steering or fence here (needs root, BPF and cgroup v2)")
	}
	if !strings.Contains(logs.String(), "kernel programs pinned") {
		first.Close()
		t.Skipf("nothing pinned here:\n%s", logs.String())
	}
	server, arrived := steeredServer(t)
	privatePort := server.Addr().(*net.TCPAddr).Port
	only2 := NewAdmission([]string{"sg-a"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	rv := &routeVar{t: Target{Addr: server.Addr().String(), Admission: only2, PID: os.Getpid()}, ok: true}
	if err := first.Ensure("ep", []string{"127.0.0.1:0"}, rv.route); err != nil {
		first.Close()
		t.Fatal(err)
	}
	endpoint := first.listeners["ep"].lns[0].Addr().String()
	first.FenceServer("c", "i", privatePort, 0)
	first.Leave()

	steered := func(src string) {
		t.Helper()
		c, err := dialFrom(src, endpoint)
		if err != nil {
			t.Fatalf("admitted %s: %v", src, err)
		}
		defer c.Close()
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatalf("admitted %s never reached the server", src)
		}
	}
	fenced := func() bool {
		t.Helper()
		cmd := exec.Command("/usr/bin/python3", "-c", fmt.Sprintf("import socket; socket.create_connection(('127.0.0.1', %d), 5)", privatePort))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		return err != nil && strings.Contains(string(out), "PermissionError")
	}
	// The endpoint's port, which nothing listens on now, is no other account's to take.
	endpointBindRefused := func() bool {
		t.Helper()
		_, port, _ := net.SplitHostPort(endpoint)
		cmd := exec.Command("/usr/bin/python3", "-c", fmt.Sprintf("import socket; socket.create_server(('127.0.0.1', %s))", port))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		return err != nil && strings.Contains(string(out), "PermissionError")
	}
	steered("127.0.0.2")
	assertRefusedAtSYN(t, "127.0.0.3", endpoint)
	if !fenced() {
		t.Fatal("the private port is open while no gateway runs")
	}
	if !endpointBindRefused() {
		t.Fatal("another account can bind the endpoint's port while no gateway runs")
	}

	second := New(slog.New(slog.NewTextHandler(&logs, nil)), nil, Options{KernelSteering: true, DataDir: dataDir})
	t.Cleanup(second.Close)
	rv.set(func(_ *Target, ok *bool) { *ok = false }) // the restarted serve does not know the server yet
	if err := second.Ensure("ep", []string{endpoint}, rv.route); err != nil {
		t.Fatal(err)
	}
	steered("127.0.0.2")
	assertRefusedAtSYN(t, "127.0.0.3", endpoint)
	if !second.steer.Adopted("ep") {
		t.Fatal(`"ep" not adopted`)
	}
	second.FenceServer("c", "i", privatePort, 0)
	if !fenced() {
		t.Fatal("the private port is open after the restart")
	}
	// A rule changed before the restarted serve knows the server applies at once.
	second.Readmit("ep", NewAdmission([]string{"sg-a"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.4/32")}))
	steered("127.0.0.4")
	assertRefusedAtSYN(t, "127.0.0.2", endpoint)
	if !second.steer.Adopted("ep") {
		t.Fatal(`"ep" no longer adopted after Readmit`)
	}

	rv.set(func(t *Target, ok *bool) {
		t.Admission, *ok = NewAdmission([]string{"sg-b"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}), true
	})
	second.Refresh("ep")
	steered("127.0.0.3")
	assertRefusedAtSYN(t, "127.0.0.2", endpoint)
	second.ReleaseUnclaimed()
	steered("127.0.0.3")

	second.Close()
	if fenced() {
		t.Error("the private port is still fenced after Close")
	}
	if endpointBindRefused() {
		t.Error("the endpoint's port is still guarded after Close")
	}
	pins, _ := filepath.Glob("/sys/fs/bpf/borealis/*")
	for _, p := range pins {
		if dir, _ := steer.PinDir(dataDir); p == dir {
			t.Errorf("%s still pinned after Close", p)
		}
	}
}

// An endpoint the restarted serve listens for but never finds a server behind is, once
// ReleaseUnclaimed lets the earlier serve's state go, refused at the SYN as any endpoint
// without a server: not left to the gateway's listener.
func TestReleasedEndpointWithoutServerIsRefusedAtTheSYN(t *testing.T) {
	dataDir := t.TempDir()
	t.Cleanup(func() {
		if dir, err := steer.PinDir(dataDir); err == nil {
			os.RemoveAll(dir)
		}
	})
	var logs syncBuffer
	first := New(slog.New(slog.NewTextHandler(&logs, nil)), nil, Options{KernelSteering: true, DataDir: dataDir})
	if first.steer == nil || !strings.Contains(logs.String(), "kernel programs pinned") {
		first.Close()
		t.Skip("no pinned kernel steering here (needs root, BPF, cgroup v2 and bpffs)")
	}
	server, _ := steeredServer(t)
	target := Target{Addr: server.Addr().String(), PID: os.Getpid(),
		Admission: NewAdmission([]string{"sg-a"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})}
	if err := first.Ensure("ep", []string{"127.0.0.1:0"}, func() (Target, bool) { return target, true }); err != nil {
		first.Close()
		t.Fatal(err)
	}
	endpoint := first.listeners["ep"].lns[0].Addr().String()
	first.Leave()

	second := New(slog.New(slog.DiscardHandler), nil, Options{KernelSteering: true, DataDir: dataDir})
	t.Cleanup(second.Close)
	if err := second.Ensure("ep", []string{endpoint}, func() (Target, bool) { return target, false }); err != nil {
		t.Fatal(err)
	}
	second.ReleaseUnclaimed()
	if second.steer.Adopted("ep") {
		t.Fatal(`"ep" still adopted`)
	}
	assertRefusedAtSYN(t, "127.0.0.2", endpoint)
	if c := second.steer.Counters("ep"); c.Refused.NoServer != 1 {
		t.Errorf("kernel counts %+v; want the admitted source refused for want of a server", c)
	}
}
