package server

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
)

// perSourceListener caps the connections one source address holds open at once: past the
// cap a new connection is reset as soon as accepted, so a single client cannot take every
// descriptor serve has and stop the API and the console for everyone else.
type perSourceListener struct {
	net.Listener
	max int
	log *slog.Logger

	mu   sync.Mutex
	open map[netip.Addr]int
}

func limitPerSource(ln net.Listener, max int, log *slog.Logger) net.Listener {
	return &perSourceListener{Listener: ln, max: max, log: log, open: map[netip.Addr]int{}}
}

func (l *perSourceListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := sourceOf(c)
		l.mu.Lock()
		full := l.open[src] >= l.max
		if !full {
			l.open[src]++
		}
		l.mu.Unlock()
		if !full {
			return &releaseConn{Conn: c, release: sync.OnceFunc(func() { l.release(src) })}, nil
		}
		// Debug only: a flood must not become a flood of log lines.
		l.log.Debug("connection refused: too many open from its source", "source", src, "max", l.max)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

func (l *perSourceListener) release(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[src]--; l.open[src] <= 0 {
		delete(l.open, src)
	}
}

// sourceOf is the connection's remote address, IPv4-mapped IPv6 unmapped, so a client
// counts once whichever family it came by.
func sourceOf(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// releaseConn gives its place back (its source's, or one of the total) when closed, once
// however often Close is called.
type releaseConn struct {
	net.Conn
	release func()
}

func (c *releaseConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
