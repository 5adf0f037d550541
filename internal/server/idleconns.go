package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// idleConns lets connections that hold a place without using it give way near the total
// cap. A kept-alive connection that waits between requests (http.StateIdle, for up to the
// idle timeout) holds a place while doing nothing: without this, anyone could fill the cap
// with requests that end and then linger, and every other client would wait to connect.
// So near the cap an idle connection is closed as soon as it goes idle, and when the cap is
// reached (serve would accept one more) every idle one is closed, and so is every new one
// that has not sent its first request in half the time it has for the headers (a client
// sends them at once; a slow one is bounded by that timeout anyway). Their clients reconnect
// for their next request, as after the idle timeout. Connections with a request under way
// are never closed here: their own timeouts bound them.
type idleConns struct {
	mu       sync.Mutex
	conns    map[net.Conn]waiting
	tight    func() bool   // the listener is near its cap
	newGrace time.Duration // a new connection's time to send its first request's headers
}

// waiting is a connection between requests: idle, or new (no request yet) since a time.
type waiting struct {
	idle  bool
	since time.Time
}

// yieldIdle makes srv's idle and stalled new connections give way to new ones near total's
// cap; readHeader is the time srv gives a request's headers.
func yieldIdle(srv *http.Server, total *totalListener, readHeader time.Duration) {
	t := &idleConns{conns: map[net.Conn]waiting{}, tight: total.nearCap, newGrace: readHeader / 2}
	srv.ConnState = t.connState
	total.onFull = t.closeWaiting
}

func (t *idleConns) connState(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	tight := false
	switch s {
	case http.StateNew:
		t.conns[c] = waiting{since: time.Now()}
	case http.StateIdle:
		if tight = t.tight(); !tight {
			t.conns[c] = waiting{idle: true}
		}
	default:
		delete(t.conns, c)
	}
	t.mu.Unlock()
	if tight {
		// Its next request can come on a new connection as well.
		closeNow(c)
	}
}

// closeWaiting closes every idle connection and every stalled new one: serve would accept
// one more and has no place for it.
func (t *idleConns) closeWaiting() {
	stalled := time.Now().Add(-t.newGrace)
	t.mu.Lock()
	var conns []net.Conn
	for c, w := range t.conns {
		if w.idle || w.since.Before(stalled) {
			conns = append(conns, c)
			delete(t.conns, c)
		}
	}
	t.mu.Unlock()
	for _, c := range conns {
		closeNow(c)
	}
}

// closeNow closes c's connection without writing to it: a TLS close_notify to a client
// that does not read could block for seconds.
func closeNow(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	_ = c.Close()
}
