package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// echoServer answers each line with the same line, standing in for a backend. It listens
// on plain TCP, as PostgreSQL does (Go's default is MPTCP), so it can be steered to.
func echoServer(t testing.TB) string {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func newGateway(t *testing.T, route Route) string {
	g := New(slog.New(slog.DiscardHandler), nil, Options{})
	t.Cleanup(g.Close)
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, route); err != nil {
		t.Fatal(err)
	}
	return g.listeners["ep"].lns[0].Addr().String()
}

func TestSplicesBytesBothWays(t *testing.T) {
	backend := echoServer(t)
	addr := newGateway(t, func() (Target, bool) { return Target{Addr: backend, Admission: loopback}, true })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first 8 bytes are held back for inspection, then forwarded with the rest.
	if _, err := c.Write([]byte("\x00\x00\x00\x08\x04\xd2\x16\x2fhello\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "\x00\x00\x00\x08\x04\xd2\x16\x2fhello\n" {
		t.Fatalf("got %q, %v", line, err)
	}
}

// loopback admits 127.0.0.1, where the tests connect from.
var loopback = NewAdmission([]string{"sg-test"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})

func TestRefusesSourcesNoSecurityGroupAdmits(t *testing.T) {
	backend := echoServer(t)
	only2 := NewAdmission([]string{"sg-test"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	addr := newGateway(t, func() (Target, bool) { return Target{Addr: backend, Admission: only2}, true })
	assertClosedWithoutData(t, addr, []byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"))
	// From the admitted address the same bytes come back.
	assertEchoes(t, net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}, addr)
}

// assertEchoes connects with d, sends a first message and expects it back from the echo
// backend: the gateway admitted the source and spliced it through.
func assertEchoes(t *testing.T, d net.Dialer, addr string) {
	t.Helper()
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"))
	got := make([]byte, 8)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("admitted source to %s: %v", addr, err)
	}
}

// A refused connection ends with a TCP reset, which clients report as refused or reset,
// rather than an orderly close, which psql reports as a server that "closed the
// connection unexpectedly".
func TestRefusedConnectionsAreReset(t *testing.T) {
	only2 := NewAdmission([]string{"sg-test"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	routes := map[string]Route{
		"security groups": func() (Target, bool) { return Target{Addr: echoServer(t), Admission: only2}, true },
		"no server":       func() (Target, bool) { return Target{}, false },
	}
	for name, route := range routes {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", newGateway(t, route))
			if errors.Is(err, syscall.ECONNRESET) {
				return // reset before the dial returned
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Nothing sent: a close with unread data would be a reset anyway.
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 16)); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("read after refusal: %v, want ECONNRESET", err)
			}
		})
	}
}

func TestClosesWhenNoServerBehindEndpoint(t *testing.T) {
	addr := newGateway(t, func() (Target, bool) { return Target{}, false })
	assertClosedWithoutData(t, addr, []byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"))
}

func TestRefusesDirectTLS(t *testing.T) {
	backend := echoServer(t)
	addr := newGateway(t, func() (Target, bool) { return Target{Addr: backend, Admission: loopback}, true })
	assertClosedWithoutData(t, addr, []byte{0x16, 0x03, 0x01, 0x00, 0x05})
}

func assertClosedWithoutData(t *testing.T, addr string, send []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return // reset as soon as accepted: closed before the dial returned
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(send)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 16))
	if n != 0 || err == nil {
		t.Fatalf("connection answered %d bytes (err %v); want it closed", n, err)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection left open")
	}
}

func TestForceSSLRefusesPlaintextStartupWithPostgresFatal(t *testing.T) {
	backend := echoServer(t)
	addr := newGateway(t, func() (Target, bool) { return Target{Addr: backend, ForceSSL: true, Admission: loopback}, true })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := []byte("user\x00alice\x00database\x00appdb\x00\x00")
	msg := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	msg = binary.BigEndian.AppendUint32(msg, 3<<16)
	c.Write(append(msg, body...))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply, _ := io.ReadAll(c)
	want := `no pg_hba.conf entry for host "127.0.0.1", user "alice", database "appdb", no encryption`
	if len(reply) == 0 || reply[0] != 'E' || !bytes.Contains(reply, []byte(want)) || !bytes.Contains(reply, []byte("C28000")) {
		t.Fatalf("reply %q", reply)
	}
}

func TestForceSSLStillForwardsSSLRequest(t *testing.T) {
	backend := echoServer(t)
	addr := newGateway(t, func() (Target, bool) { return Target{Addr: backend, ForceSSL: true, Admission: loopback}, true })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ssl := []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}
	c.Write(ssl)
	got := make([]byte, 8)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, ssl) {
		t.Fatalf("SSLRequest not forwarded: %q %v", got, err)
	}
}

// pingPong sends 1 KiB and reads it back b.N times over one connection: the round trip a
// query and its answer make.
func pingPong(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte{'q'}, 1024)
	msg[0] = 0 // not a TLS record: the gateway forwards it
	got := make([]byte, len(msg))
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTripDirect is the baseline for BenchmarkRoundTripThroughGateway.
func BenchmarkRoundTripDirect(b *testing.B) {
	pingPong(b, echoServer(b))
}

func BenchmarkRoundTripThroughGateway(b *testing.B) {
	backend := echoServer(b)
	g := New(slog.New(slog.DiscardHandler), nil, Options{})
	defer g.Close()
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, func() (Target, bool) { return Target{Addr: backend, Admission: loopback}, true }); err != nil {
		b.Fatal(err)
	}
	pingPong(b, g.listeners["ep"].lns[0].Addr().String())
}

// BenchmarkRoundTripSteered is the same endpoint with kernel steering: the connection is
// handed to the echo server's own listener, so no gateway hop remains.
func BenchmarkRoundTripSteered(b *testing.B) {
	backend := echoServer(b)
	g := New(slog.New(slog.DiscardHandler), nil, Options{KernelSteering: true})
	defer g.Close()
	if g.steer == nil {
		b.Skip("no kernel steering here (needs root, BPF and cgroup v2)")
	}
	route := func() (Target, bool) { return Target{Addr: backend, Admission: loopback, PID: os.Getpid()}, true }
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, route); err != nil {
		b.Fatal(err)
	}
	pingPong(b, g.listeners["ep"].lns[0].Addr().String())
}

func TestEndpointListensOnBothFamiliesWithOneAdmission(t *testing.T) {
	backend := echoServer(t)
	g := New(slog.New(slog.DiscardHandler), nil, Options{})
	t.Cleanup(g.Close)
	only6 := NewAdmission([]string{"sg-test"}, []netip.Prefix{netip.MustParsePrefix("::1/128")})
	if err := g.Ensure("ep", []string{"127.0.0.1:0", "[::1]:0"}, func() (Target, bool) { return Target{Addr: backend, Admission: only6}, true }); err != nil {
		t.Fatal(err)
	}
	v4, v6 := g.listeners["ep"].lns[0].Addr().String(), g.listeners["ep"].lns[1].Addr().String()
	assertClosedWithoutData(t, v4, []byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"))
	assertEchoes(t, net.Dialer{}, v6) // ::1, admitted by ::1/128
	// Ensure with the same addresses keeps the listeners; a different set replaces them.
	if err := g.Ensure("ep", []string{"127.0.0.1:0", "[::1]:0"}, func() (Target, bool) { return Target{}, false }); err != nil {
		t.Fatal(err)
	}
	if g.listeners["ep"].lns[1].Addr().String() != v6 {
		t.Error("an unchanged Ensure replaced the listeners")
	}
}
