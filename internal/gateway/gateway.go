// Package gateway runs one TCP listener per endpoint and splices each accepted connection
// to the PostgreSQL server behind it. TLS runs end to end between the client and
// PostgreSQL: the gateway never terminates it, so the server sees the client's session.
// The listener is where the security-group check belongs: before one byte is read.
package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Route names the backend address for a new connection; ok is false while no server
// serves the endpoint (no writer yet, or it is down), and the client is then closed at once.
type Route func() (backend string, ok bool)

// Gateway owns the endpoint listeners.
type Gateway struct {
	log *slog.Logger

	mu        sync.Mutex
	listeners map[string]*endpoint
	conns     sync.WaitGroup
}

type endpoint struct {
	name  string
	addr  string
	ln    net.Listener
	route Route
	done  chan struct{}
}

// New returns a gateway with no endpoints.
func New(log *slog.Logger) *Gateway {
	return &Gateway{log: log, listeners: map[string]*endpoint{}}
}

// Ensure makes endpoint name listen on addr and route connections with route. It is
// idempotent: an existing listener on the same address is kept and only its route changes.
func (g *Gateway) Ensure(name, addr string, route Route) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ep, ok := g.listeners[name]; ok {
		if ep.addr == addr {
			ep.route = route
			return nil
		}
		g.closeLocked(name)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ep := &endpoint{name: name, addr: addr, ln: ln, route: route, done: make(chan struct{})}
	g.listeners[name] = ep
	go g.serve(ep)
	g.log.Info("endpoint listening", "endpoint", name, "addr", ln.Addr().String())
	return nil
}

// Remove closes endpoint name's listener. Connections already spliced keep running until
// their server goes away, as an RDS endpoint being deleted does not cut sessions at once.
func (g *Gateway) Remove(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closeLocked(name)
}

func (g *Gateway) closeLocked(name string) {
	if ep, ok := g.listeners[name]; ok {
		ep.ln.Close()
		<-ep.done
		delete(g.listeners, name)
	}
}

// Close closes every listener.
func (g *Gateway) Close() {
	g.mu.Lock()
	for name := range g.listeners {
		g.closeLocked(name)
	}
	g.mu.Unlock()
}

func (g *Gateway) currentRoute(ep *endpoint) Route {
	g.mu.Lock()
	defer g.mu.Unlock()
	return ep.route
}

func (g *Gateway) serve(ep *endpoint) {
	defer close(ep.done)
	for {
		c, err := ep.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: back off instead of spinning.
			g.log.Warn("accept", "endpoint", ep.name, "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go g.handle(ep, c)
	}
}

// tlsHandshakeByte opens a TLS record (ClientHello): what direct-TLS clients send first.
const tlsHandshakeByte = 0x16

func (g *Gateway) handle(ep *endpoint, client net.Conn) {
	defer client.Close()
	backend, ok := g.currentRoute(ep)()
	if !ok {
		g.log.Info("connection refused: no server behind endpoint", "endpoint", ep.name, "source", client.RemoteAddr().String())
		return
	}
	// PostgreSQL 15 expects an SSLRequest first; libpq 17's sslnegotiation=direct opens
	// with a TLS ClientHello instead, which PostgreSQL 15 would misread. Refuse it cleanly.
	var first [1]byte
	_ = client.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(client, first[:]); err != nil {
		return
	}
	_ = client.SetReadDeadline(time.Time{})
	if first[0] == tlsHandshakeByte {
		g.log.Info("connection refused: direct TLS is not supported by PostgreSQL 15", "endpoint", ep.name, "source", client.RemoteAddr().String())
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	server, err := (&net.Dialer{}).DialContext(ctx, "tcp", backend)
	cancel()
	if err != nil {
		g.log.Warn("backend unreachable", "endpoint", ep.name, "backend", backend, "err", err)
		return
	}
	defer server.Close()
	if _, err := server.Write(first[:]); err != nil {
		return
	}
	splice(client, server)
}

// splice copies both ways until both directions end. io.Copy between two *net.TCPConn
// uses splice(2) on Linux, so bytes do not pass through user space.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		} else {
			_ = dst.Close()
		}
	}
	go pipe(a, b)
	go pipe(b, a)
	wg.Wait()
}
