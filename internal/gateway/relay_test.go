package gateway

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// testRelay is one relay for this package's tests (each Gateway makes its own).
var testRelay = func() *relay {
	r, err := newRelay()
	if err != nil {
		panic(err)
	}
	return r
}()

// copyPaths are the two ways carry can move bytes; every test runs on both.
var copyPaths = []struct {
	name string
	run  func(client, server net.Conn) (in, out int64)
}{
	{"relay", func(c, s net.Conn) (int64, int64) {
		in, out, ok := testRelay.splice(c, s)
		if !ok {
			panic("relay refused TCP sockets")
		}
		return in, out
	}},
	{"goroutines", splice},
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return a.(*net.TCPConn), b.(*net.TCPConn)
}

// spliced is a client and a server joined through a copy path, as the gateway joins them.
type spliced struct {
	client, server *net.TCPConn // the far ends: what the user and PostgreSQL hold
	done           chan [2]int64
}

func splicedPair(t testing.TB, run func(client, server net.Conn) (int64, int64)) *spliced {
	client, gwClient := tcpPair(t)
	gwServer, server := tcpPair(t)
	s := &spliced{client: client, server: server, done: make(chan [2]int64, 1)}
	go func() {
		defer gwClient.Close()
		defer gwServer.Close()
		in, out := run(gwClient, gwServer)
		s.done <- [2]int64{in, out}
	}()
	t.Cleanup(func() { client.Close(); server.Close() })
	return s
}

// wait returns the byte counts once the copy path has finished.
func (s *spliced) wait(t testing.TB) (in, out int64) {
	t.Helper()
	select {
	case n := <-s.done:
		return n[0], n[1]
	case <-time.After(10 * time.Second):
		t.Fatal("copy path did not finish")
		return 0, 0
	}
}

func readAll(t testing.TB, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func TestCopyPathLargeTransfersBothWaysAtOnce(t *testing.T) {
	for _, p := range copyPaths {
		t.Run(p.name, func(t *testing.T) {
			s := splicedPair(t, p.run)
			up, down := make([]byte, 8<<20), make([]byte, 8<<20)
			rand.Read(up)
			rand.Read(down)
			// Neither side reads until it has written everything: the copy path must hold
			// back without losing a byte.
			var gotUp, gotDown []byte
			var wg sync.WaitGroup
			wg.Add(4)
			go func() { defer wg.Done(); s.client.Write(up); s.client.CloseWrite() }()
			go func() { defer wg.Done(); s.server.Write(down); s.server.CloseWrite() }()
			go func() { defer wg.Done(); gotUp = readAll(t, s.server) }()
			go func() { defer wg.Done(); gotDown = readAll(t, s.client) }()
			wg.Wait()
			if !bytes.Equal(gotUp, up) || !bytes.Equal(gotDown, down) {
				t.Fatalf("corrupted: up %d/%d bytes, down %d/%d bytes", len(gotUp), len(up), len(gotDown), len(down))
			}
			if in, out := s.wait(t); in != int64(len(up)) || out != int64(len(down)) {
				t.Fatalf("counted in=%d out=%d", in, out)
			}
		})
	}
}

// A client that half-closes still gets the whole answer, as psql's COPY FROM STDIN does.
func TestCopyPathClientHalfClose(t *testing.T) {
	for _, p := range copyPaths {
		t.Run(p.name, func(t *testing.T) {
			s := splicedPair(t, p.run)
			s.client.Write([]byte("question"))
			s.client.CloseWrite()
			if got := readAll(t, s.server); string(got) != "question" {
				t.Fatalf("server read %q", got)
			}
			s.server.Write([]byte("answer after EOF"))
			s.server.Close()
			if got := readAll(t, s.client); string(got) != "answer after EOF" {
				t.Fatalf("client read %q", got)
			}
			s.wait(t)
		})
	}
}

func TestCopyPathServerHalfClose(t *testing.T) {
	for _, p := range copyPaths {
		t.Run(p.name, func(t *testing.T) {
			s := splicedPair(t, p.run)
			s.server.Write([]byte("banner"))
			s.server.CloseWrite()
			if got := readAll(t, s.client); string(got) != "banner" {
				t.Fatalf("client read %q", got)
			}
			s.client.Write([]byte("still talking"))
			s.client.Close()
			if got := readAll(t, s.server); string(got) != "still talking" {
				t.Fatalf("server read %q", got)
			}
			s.wait(t)
		})
	}
}

// Either side going away, cleanly or with a reset, ends the connection on the other side.
func TestCopyPathEndsWhenEitherSideCloses(t *testing.T) {
	for _, p := range copyPaths {
		for _, who := range []string{"client", "server"} {
			for _, reset := range []bool{false, true} {
				name := p.name + "/" + who
				if reset {
					name += "/reset"
				}
				t.Run(name, func(t *testing.T) {
					s := splicedPair(t, p.run)
					gone, other := s.client, s.server
					if who == "server" {
						gone, other = s.server, s.client
					}
					gone.Write([]byte("bye"))
					if reset {
						gone.SetLinger(0) // close sends RST
					}
					gone.Close()
					// The other side reads what was sent, then sees the end, then the
					// far end of a real server (PostgreSQL exits on EOF) closes too.
					other.SetReadDeadline(time.Now().Add(10 * time.Second))
					got, err := io.ReadAll(other)
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						t.Fatal("other side never saw the end")
					}
					if !reset && string(got) != "bye" {
						t.Fatalf("other side read %q, %v", got, err)
					}
					other.Close()
					s.wait(t)
				})
			}
		}
	}
}

// Many connections at once share the relay's one goroutine, and all of it is given back.
func TestRelayManyConnectionsNoLeak(t *testing.T) {
	r := testRelay
	fds0, goroutines0 := openFDs(t), runtime.NumGoroutine()
	const n = 500
	pairs := make([]*spliced, n)
	for i := range pairs {
		pairs[i] = splicedPair(t, copyPaths[0].run)
	}
	var wg sync.WaitGroup
	for i, s := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := []byte{byte(i), byte(i >> 8), 'x'}
			buf := make([]byte, len(msg))
			for range 10 {
				s.client.Write(msg)
				s.server.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(s.server, buf); err != nil || !bytes.Equal(buf, msg) {
					t.Errorf("pair %d: %q %v", i, buf, err)
					return
				}
				s.server.Write(buf)
				s.client.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(s.client, buf); err != nil || !bytes.Equal(buf, msg) {
					t.Errorf("pair %d: %q %v", i, buf, err)
					return
				}
			}
			s.client.Close()
			s.server.Close()
			s.wait(t)
		}()
	}
	wg.Wait()
	r.mu.Lock()
	left := len(r.pairs)
	r.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d sockets still on the relay", left)
	}
	// The goroutines that waited on the copy path exit just after it reports.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > goroutines0 {
		t.Errorf("goroutines: %d before, %d after", goroutines0, g)
	}
	if fds := openFDs(t); fds > fds0 {
		t.Errorf("open files: %d before, %d after", fds0, fds)
	}
}

func openFDs(t testing.TB) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no /proc")
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// Sockets the relay cannot own are handed back untouched, for the io.Copy path.
func TestRelayHandsBackWhatItCannotCarry(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, _, ok := testRelay.splice(a, b); ok {
		t.Fatal("relay took a net.Pipe")
	}
	go a.Write([]byte("x"))
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := b.Read(make([]byte, 1)); err != nil {
		t.Fatalf("pipe no longer usable: %v", err)
	}
}

// The endpoint's metrics count what went through, once the connection ends.
func TestGatewayCountsBytesAndOpenConnections(t *testing.T) {
	backend := echoServer(t)
	reg := prometheus.NewRegistry()
	g := New(slog.New(slog.DiscardHandler), NewMetrics(reg), Options{})
	t.Cleanup(g.Close)
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, func() (Target, bool) { return Target{Addr: backend, Admission: loopback}, true }); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", g.listeners["ep"].lns[0].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	msg := append([]byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"), bytes.Repeat([]byte("y"), 100000)...)
	c.Write(msg)
	c.(*net.TCPConn).CloseWrite()
	if got := readAll(t, c); !bytes.Equal(got, msg) {
		t.Fatalf("echo: %d bytes", len(got))
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for value(g.metrics.bytes.WithLabelValues("ep", "out")) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, dir := range []string{"in", "out"} {
		if n := value(g.metrics.bytes.WithLabelValues("ep", dir)); n != float64(len(msg)) {
			t.Errorf("bytes %s = %v, want %d", dir, n, len(msg))
		}
	}
	if n := value(g.metrics.open.WithLabelValues("ep")); n != 0 {
		t.Errorf("open = %v after close", n)
	}
	if n := value(g.metrics.accepted.WithLabelValues("ep")); n != 1 {
		t.Errorf("accepted = %v", n)
	}
}

func value(m prometheus.Metric) float64 {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		panic(err)
	}
	if out.Counter != nil {
		return out.Counter.GetValue()
	}
	return out.Gauge.GetValue()
}

// A gateway's Close ends the connections its relay carries and stops the relay's
// goroutine: serve's shutdown leaves nothing behind.
func TestGatewayCloseStopsItsRelay(t *testing.T) {
	backend := echoServer(t)
	goroutines0 := runtime.NumGoroutine()
	g := New(slog.New(slog.DiscardHandler), nil, Options{})
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, func() (Target, bool) { return Target{Addr: backend, Admission: loopback}, true }); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", g.listeners["ep"].lns[0].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("\x00\x00\x00\x08\x04\xd2\x16\x2fping\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 13)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("through the relay: %v", err)
	}
	g.Close()
	if _, err := c.Read(got); err == nil {
		t.Fatal("the connection outlived the gateway's Close")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines0+2 && time.Now().Before(deadline) { // the echo server's own
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines0+2 {
		t.Fatalf("%d goroutines after Close, %d before", n, goroutines0)
	}
}
