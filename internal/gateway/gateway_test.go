package gateway

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// echoServer answers each line with the same line, standing in for a backend.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
	g := New(slog.New(slog.DiscardHandler))
	t.Cleanup(g.Close)
	if err := g.Ensure("ep", "127.0.0.1:0", route); err != nil {
		t.Fatal(err)
	}
	return g.listeners["ep"].ln.Addr().String()
}

func TestSplicesBytesBothWays(t *testing.T) {
	backend := echoServer(t)
	addr := newGateway(t, func() (string, bool) { return backend, true })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first byte is held back for inspection, then forwarded with the rest.
	if _, err := c.Write([]byte("\x00\x00hello\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "\x00\x00hello\n" {
		t.Fatalf("got %q, %v", line, err)
	}
}

func TestClosesWhenNoServerBehindEndpoint(t *testing.T) {
	addr := newGateway(t, func() (string, bool) { return "", false })
	assertClosedWithoutData(t, addr, []byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"))
}

func TestRefusesDirectTLS(t *testing.T) {
	backend := echoServer(t)
	addr := newGateway(t, func() (string, bool) { return backend, true })
	assertClosedWithoutData(t, addr, []byte{0x16, 0x03, 0x01, 0x00, 0x05})
}

func assertClosedWithoutData(t *testing.T, addr string, send []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
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
