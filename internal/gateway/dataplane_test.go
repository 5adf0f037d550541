package gateway

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"
)

func drained(t *testing.T, g *Gateway) map[string]uint64 {
	t.Helper()
	rs, err := g.DrainRefused()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, r := range rs {
		if !slices.Equal(r.Groups, []string{"sg-test"}) {
			t.Fatalf("refusal %+v; want the endpoint's groups", r)
		}
		out[r.Endpoint+" "+r.Source.String()] += r.Count
	}
	return out
}

// Without steering the gateway refuses after accepting; each refusal is counted for the
// trail by endpoint and source.
func TestGatewayRefusalsAreDrainedBySource(t *testing.T) {
	backend := echoServer(t)
	g := New(slog.New(slog.DiscardHandler), nil, Options{})
	t.Cleanup(g.Close)
	only2 := NewAdmission([]string{"sg-test"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, func() (Target, bool) { return Target{Addr: backend, Admission: only2}, true }); err != nil {
		t.Fatal(err)
	}
	addr := g.listeners["ep"].lns[0].Addr().String()
	for range 2 {
		assertClosedWithoutData(t, addr, []byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"))
	}
	assertEchoes(t, net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}, addr)
	if got := drained(t, g); len(got) != 1 || got["ep 127.0.0.1"] != 2 {
		t.Fatalf("drained %v; want 2 refusals of 127.0.0.1 on ep", got)
	}
	if got := drained(t, g); len(got) != 0 {
		t.Fatalf("drained again %v; want nothing", got)
	}
}

// With steering the kernel's counts per source are drained the same way.
// A flood at one endpoint, from more sources than the tally holds, leaves another
// endpoint's refused source named.
func TestAFloodAtOneEndpointLeavesAnothersSourcesNamed(t *testing.T) {
	var tally refusalTally
	now := time.Now()
	src := netip.MustParseAddr("2001:db8::1")
	for range maxTallied + 10 {
		tally.add("noisy", src, now)
		src = src.Next()
	}
	prober := netip.MustParseAddr("192.0.2.9")
	tally.add("quiet", prober, now)
	var named bool
	var noisy, together uint64
	for _, r := range tally.drain() {
		switch {
		case r.Endpoint == "quiet" && r.Source == prober:
			named = true
		case r.Endpoint == "noisy" && r.Source.IsValid():
			noisy++
		case r.Endpoint == "noisy":
			together += r.Count
		}
	}
	if !named {
		t.Fatalf("the refusal of %s at quiet is not itemized", prober)
	}
	if noisy+together != maxTallied+10 || together == 0 {
		t.Fatalf("noisy: %d sources itemized, %d refusals together; want %d in all, some together", noisy, together, maxTallied+10)
	}
}

func TestSteeredRefusalsAreDrainedBySource(t *testing.T) {
	g, _ := steeredGateway(t, io.Discard)
	server, _ := steeredServer(t)
	only2 := NewAdmission([]string{"sg-test"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	route := func() (Target, bool) {
		return Target{Addr: server.Addr().String(), Admission: only2, PID: os.Getpid()}, true
	}
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, route); err != nil {
		t.Fatal(err)
	}
	endpoint := g.listeners["ep"].lns[0].Addr().String()
	for range 3 {
		assertRefusedAtSYN(t, "127.0.0.3", endpoint)
	}
	assertRefusedAtSYN(t, "127.0.0.4", endpoint)
	if got := drained(t, g); len(got) != 2 || got["ep 127.0.0.3"] != 3 || got["ep 127.0.0.4"] != 1 {
		t.Fatalf("drained %v; want 3 refusals of 127.0.0.3 and 1 of 127.0.0.4", got)
	}
}

// A relayed connection's server sees the gateway as its client; Origin leads back to the
// real one while the connection lasts.
func TestOriginOfARelayedConnectionIsItsClient(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := backend.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	g := New(slog.New(slog.DiscardHandler), nil, Options{})
	t.Cleanup(g.Close)
	only2 := NewAdmission([]string{"sg-test"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, func() (Target, bool) { return Target{Addr: backend.Addr().String(), Admission: only2}, true }); err != nil {
		t.Fatal(err)
	}
	addr := g.listeners["ep"].lns[0].Addr().String()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	client, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("\x00\x00\x00\x08\x04\xd2\x16\x2f")); err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	defer server.Close()
	relay := netip.MustParseAddrPort(server.RemoteAddr().String())
	// The gateway records the origin once its dial returned, which the backend's accept
	// may come before; the server asks only later, once the whole startup message (carried
	// after the record) has come.
	src, ep, ok := g.Origin(relay)
	for wait := time.Now().Add(5 * time.Second); !ok && time.Now().Before(wait); src, ep, ok = g.Origin(relay) {
		time.Sleep(5 * time.Millisecond)
	}
	if !ok || src.String() != client.LocalAddr().String() || ep.String() != addr {
		t.Fatalf("Origin(%s) = %s, %s, %v; want %s on %s", relay, src, ep, ok, client.LocalAddr(), addr)
	}
	client.Close()
	server.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, ok := g.Origin(relay); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Origin still known after the connection ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
