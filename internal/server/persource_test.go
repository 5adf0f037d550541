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

// One source holds at most the cap of connections: the next is closed at once, without
// an answer, while the ones it holds still work; closing one makes room again.
func TestConnectionsPerSourceAreCapped(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), HTTPLimits{})
	go srv.Serve(limitPerSource(raw, 2, slog.New(slog.DiscardHandler)))
	t.Cleanup(func() { srv.Close() })
	addr := raw.Addr().String()

	get := func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(10 * time.Second))
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
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// A refused connection may be reset before Dial even returns: that is a refusal too.
	try := func() error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		return get(c)
	}
	a, b := dial(), dial()
	if err := get(a); err != nil {
		t.Fatal(err)
	}
	if err := get(b); err != nil {
		t.Fatal(err)
	}
	err = try()
	if err == nil {
		t.Fatal("a third connection from the same source was served")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a third connection from the same source was left open")
	}
	if err := get(a); err != nil {
		t.Fatalf("a held connection stopped working: %v", err)
	}
	a.Close()
	var last error
	for range 50 { // the server notices the close a moment later
		if last = try(); last == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no room after a connection closed: %v", last)
}
