package gateway

import (
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// steeredFrom dials dst from 127.0.0.1 and says which of the servers got the connection
// and whether it arrived straight from the client (kernel steering), not from a relay.
func steeredFrom(t *testing.T, dst string, servers ...chan net.Conn) (int, bool) {
	t.Helper()
	c, err := dialFrom("127.0.0.1", dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{0, 0, 0, 8, 0, 3, 0, 0}) // a startup's head: a relay dials its server after it
	deadline := time.After(5 * time.Second)
	for {
		for i, ch := range servers {
			select {
			case s := <-ch:
				return i, s.RemoteAddr().String() == c.LocalAddr().String()
			default:
			}
		}
		select {
		case <-deadline:
			t.Fatal("no server got the connection")
		case <-time.After(time.Millisecond):
		}
	}
}

func TestEndpointsOnAddressesOfTheirOwnAreSteeredByAddress(t *testing.T) {
	g, _ := steeredGateway(t, io.Discard)
	a, toA := steeredServer(t)
	b, toB := steeredServer(t)
	admit := NewAdmission([]string{"sg-1"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	ta := Target{Addr: a.Addr().String(), PID: os.Getpid(), Admission: admit}
	tb := Target{Addr: b.Addr().String(), PID: os.Getpid(), Admission: admit}

	// The cluster endpoint of a cluster with readers: a name picker for the relay, but the
	// other names have addresses of their own, so the kernel hands it to the writer.
	writer := ta
	writer.Pick = func(string) (Target, bool) { return tb, true }
	writer.ByAddress = true
	if err := g.Ensure("c", []string{"127.0.0.1:0"}, func() (Target, bool) { return writer, true }); err != nil {
		t.Fatal(err)
	}
	cluster := g.listeners["c"].lns[0].Addr().String()
	if i, steered := steeredFrom(t, cluster, toA, toB); i != 0 || !steered {
		t.Fatalf("the cluster endpoint: server %d, steered %v; want the writer, in the kernel", i, steered)
	}

	// The reader endpoint on its own address spreads over both in the kernel.
	spread := []Target{ta, tb}
	reader := ta
	reader.Spread = spread
	if err := g.Ensure("ro", []string{"127.64.0.9:0"}, func() (Target, bool) { return reader, true }); err != nil {
		t.Fatal(err)
	}
	ro := g.listeners["ro"].lns[0].Addr().String()
	got := map[int]int{}
	for range 30 {
		i, steered := steeredFrom(t, ro, toA, toB)
		if !steered {
			t.Fatal("a reader endpoint connection was relayed")
		}
		got[i]++
	}
	if got[0] == 0 || got[1] == 0 {
		t.Fatalf("the reader endpoint reached %v; want both servers", got)
	}

	// Names sharing the address (no ByAddress): the relay decides by name.
	writer.ByAddress = false
	g.Refresh("c")
	if _, steered := steeredFrom(t, cluster, toA, toB); steered {
		t.Fatal("a shared address was steered by the kernel: the name could not choose")
	}
}
