package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// get sends one request on c and reads the answer, giving up after wait.
func get(c net.Conn, wait time.Duration) error {
	c.SetDeadline(time.Now().Add(wait))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: api\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// dialFrom connects to addr from the loopback address src (127.0.0.0/8 is all this host's).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func serveOK(t *testing.T, ln net.Listener) {
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), HTTPLimits{})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// At the total cap a new connection, from any source, waits unanswered (it is not
// accepted, so it holds no descriptor of serve's) and is served once one closes.
func TestConnectionsInTotalAreCapped(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOK(t, limitTotal(raw, 2, slog.New(slog.DiscardHandler)))
	addr := raw.Addr().String()

	a, b := dialFrom(t, "127.0.0.1", addr), dialFrom(t, "127.0.0.2", addr)
	for _, c := range []net.Conn{a, b} {
		if err := get(c, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	third := dialFrom(t, "127.0.0.3", addr)
	third.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := fmt.Fprintf(third, "GET / HTTP/1.1\r\nHost: api\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_, err = http.ReadResponse(bufio.NewReader(third), nil)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection past the total cap was answered or refused (%v), want it to wait", err)
	}
	if err := get(a, 10*time.Second); err != nil {
		t.Fatalf("a held connection stopped working: %v", err)
	}
	a.Close()
	third.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := http.ReadResponse(bufio.NewReader(third), nil); err != nil {
		t.Fatalf("the waiting connection was not served once another closed: %v", err)
	}
}

// A connection the per-source cap resets gives its place in the total back at once, so a
// client over its own cap cannot fill the total for everyone else.
func TestRefusedBySourceFreesTotal(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	serveOK(t, limitPerSource(limitTotal(raw, 2, log), 1, log))
	addr := raw.Addr().String()

	if err := get(dialFrom(t, "127.0.0.1", addr), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for range 5 { // each reset at once by the per-source cap, perhaps before Dial returns
		err := func() error {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return err
			}
			defer c.Close()
			return get(c, 10*time.Second)
		}()
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a second connection from one source: %v, want it reset", err)
		}
	}
	if err := get(dialFrom(t, "127.0.0.2", addr), 10*time.Second); err != nil {
		t.Fatalf("another source was not served within the total cap: %v", err)
	}
}

// Closing the listener ends an Accept that waits for room.
func TestClosingEndsAWaitingAccept(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitTotal(raw, 1, slog.New(slog.DiscardHandler))
	dialFrom(t, "127.0.0.1", raw.Addr().String())
	held, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if c != nil {
			c.Close()
		}
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	ln.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still waits after the listener closed")
	}
}

func TestDefaultTotalCapIsAboveThePerSourceCap(t *testing.T) {
	if d := DefaultHTTPLimits; d.MaxConns < d.MaxConnsPerSource {
		t.Fatalf("total cap %d below the per-source cap %d", d.MaxConns, d.MaxConnsPerSource)
	}
}
