package steer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

func open(t *testing.T) *Steering {
	t.Helper()
	s, err := Open()
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
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- c
		}
	}()
	return ln, ch
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

func TestAdmittedSourcesReachTheServerAndOthersTheGateway(t *testing.T) {
	s := open(t)
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
	dialFrom(t, "127.0.0.3", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "gateway" {
		t.Fatalf("127.0.0.3, not admitted, reached the %s", got)
	}

	// A new admission replaces the old one for new connections.
	if err := s.Route("ep", []netip.AddrPort{endpoint}, srv, []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}); err != nil {
		t.Fatal(err)
	}
	dialFrom(t, "127.0.0.3", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "server" {
		t.Fatalf("127.0.0.3, admitted now, reached the %s", got)
	}
	dialFrom(t, "127.0.0.2", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "gateway" {
		t.Fatalf("127.0.0.2, no longer admitted, reached the %s", got)
	}

	s.Unroute("ep")
	dialFrom(t, "127.0.0.3", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "gateway" {
		t.Fatalf("after Unroute, 127.0.0.3 reached the %s", got)
	}
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

// TestKillLeavesNoSteeringBehind kills -9 a process that holds steering and a fence and
// checks that their programs are gone with it: nothing is pinned, so a crashed borealis
// serve leaves no connections being steered to servers it no longer watches (and no
// private port guarded: they are open to local processes until serve runs again).
func TestKillLeavesNoSteeringBehind(t *testing.T) {
	if os.Getenv("STEER_TEST_CHILD") == "1" {
		s, err := Open()
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		f, err := OpenFence()
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
