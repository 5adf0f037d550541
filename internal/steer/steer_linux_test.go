package steer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

func open(t *testing.T) *Steering {
	t.Helper()
	s, err := Open("")
	if err != nil {
		t.Skipf("no BPF steering on this kernel or for this user: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// listen returns a listener whose accepted connections arrive on the channel.
func listen(t *testing.T, addr string) (net.Listener, chan net.Conn) {
	t.Helper()
	// Plain TCP, as PostgreSQL listens: Go's listeners default to MPTCP, which a sockmap
	// cannot hold.
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 8)
	acceptInto(ln, ch)
	return ln, ch
}

// acceptInto hands every connection ln accepts to ch, until ln closes.
func acceptInto(ln net.Listener, ch chan<- net.Conn) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- c
		}
	}()
}

func dialFrom(t *testing.T, src, dst string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", dst)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", dst, src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// arrives says which listener got the next connection.
func arrives(t *testing.T, server, gateway chan net.Conn) (string, net.Conn) {
	t.Helper()
	select {
	case c := <-server:
		return "server", c
	case c := <-gateway:
		return "gateway", c
	case <-time.After(5 * time.Second):
		t.Fatal("no listener got the connection")
	}
	return "", nil
}

// refusedFrom dials dst from src and expects the kernel's reset at the SYN: connect
// fails with ECONNREFUSED and neither listener ever sees the connection.
func refusedFrom(t *testing.T, src, dst string, server, gateway chan net.Conn) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", dst)
	if err == nil {
		c.Close()
		t.Fatalf("%s connected to %s; want connection refused", src, dst)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s from %s: %v; want ECONNREFUSED", dst, src, err)
	}
	select {
	case <-server:
		t.Fatalf("refused %s still reached the server", src)
	case <-gateway:
		t.Fatalf("refused %s still reached the gateway", src)
	default:
	}
}

// reports collects what s reports of refused connections.
func reports(t *testing.T, s *Steering) chan Refused {
	ch := make(chan Refused, 64)
	go func() {
		for {
			r, err := s.Read()
			if err != nil {
				return
			}
			ch <- r
		}
	}()
	return ch
}

func nextReport(t *testing.T, ch chan Refused) Refused {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no report of the refused connection")
	}
	return Refused{}
}

// waitGap lets the per-endpoint report interval pass, so the next refusal is reported.
func waitGap() { time.Sleep(2 * reportGap * time.Nanosecond) }

func TestAdmittedSourcesReachTheServerAndOthersAreRefusedAtTheSYN(t *testing.T) {
	s := open(t)
	refusals := reports(t, s)
	srvLn, server := listen(t, "127.0.0.1:0")
	gwLn, gateway := listen(t, "127.0.0.1:0")
	endpoint := netip.MustParseAddrPort(gwLn.Addr().String())
	srv := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(srvLn.Addr().String())}

	if err := s.Route("ep", []netip.AddrPort{endpoint}, srv, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		t.Fatal(err)
	}
	dialFrom(t, "127.0.0.2", endpoint.String())
	got, c := arrives(t, server, gateway)
	if got != "server" {
		t.Fatalf("admitted 127.0.0.2 reached the %s", got)
	}
	if c.LocalAddr().String() != endpoint.String() || c.RemoteAddr().(*net.TCPAddr).IP.String() != "127.0.0.2" {
		t.Fatalf("steered connection %s → %s; want the client's address to the endpoint's", c.RemoteAddr(), c.LocalAddr())
	}
	refusedFrom(t, "127.0.0.3", endpoint.String(), server, gateway)
	r := nextReport(t, refusals)
	if r.Name != "ep" || r.Reason != RefusedBySecurityGroups || r.Source.Addr() != netip.MustParseAddr("127.0.0.3") || r.Source.Port() == 0 || r.Endpoint != endpoint {
		t.Fatalf("report %+v; want ep, security groups, from 127.0.0.3 to %s", r, endpoint)
	}
	// A second refusal at once is counted, not reported again.
	refusedFrom(t, "127.0.0.3", endpoint.String(), server, gateway)
	if c := s.Counters("ep"); c.Refused != (Refusals{SecurityGroups: 2}) || c.Accepted != 1 {
		t.Fatalf("counted %+v; want 1 accepted and 2 refused by the security groups", c)
	}
	select {
	case r := <-refusals:
		t.Fatalf("a second report within the interval: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}

	// A new admission replaces the old one for new connections.
	if err := s.Route("ep", []netip.AddrPort{endpoint}, srv, []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}); err != nil {
		t.Fatal(err)
	}
	dialFrom(t, "127.0.0.3", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "server" {
		t.Fatalf("127.0.0.3, admitted now, reached the %s", got)
	}
	refusedFrom(t, "127.0.0.2", endpoint.String(), server, gateway)

	// The server exits: admitted sources are refused too, for want of it.
	srvLn.Close()
	waitGap()
	refusedFrom(t, "127.0.0.3", endpoint.String(), server, gateway)
	if r := nextReport(t, refusals); r.Reason != RefusedNoServer || r.Source.Addr() != netip.MustParseAddr("127.0.0.3") {
		t.Fatalf("report %+v; want no server, from 127.0.0.3", r)
	}
	if c := s.Counters("ep"); c.Refused != (Refusals{SecurityGroups: 3, NoServer: 1}) {
		t.Fatalf("refusals counted %+v; want 3 by the security groups and 1 for want of a server", c.Refused)
	}

	s.Unroute("ep")
	dialFrom(t, "127.0.0.2", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "gateway" {
		t.Fatalf("after Unroute, 127.0.0.2 reached the %s", got)
	}
}

// An endpoint that is not steered (its server's socket cannot be had, or the gateway
// relays it) still refuses at the SYN; admitted sources reach the gateway's listener.
func TestRelayedEndpointRefusesAtTheSYNAndPassesTheAdmitted(t *testing.T) {
	s := open(t)
	_, server := listen(t, "127.0.0.1:0")
	gwLn, gateway := listen(t, "127.0.0.1:0")
	endpoint := netip.MustParseAddrPort(gwLn.Addr().String())
	if err := s.Route("ep", []netip.AddrPort{endpoint}, Server{}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		t.Fatal(err)
	}
	dialFrom(t, "127.0.0.2", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "gateway" {
		t.Fatalf("admitted 127.0.0.2 reached the %s; want the gateway, which relays", got)
	}
	refusedFrom(t, "127.0.0.3", endpoint.String(), server, gateway)

	// A server that cannot be steered to (no such process) leaves the endpoint relayed.
	err := s.Route("ep", []netip.AddrPort{endpoint}, Server{PID: 1 << 30, Addr: netip.MustParseAddrPort("127.0.0.1:1")}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	if err == nil {
		t.Fatal("Route to a process that does not exist succeeded")
	}
	dialFrom(t, "127.0.0.2", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "gateway" {
		t.Fatalf("admitted 127.0.0.2 reached the %s; want the gateway, which relays", got)
	}
	refusedFrom(t, "127.0.0.3", endpoint.String(), server, gateway)

	// No server at all: everyone is refused, each counted under its reason.
	if err := s.Refuse("ep", []netip.AddrPort{endpoint}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		t.Fatal(err)
	}
	refusedFrom(t, "127.0.0.2", endpoint.String(), server, gateway)
	refusedFrom(t, "127.0.0.3", endpoint.String(), server, gateway)
	if c := s.Counters("ep"); c.Refused != (Refusals{SecurityGroups: 3, NoServer: 1}) {
		t.Fatalf("refusals counted %+v; want 3 by the security groups and 1 for want of a server", c.Refused)
	}
}

// One endpoint on IPv4 and IPv6 with one admission: each family is steered to the
// server's socket of that family, and refused by the same rules.
func TestBothFamiliesAreSteeredAndRefused(t *testing.T) {
	s := open(t)
	srvLn, server := listen(t, "127.0.0.1:0")
	port := srvLn.Addr().(*net.TCPAddr).Port
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	srv6, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort("::1", strconv.Itoa(port)))
	if err != nil {
		t.Skipf("no IPv6 loopback, or its port is taken: %v", err)
	}
	defer srv6.Close()
	go func() {
		for {
			c, err := srv6.Accept()
			if err != nil {
				return
			}
			server <- c
		}
	}()
	gw4, gateway := listen(t, "127.0.0.1:0")
	gw6, err := lc.Listen(context.Background(), "tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer gw6.Close()
	acceptInto(gw6, gateway)
	locals := []netip.AddrPort{netip.MustParseAddrPort(gw4.Addr().String()), netip.MustParseAddrPort(gw6.Addr().String())}
	srv := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(srvLn.Addr().String())}

	if err := s.Route("ep", locals, srv, []netip.Prefix{netip.MustParsePrefix("::1/128")}); err != nil {
		t.Fatal(err)
	}
	dialFrom(t, "::1", locals[1].String())
	if got, c := arrives(t, server, gateway); got != "server" || c.LocalAddr().String() != locals[1].String() {
		t.Fatalf("admitted ::1 reached the %s", got)
	}
	refusedFrom(t, "127.0.0.1", locals[0].String(), server, gateway)

	if err := s.Route("ep", locals, srv, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}); err != nil {
		t.Fatal(err)
	}
	dialFrom(t, "127.0.0.1", locals[0].String())
	if got, c := arrives(t, server, gateway); got != "server" || c.LocalAddr().String() != locals[0].String() {
		t.Fatalf("admitted 127.0.0.1 reached the %s", got)
	}
	refusedFrom(t, "::1", locals[1].String(), server, gateway)
	if c := s.Counters("ep"); c.Refused.SecurityGroups != 2 || c.Accepted != 2 {
		t.Fatalf("counted %+v; want 2 steered and 2 refused", c)
	}
}

// An endpoint on the wildcard address decides for every address of the host.
func TestWildcardEndpointIsSteeredAndRefused(t *testing.T) {
	s := open(t)
	srvLn, server := listen(t, "127.0.0.1:0")
	gwLn, gateway := listen(t, "0.0.0.0:0") // Go listens dual-stack, on [::]
	wildcard := netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(gwLn.Addr().(*net.TCPAddr).Port))
	endpoint := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), wildcard.Port())
	srv := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(srvLn.Addr().String())}
	if err := s.Route("ep", []netip.AddrPort{wildcard}, srv, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		t.Fatal(err)
	}
	dialFrom(t, "127.0.0.2", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "server" {
		t.Fatalf("admitted 127.0.0.2 reached the %s", got)
	}
	refusedFrom(t, "127.0.0.3", endpoint.String(), server, gateway)
}

func TestSteeredConnectionsAreCounted(t *testing.T) {
	s := open(t)
	srvLn, server := listen(t, "127.0.0.1:0")
	gwLn, gateway := listen(t, "127.0.0.1:0")
	endpoint := netip.MustParseAddrPort(gwLn.Addr().String())
	srv := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(srvLn.Addr().String())}
	if err := s.Route("ep", []netip.AddrPort{endpoint}, srv, []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}); err != nil {
		t.Fatal(err)
	}
	client := dialFrom(t, "127.0.0.4", endpoint.String())
	_, sc := arrives(t, server, gateway)
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(sc, buf); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Write([]byte("hi!")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, buf[:3]); err != nil {
		t.Fatal(err)
	}
	if c := s.Counters("ep"); c.Accepted != 1 || c.Closed != 0 {
		t.Fatalf("open connection counted as %+v; want 1 accepted, 0 closed", c)
	}
	client.Close()
	sc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.Counters("ep").Closed == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// The kernel's byte counters count a FIN as a byte (the sequence space).
	if c := s.Counters("ep"); c != (Counters{Accepted: 1, Closed: 1, BytesIn: 5 + 1, BytesOut: 3 + 1}) {
		t.Fatalf("closed connection counted as %+v; want 1 accepted and closed, 5+FIN bytes in, 3+FIN out", c)
	}
}

// TestKillLeavesNoSteeringBehind kills -9 a process that holds unpinned steering and a
// fence and checks that their programs are gone with it: without a pin directory nothing
// outlives the process (TestPinnedSteeringAndFenceOutliveTheirProcess is the other way).
func TestKillLeavesNoSteeringBehind(t *testing.T) {
	if os.Getenv("STEER_TEST_CHILD") == "1" {
		s, err := Open("")
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		f, err := OpenFence("")
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		for _, l := range append(s.links, f.links...) {
			info, err := l.Info()
			if err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			fmt.Println("program", info.Program)
		}
		fmt.Println("ready")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	open(t) // skips where steering is unavailable
	cmd := exec.Command(os.Args[0], "-test.run", "^TestKillLeavesNoSteeringBehind$")
	cmd.Env = append(os.Environ(), "STEER_TEST_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var ids []ebpf.ProgramID
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "ready" {
		var id ebpf.ProgramID
		if _, err := fmt.Sscanf(sc.Text(), "program %d", &id); err != nil {
			t.Fatalf("child: %s", sc.Text())
		}
		ids = append(ids, id)
	}
	if len(ids) != 6 {
		t.Fatalf("child attached %d programs; want sk_lookup, sock_ops and the fence's connect and bind programs", len(ids))
	}
	for _, id := range ids {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			t.Fatalf("program %d of the live child: %v", id, err)
		}
		p.Close()
	}
	cmd.Process.Kill()
	cmd.Wait()
	// The kernel frees them once the dead process's descriptors are released (RCU).
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for {
			p, err := ebpf.NewProgramFromID(id)
			if err != nil {
				break
			}
			p.Close()
			if time.Now().After(deadline) {
				t.Fatalf("program %d still loaded after its process was killed", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
