package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// HTTPLimits bound what one client can hold of serve's HTTP listener: without a deadline on
// the whole request, a client that sends its headers and then trickles the body keeps a
// connection (and a descriptor) forever, and enough of them stop the API and the console.
// Zero fields take DefaultHTTPLimits' values.
type HTTPLimits struct {
	ReadHeader time.Duration // reading the request line and headers
	Read       time.Duration // reading the whole request, body included
	Write      time.Duration // from the end of the headers to the end of the response
	Idle       time.Duration // a kept-alive connection between requests
	// MaxHeaderBytes caps the request line and headers; the API's bodies are capped by
	// apiserver (MaxBodyKB), the console's by its forms.
	MaxHeaderBytes int
	// MaxConns caps the connections open at once from all clients together; past it a new
	// connection waits to be accepted until one closes (limitTotal).
	MaxConns int
	// MaxConnsPerSource caps the connections one client address holds open at once; past
	// it a new one is reset (limitPerSource).
	MaxConnsPerSource int
}

// DefaultHTTPLimits: API and console requests are small and answered at once (long work
// such as creating a cluster runs in the background), so these leave ample room.
var DefaultHTTPLimits = HTTPLimits{
	ReadHeader:     10 * time.Second,
	Read:           30 * time.Second,
	Write:          60 * time.Second,
	Idle:           120 * time.Second,
	MaxHeaderBytes: 64 << 10,
	// Far below the descriptors serve may hold (Go raises the soft limit to the hard one,
	// usually 2^19 or more), far above what the clients of one deployment keep open.
	MaxConns: 4096,
	// Browsers open about six per host and SDKs pool a few; this leaves room for a busy
	// host behind one address while keeping one client far from the descriptor limit.
	MaxConnsPerSource: 256,
}

// withDefaults fills the zero fields from DefaultHTTPLimits.
func (l HTTPLimits) withDefaults() HTTPLimits {
	d := DefaultHTTPLimits
	if l.ReadHeader == 0 {
		l.ReadHeader = d.ReadHeader
	}
	if l.Read == 0 {
		l.Read = d.Read
	}
	if l.Write == 0 {
		l.Write = d.Write
	}
	if l.Idle == 0 {
		l.Idle = d.Idle
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxConns == 0 {
		l.MaxConns = d.MaxConns
	}
	if l.MaxConnsPerSource == 0 {
		l.MaxConnsPerSource = d.MaxConnsPerSource
	}
	return l
}

// newHTTPServer is an http.Server for h with the limits l (zero fields: the defaults).
func newHTTPServer(h http.Handler, l HTTPLimits) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// listenHTTP listens on addr and serves h there within the limits l: every connection
// counts against the total cap, then against its source's; near the total cap, idle
// kept-alive connections, and new ones that send nothing, give way (yieldIdle).
func listenHTTP(addr string, h http.Handler, l HTTPLimits, log *slog.Logger) (httpListener, error) {
	l = l.withDefaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return httpListener{}, err
	}
	total := limitTotal(ln, l.MaxConns, log)
	srv := newHTTPServer(h, l)
	yieldIdle(srv, total, l.ReadHeader)
	return httpListener{srv: srv, ln: limitPerSource(total, l.MaxConnsPerSource, log)}, nil
}

// shutdown stops h: it waits for requests in flight (until ctx ends) and closes the
// listener, served or not.
func (h httpListener) shutdown(ctx context.Context) error {
	err := h.srv.Shutdown(ctx)
	_ = h.ln.Close() // already closed if served
	return err
}
