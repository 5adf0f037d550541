package steer

import (
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// which says which of the servers (by index) got the next connection, or -1 for the
// gateway.
func which(t *testing.T, gateway chan net.Conn, servers ...chan net.Conn) int {
	t.Helper()
	cases := time.After(5 * time.Second)
	for {
		for i, ch := range servers {
			select {
			case c := <-ch:
				c.Close()
				return i
			default:
			}
		}
		select {
		case c := <-gateway:
			c.Close()
			return -1
		case <-cases:
			t.Fatal("no listener got the connection")
		case <-time.After(time.Millisecond):
		}
	}
}

func TestSpreadHandsAdmittedConnectionsToEveryServerInTheKernel(t *testing.T) {
	s := open(t)
	lnA, a := listen(t, "127.0.0.1:0")
	lnB, b := listen(t, "127.0.0.1:0")
	gwLn, gateway := listen(t, "127.0.0.1:0")
	endpoint := netip.MustParseAddrPort(gwLn.Addr().String())
	srvA := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(lnA.Addr().String())}
	srvB := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(lnB.Addr().String())}
	only2 := []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}

	// A's socket is also its own endpoint's: one socket in two slots.
	instLn, inst := listen(t, "127.0.0.1:0")
	instEP := netip.MustParseAddrPort(instLn.Addr().String())
	if err := s.Route("inst", []netip.AddrPort{instEP}, srvA, only2); err != nil {
		t.Fatal(err)
	}
	if err := s.Spread("ro", []netip.AddrPort{endpoint}, []Server{srvA, srvB}, only2); err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	for range 40 {
		dialFrom(t, "127.0.0.2", endpoint.String())
		got[which(t, gateway, a, b)]++
	}
	if got[0] != 20 || got[1] != 20 {
		t.Fatalf("40 connections: %d to A, %d to B, %d to the gateway; want 20 each, in turn", got[0], got[1], got[-1])
	}
	if c := s.Counters("ro"); c.Accepted != 40 {
		t.Fatalf("counted %d accepted; want 40", c.Accepted)
	}
	dialFrom(t, "127.0.0.2", instEP.String())
	if i := which(t, inst, a, b); i != 0 {
		t.Fatalf("the instance endpoint reached %d; want A", i)
	}
	// The security groups decide first, for the spread endpoint too.
	refusedFrom(t, "127.0.0.3", endpoint.String(), a, gateway)

	// B exits: its slot empties and every connection reaches A.
	lnB.Close()
	for range 10 {
		dialFrom(t, "127.0.0.2", endpoint.String())
		if i := which(t, gateway, a, b); i != 0 {
			t.Fatalf("with B gone, a connection reached %d; want A", i)
		}
	}
	// Both gone: refused for want of a server.
	lnA.Close()
	refusedFrom(t, "127.0.0.2", endpoint.String(), a, gateway)
	if c := s.Counters("ro"); c.Refused.NoServer != 1 {
		t.Fatalf("refusals %+v; want 1 for want of a server", c.Refused)
	}

	// One server left in the list: a plain route again; none: the gateway's.
	lnC, cc := listen(t, "127.0.0.1:0")
	srvC := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(lnC.Addr().String())}
	if err := s.Spread("ro", []netip.AddrPort{endpoint}, []Server{srvC}, only2); err != nil {
		t.Fatal(err)
	}
	dialFrom(t, "127.0.0.2", endpoint.String())
	if i := which(t, gateway, cc); i != 0 {
		t.Fatalf("one server: reached %d", i)
	}
	if err := s.Spread("ro", []netip.AddrPort{endpoint}, nil, only2); err != nil {
		t.Fatal(err)
	}
	dialFrom(t, "127.0.0.2", endpoint.String())
	if i := which(t, gateway, cc); i != -1 {
		t.Fatalf("no server: reached %d; want the gateway", i)
	}
}

func TestASpreadPinnedOutlivesItsSteeringAndIsAdopted(t *testing.T) {
	dir := pinDir(t)
	first, err := Open(dir)
	if err != nil {
		t.Skipf("no BPF steering: %v", err)
	}
	lnA, a := listen(t, "127.0.0.1:0")
	lnB, b := listen(t, "127.0.0.1:0")
	gwLn, gateway := listen(t, "127.0.0.1:0")
	endpoint := netip.MustParseAddrPort(gwLn.Addr().String())
	servers := []Server{{PID: os.Getpid(), Addr: netip.MustParseAddrPort(lnA.Addr().String())},
		{PID: os.Getpid(), Addr: netip.MustParseAddrPort(lnB.Addr().String())}}
	if err := first.Spread("ro", []netip.AddrPort{endpoint}, servers, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		t.Fatal(err)
	}
	first.Leave()

	spreads := func(what string) {
		t.Helper()
		got := map[int]int{}
		for range 30 {
			dialFrom(t, "127.0.0.2", endpoint.String())
			got[which(t, gateway, a, b)]++
		}
		if got[0] == 0 || got[1] == 0 || got[-1] != 0 {
			t.Fatalf("%s: %v; want both servers, never the gateway", what, got)
		}
	}
	spreads("no steering process")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if !s.Adopted("ro") {
		t.Fatal("the spread endpoint was not adopted")
	}
	spreads("adopted")
	// A rule changed before the endpoint is named again applies, and the spread stays.
	if ok, err := s.Readmit("ro", []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}); !ok || err != nil {
		t.Fatalf("Readmit: %v %v", ok, err)
	}
	refusedFrom(t, "127.0.0.2", endpoint.String(), a, gateway)
	if err := s.Spread("ro", []netip.AddrPort{endpoint}, servers, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		t.Fatal(err)
	}
	spreads("named again")
}
