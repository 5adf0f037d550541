package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// idleConns lets kept-alive connections give way near the total cap. A connection that
// waits between requests (http.StateIdle, for up to the idle timeout) holds a place in the
// cap while doing nothing: without this, anyone could fill the cap with requests that end
// and then linger, and every other client would wait to connect. So near the cap an idle
// connection is closed as soon as it goes idle, and when the cap is reached (a new
// connection has to wait) every idle one is closed; their clients reconnect for their next
// request, as after the idle timeout. Connections with a request under way are never
// closed here: their own timeouts bound them.
type idleConns struct {
	mu    sync.Mutex
	idle  map[net.Conn]struct{}
	tight func() bool // the listener is near its cap
}

// yieldIdle makes srv's idle connections give way to new ones near total's cap.
func yieldIdle(srv *http.Server, total *totalListener) {
	t := &idleConns{idle: map[net.Conn]struct{}{}, tight: total.nearCap}
	srv.ConnState = t.connState
	total.onFull = t.closeAll
}

func (t *idleConns) connState(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	if s != http.StateIdle {
		delete(t.idle, c)
		t.mu.Unlock()
		return
	}
	tight := t.tight()
	if !tight {
		t.idle[c] = struct{}{}
	}
	t.mu.Unlock()
	if tight {
		// Its next request can come on a new connection as well.
		closeNow(c)
	}
}

// closeAll closes every idle connection: a new connection waits for a place.
func (t *idleConns) closeAll() {
	t.mu.Lock()
	conns := make([]net.Conn, 0, len(t.idle))
	for c := range t.idle {
		conns = append(conns, c)
	}
	clear(t.idle)
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
