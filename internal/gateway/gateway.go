// Package gateway runs one TCP listener per endpoint and splices each accepted connection
// to the PostgreSQL server behind it. TLS runs end to end between the client and
// PostgreSQL: the gateway never terminates it, so the server sees the client's session.
// The listener is where the security-group check belongs: before one byte is read.
//
// With kernel steering (package steer), the security groups decide at the SYN: a source
// they do not admit is refused by the kernel (the client's connect fails with "connection
// refused"), and an admitted one is handed to the server's own listening socket before it
// reaches the gateway's listener; the gateway then sees only what it relays. Without
// steering the gateway's listener accepts every connection and resets the refused ones.
//
// The servers' private ports are fenced (package steer): no local process but root and
// the gateway's relay reaches them, so the endpoint is the only door to a server.
package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/borealis-db/borealis/internal/steer"
)

// Target is where an endpoint's connections go, and what the gateway checks on the way.
type Target struct {
	Addr string // the server's private address
	// ForceSSL refuses a plaintext startup with PostgreSQL's own FATAL, before the server
	// sees it (rds.force_ssl; the server's pg_hba.conf refuses it too).
	ForceSSL bool
	// Admission is the sources the endpoint's security groups admit; nil admits none.
	Admission *Admission
	// PID is the server's postmaster, whose listening socket admitted connections are
	// steered to in the kernel; 0 relays them (the kernel still refuses the rest).
	PID int
	// Pick, when set, chooses the server of a TLS connection by the name its ClientHello
	// asks for (see names.go): the endpoints of a cluster with readers share one port.
	// ok false refuses the connection. The endpoint is then relayed, never steered.
	Pick func(serverName string) (t Target, ok bool)
	// Servers lists every server Pick may choose (or Spread holds), for a CancelRequest,
	// which names no endpoint: it goes to each, and only the one that issued its key acts
	// on it.
	Servers func() []Target
	// ByAddress says the names of the endpoint's cluster have addresses of their own
	// (package epaddr): the kernel may hand this address's connections to the target's
	// server whatever name they ask for, though Pick is set for the relay.
	ByAddress bool
	// Spread lists the servers an endpoint spreads its connections over (a reader
	// endpoint's readers): the kernel chooses among their sockets; relayed, the Route
	// itself names one server per connection, in turn.
	Spread []Target
}

// steerServer is t's server for the kernel: none without a postmaster or a private
// address.
func steerServer(t Target) (steer.Server, bool) {
	addr, err := netip.ParseAddrPort(t.Addr)
	if err != nil || t.PID == 0 {
		return steer.Server{}, false
	}
	return steer.Server{PID: t.PID, Addr: addr}, true
}

// Route names the target for a new connection; ok is false while no server serves the
// endpoint (no writer yet, or it is down), and the client is then refused.
type Route func() (t Target, ok bool)

// Options tune a gateway.
type Options struct {
	// KernelSteering has the kernel (package steer), where BPF is available, refuse
	// sources the security groups do not admit at their SYN and hand admitted ones
	// straight to the server's listening socket; the gateway then sees only the endpoints
	// it relays.
	KernelSteering bool
	// DataDir, when set, pins the kernel programs and maps (steering and the fence) under
	// a bpffs directory named for it, so that they outlive serve: after a kill -9 the
	// kernel goes on admitting, refusing and fencing by the last rules, and the next New
	// with the same DataDir takes them on (see Leave and ReleaseUnclaimed). Relayed
	// endpoints are the exception: nothing listens for them while serve is down.
	DataDir string
}

// Gateway owns the endpoint listeners.
type Gateway struct {
	log     *slog.Logger
	metrics *Metrics

	relay *relay // nil: connections are copied with a goroutine per direction

	// steer is nil without kernel steering. steerMu orders route reads with the kernel
	// updates they cause, so an older route never overwrites a newer one; seen is what
	// the metrics took from the kernel's counters so far. steerDone closes when the
	// refusal log ends.
	steer     *steer.Steering
	steerMu   sync.Mutex
	seen      map[string]steer.Counters
	steerDone chan struct{}

	// fence is nil where BPF cannot be loaded: the servers' private ports are then open to
	// every local process. servers maps each fenced server to its cluster, for the
	// metrics; refusedSeen is what the metrics took from the fence's counts so far.
	fence       *steer.Fence
	fenceMu     sync.Mutex
	servers     map[string]string
	refusedSeen map[string]steer.FenceCounts
	fenceDone   chan struct{}
	checked     map[string]checkedServer // endpoint → the server its relay target was found to be

	mu        sync.Mutex
	listeners map[string]*endpoint
	conns     sync.WaitGroup
	tally     refusalTally // its own refusals, for the audit trail (dataplane.go)
	origins   relayOrigins // the relayed connections' clients, for the same
}

type endpoint struct {
	name  string
	addrs []string // as asked, to tell whether Ensure changes anything
	lns   []net.Listener
	route Route
	done  sync.WaitGroup // the accept loops
}

// New returns a gateway with no endpoints. metrics may be nil.
func New(log *slog.Logger, metrics *Metrics, opts Options) *Gateway {
	if metrics == nil {
		metrics = NewMetrics(prometheus.NewRegistry())
	}
	g := &Gateway{log: log, metrics: metrics, listeners: map[string]*endpoint{}, seen: map[string]steer.Counters{},
		servers: map[string]string{}, refusedSeen: map[string]steer.FenceCounts{}, fenceDone: make(chan struct{}),
		checked: map[string]checkedServer{}, steerDone: make(chan struct{})}
	var pinDir string
	if opts.DataDir != "" {
		var err error
		if pinDir, err = steer.PinDir(opts.DataDir); err != nil {
			log.Warn("kernel programs not pinned: they stop with serve", "err", err)
		}
	}
	var err error
	if g.fence, err = steer.OpenFence(pinDir); err != nil {
		close(g.fenceDone)
		log.Warn("private ports unguarded: every local process, and every database server through dblink or postgres_fdw, can connect to a server's private port past its endpoint's security groups (needs root, BPF and cgroup v2)", "err", err)
	} else {
		go g.logRefusals()
		log.Info("private ports fenced: only the endpoints reach the servers")
	}
	if g.relay, err = newRelay(); err != nil {
		log.Warn("gateway relay unavailable; copying with a goroutine per direction", "err", err)
	}
	if opts.KernelSteering {
		g.steer, err = steer.Open(pinDir)
		if err != nil {
			log.Warn("kernel steering unavailable; the gateway carries every connection and resets the refused ones after accepting them", "err", err)
		} else {
			log.Info("kernel steering on: refused connections are refused at their SYN, admitted ones go straight to their server")
		}
	}
	if g.steer != nil {
		go g.logSteeredRefusals()
	} else {
		close(g.steerDone)
	}
	if pinDir != "" && (g.steer != nil || g.fence != nil) {
		log.Info("kernel programs pinned: they go on deciding new connections and fencing private ports while serve is down", "dir", pinDir)
	}
	metrics.beforeCollect = func() {
		g.collectSteered()
		g.collectRefused()
	}
	return g
}

// Ensure makes endpoint name listen on every address in addrs (an IPv4 and an IPv6 one,
// say, with the same port) and route connections with route. It is idempotent: existing
// listeners on the same addresses are kept and only the route changes.
func (g *Gateway) Ensure(name string, addrs []string, route Route) error {
	created, err := g.ensure(name, addrs, route)
	if created {
		g.Refresh(name)
	}
	return err
}

func (g *Gateway) ensure(name string, addrs []string, route Route) (created bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ep, ok := g.listeners[name]; ok {
		if slices.Equal(ep.addrs, addrs) {
			ep.route = route
			return false, nil
		}
		g.closeLocked(name)
	}
	ep := &endpoint{name: name, addrs: slices.Clone(addrs), route: route}
	// Plain TCP, as PostgreSQL's own listener: Go's listeners default to MPTCP, which for
	// plain-TCP clients only adds a fallback layer under every read and write.
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	for _, addr := range addrs {
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			for _, l := range ep.lns {
				l.Close()
			}
			return false, err
		}
		ep.lns = append(ep.lns, ln)
	}
	g.listeners[name] = ep
	for _, ln := range ep.lns {
		ep.done.Add(1)
		go g.serve(ep, ln)
		g.log.Info("endpoint listening", "endpoint", name, "addr", ln.Addr().String())
	}
	g.guardEndpoint(ep)
	return true, nil
}

// guardEndpoint has the fence refuse binds of ep's ports to every local process but
// root (serve) until Remove, pinned with the rest: while serve is away, or restarting,
// nobody takes the port to answer the endpoint's clients in its place.
func (g *Gateway) guardEndpoint(ep *endpoint) {
	if g.fence == nil {
		return
	}
	ports := make([]uint16, 0, len(ep.lns))
	for _, ln := range ep.lns {
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			ports = append(ports, uint16(a.Port))
		}
	}
	if err := g.fence.GuardEndpoint(ep.name, ports...); err != nil {
		g.log.Warn("endpoint port not guarded: a local process may bind it while serve is away", "endpoint", ep.name, "ports", ports, "err", err)
	}
}

// ListensAt reports whether some endpoint of the gateway listens on ap: an endpoint's own
// address is given out (DNS, the console) only where serve holds it, never where another
// process was there first.
func (g *Gateway) ListensAt(ap netip.AddrPort) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ep := range g.listeners {
		for _, a := range ep.addrs {
			if x, err := netip.ParseAddrPort(a); err == nil && x.Addr().Unmap() == ap.Addr().Unmap() && x.Port() == ap.Port() {
				return true
			}
		}
	}
	return false
}

// Remove closes endpoint name's listeners and forgets its kernel state, an earlier
// serve's too. Connections already spliced keep running until their server goes away, as
// an RDS endpoint being deleted does not cut sessions at once.
func (g *Gateway) Remove(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closeLocked(name)
	if g.steer != nil {
		g.steer.Unroute(name)
	}
	if g.fence != nil {
		g.fence.ReleaseEndpoint(name)
	}
}

func (g *Gateway) closeLocked(name string) {
	if ep, ok := g.listeners[name]; ok {
		if g.steer != nil {
			g.steer.Unroute(name)
		}
		for _, ln := range ep.lns {
			ln.Close()
		}
		ep.done.Wait()
		delete(g.listeners, name)
		g.fenceMu.Lock()
		delete(g.checked, name)
		g.fenceMu.Unlock()
	}
}

// Close closes every listener and takes the kernel programs away, pinned or not: the
// servers' private ports are open again. It is for a serve that stops its servers.
func (g *Gateway) Close() {
	g.mu.Lock()
	for name := range g.listeners {
		g.closeLocked(name)
	}
	g.mu.Unlock()
	if g.relay != nil {
		g.relay.close()
	}
	g.steer.Close()
	g.fence.Close()
	<-g.fenceDone
	<-g.steerDone
}

// Leave closes every listener and leaves the pinned kernel programs in force, with the
// last rules they were given: for a serve that stops and leaves its servers running. The
// next New with the same DataDir takes them on. Without pins it is Close.
func (g *Gateway) Leave() {
	g.mu.Lock()
	for _, ep := range g.listeners {
		// Not closeLocked: the endpoint's kernel state stays.
		for _, ln := range ep.lns {
			ln.Close()
		}
		ep.done.Wait()
	}
	g.listeners = map[string]*endpoint{}
	g.mu.Unlock()
	if g.relay != nil {
		g.relay.close()
	}
	g.steer.Leave()
	g.fence.Leave()
	<-g.fenceDone
	<-g.steerDone
}

// ReleaseUnclaimed forgets what an earlier serve left in the kernel and this one has not
// taken up since New: endpoints neither Ensured and Refreshed with a server nor Removed,
// private ports not fenced by FenceServer. Until then they are enforced as that serve
// left them. A restarted serve calls it once its first reconciliation has claimed
// everything that still exists.
func (g *Gateway) ReleaseUnclaimed() {
	if g.steer != nil {
		if names := g.steer.ReleaseUnclaimed(); len(names) > 0 {
			g.log.Info("endpoints of an earlier serve released", "endpoints", names)
			for _, name := range names {
				g.Refresh(name) // one this serve listens for is programmed anew
			}
		}
	}
	if g.fence != nil {
		if ports := g.fence.ReleaseUnclaimed(); len(ports) > 0 {
			g.log.Info("private ports of an earlier serve no longer fenced", "ports", ports)
		}
	}
}

// Readmit applies a new admission to endpoint name while the kernel still steers it by
// an earlier serve's last word (see Refresh: until this serve knows the endpoint's
// server), before it returns, so that a rule changed right after a restart applies to
// the next connection. Once the endpoint has a route, Refresh is the way; Readmit then
// changes nothing.
func (g *Gateway) Readmit(name string, a *Admission) {
	if g.steer == nil {
		return
	}
	g.steerMu.Lock()
	defer g.steerMu.Unlock()
	if _, err := g.steer.Readmit(name, a.Prefixes()); err != nil {
		g.log.Warn("kernel admission of an adopted endpoint not changed", "endpoint", name, "err", err)
	}
}

// Refresh reads endpoint name's route again and, with kernel steering, reprograms the
// kernel before it returns, so that a new writer or a new admission applies to the very
// next connection. Whoever changes what a Route returns calls it, outside any lock the
// Route takes.
func (g *Gateway) Refresh(name string) {
	if g.steer == nil {
		return
	}
	g.steerMu.Lock()
	defer g.steerMu.Unlock()
	g.mu.Lock()
	ep := g.listeners[name]
	g.mu.Unlock()
	if ep == nil {
		return
	}
	t, ok := g.currentRoute(ep)()
	if !ok && g.steer.Adopted(name) {
		// A restarted serve that does not know the server yet: the kernel keeps steering
		// by what the earlier serve said, until a route with a server replaces it.
		return
	}
	locals := kernelLocals(ep.lns)
	admit := t.Admission.Prefixes()
	var err error
	if !ok {
		err = g.steer.Refuse(name, locals, admit)
	} else if len(t.Spread) > 0 {
		var servers []steer.Server
		for _, x := range t.Spread {
			if srv, ok := steerServer(x); ok {
				servers = append(servers, srv)
			}
		}
		err = g.steer.Spread(name, locals, servers, admit)
	} else {
		var server steer.Server // none: the gateway relays admitted connections
		if t.Pick == nil || t.ByAddress {
			server, _ = steerServer(t)
		}
		err = g.steer.Route(name, locals, server, admit)
	}
	if err != nil {
		// Route leaves the endpoint relayed where the server's socket cannot be had; on
		// other errors the kernel leaves it alone and the gateway's listener takes every
		// connection, as without steering.
		g.log.Warn("kernel steering of endpoint off; the gateway carries its connections", "endpoint", name, "err", err)
	}
}

// kernelLocals are the addresses the kernel decides for, of an endpoint's listeners.
// Go listens on a wildcard address dual-stack, on [::]: IPv4 connections reach it too.
func kernelLocals(lns []net.Listener) []netip.AddrPort {
	var out []netip.AddrPort
	for _, ln := range lns {
		a := ln.Addr().(*net.TCPAddr).AddrPort()
		out = append(out, a)
		if a.Addr().Is6() && a.Addr().IsUnspecified() {
			out = append(out, netip.AddrPortFrom(netip.IPv4Unspecified(), a.Port()))
		}
	}
	return out
}

// collectSteered adds what the kernel counted for steered connections since the last
// scrape to the endpoint metrics.
func (g *Gateway) collectSteered() {
	if g.steer == nil {
		return
	}
	g.mu.Lock()
	names := make([]string, 0, len(g.listeners))
	for name := range g.listeners {
		names = append(names, name)
	}
	g.mu.Unlock()
	g.steerMu.Lock()
	defer g.steerMu.Unlock()
	for _, name := range names {
		now, last := g.steer.Counters(name), g.seen[name]
		if now.Accepted < last.Accepted || now.Closed < last.Closed {
			last = steer.Counters{} // the kernel's slot was started afresh
		}
		g.metrics.accepted.WithLabelValues(name).Add(float64(now.Accepted - last.Accepted))
		g.metrics.open.WithLabelValues(name).Add(float64(now.Accepted-last.Accepted) - float64(now.Closed-last.Closed))
		g.metrics.bytes.WithLabelValues(name, "in").Add(float64(now.BytesIn - last.BytesIn))
		g.metrics.bytes.WithLabelValues(name, "out").Add(float64(now.BytesOut - last.BytesOut))
		// Refusals have their own counts, started afresh apart from the slots'.
		lastRefused := g.seen[name].Refused
		if now.Refused.SecurityGroups < lastRefused.SecurityGroups || now.Refused.NoServer < lastRefused.NoServer {
			lastRefused = steer.Refusals{}
		}
		g.metrics.refused.WithLabelValues(name, reasonSecurityGroups).Add(float64(now.Refused.SecurityGroups - lastRefused.SecurityGroups))
		g.metrics.refused.WithLabelValues(name, reasonNoServer).Add(float64(now.Refused.NoServer - lastRefused.NoServer))
		g.seen[name] = now
	}
}

func (g *Gateway) currentRoute(ep *endpoint) Route {
	g.mu.Lock()
	defer g.mu.Unlock()
	return ep.route
}

func (g *Gateway) serve(ep *endpoint, ln net.Listener) {
	defer ep.done.Done()
	for {
		c, err := ln.Accept()
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

// PostgreSQL's first-message codes (the int32 after the length).
const (
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
	cancelRequestCode = 80877102
	protocolVersion   = 3 << 16 // a StartupMessage of protocol 3.0
	maxStartupLen     = 10000   // PostgreSQL's own MAX_STARTUP_PACKET_LENGTH
)

// resetOnClose makes the coming Close send a TCP reset rather than a FIN: a client refused
// because nothing may or can serve it then reports a refused or reset connection
// (psql: "Connection reset by peer"), not an orderly close that reads like a server crash.
func resetOnClose(c net.Conn) {
	if tc, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
}

func (g *Gateway) handle(ep *endpoint, client net.Conn) {
	defer client.Close()
	g.metrics.accepted.WithLabelValues(ep.name).Inc()
	refused := func(reason string) { g.metrics.refused.WithLabelValues(ep.name, reason).Inc() }
	source := client.RemoteAddr().String()
	target, ok := g.currentRoute(ep)()
	// The security groups decide before one byte is read or written.
	var src netip.Addr
	if ta, isTCP := client.RemoteAddr().(*net.TCPAddr); isTCP {
		src = ta.AddrPort().Addr()
	}
	if !target.Admission.Admits(src) {
		var groups []string
		if target.Admission != nil {
			groups = target.Admission.Groups
		}
		g.log.Info(logSecurityGroups, "endpoint", ep.name, "source", source, "groups", groups)
		refused(reasonSecurityGroups)
		g.tally.add(ep.name, src, time.Now())
		resetOnClose(client)
		return
	}
	if !ok {
		g.log.Info(logNoServer, "endpoint", ep.name, "source", source)
		refused(reasonNoServer)
		resetOnClose(client)
		return
	}
	// Every PostgreSQL first message starts with a length and a code: 8 bytes.
	var head [8]byte
	_ = client.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(client, head[:1]); err != nil {
		return
	}
	// PostgreSQL 15 expects an SSLRequest first; libpq 17's sslnegotiation=direct opens
	// with a TLS ClientHello instead, which PostgreSQL 15 would misread. Refuse it cleanly.
	if head[0] == tlsHandshakeByte {
		g.log.Info("connection refused: direct TLS is not supported by PostgreSQL 15", "endpoint", ep.name, "source", source)
		refused("direct-tls")
		return
	}
	if _, err := io.ReadFull(client, head[1:]); err != nil {
		return
	}
	length := int(binary.BigEndian.Uint32(head[0:4]))
	code := binary.BigEndian.Uint32(head[4:8])
	if target.ForceSSL && code == protocolVersion {
		g.refusePlaintext(ep, client, length)
		refused("plaintext")
		return
	}
	if target.Pick != nil && code == gssEncRequestCode && length == 8 {
		// No GSSAPI encryption: the client goes on with an SSLRequest (or plaintext), which
		// names the endpoint it wants; forwarding this one would tie it to the writer.
		if _, err := client.Write([]byte{'N'}); err != nil {
			return
		}
		if _, err := io.ReadFull(client, head[:]); err != nil {
			return
		}
		length = int(binary.BigEndian.Uint32(head[0:4]))
		code = binary.BigEndian.Uint32(head[4:8])
		if target.ForceSSL && code == protocolVersion {
			g.refusePlaintext(ep, client, length)
			refused("plaintext")
			return
		}
	}
	if (target.Pick != nil || len(target.Spread) > 0) && code == cancelRequestCode && length == 16 && target.Servers != nil {
		g.cancelEverywhere(ep, client, head[:], target.Servers())
		return
	}
	if target.Pick != nil && code == sslRequestCode && length == 8 {
		server, sent := g.pickByName(ep, client, head[:], target, refused)
		if server == nil {
			return
		}
		defer server.Close()
		g.carryCounted(ep, client, server, sent)
		return
	}
	_ = client.SetReadDeadline(time.Time{})
	checkKey := ep.name
	if len(target.Spread) > 0 {
		checkKey += " " + target.Addr // the server changes from one connection to the next
	}
	if !g.relayTargetIsServer(checkKey, target) {
		g.log.Error("connection refused: a process other than the server listens on its private port", "endpoint", ep.name, "backend", target.Addr, "postmaster", target.PID)
		refused("server-impostor")
		resetOnClose(client)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	server, err := relayDialer.DialContext(ctx, "tcp", target.Addr)
	cancel()
	if err != nil {
		g.log.Warn("backend unreachable", "endpoint", ep.name, "backend", target.Addr, "err", err)
		refused("server-unreachable")
		resetOnClose(client)
		return
	}
	defer server.Close()
	if _, err := server.Write(head[:]); err != nil {
		return
	}
	g.carryCounted(ep, client, server, int64(len(head)))
}

// carryCounted carries a connection to its end, counting it open meanwhile and its bytes
// (sent: what the gateway already passed to the server).
func (g *Gateway) carryCounted(ep *endpoint, client, server net.Conn, sent int64) {
	defer g.origins.hold(client, server)()
	open := g.metrics.open.WithLabelValues(ep.name)
	open.Inc()
	in, out := g.carry(client, server)
	open.Dec()
	g.metrics.bytes.WithLabelValues(ep.name, "in").Add(float64(in + sent))
	g.metrics.bytes.WithLabelValues(ep.name, "out").Add(float64(out))
}

// refusePlaintext answers a plaintext StartupMessage as PostgreSQL's pg_hba.conf check
// does when only hostssl rules exist, naming the real client address.
func (g *Gateway) refusePlaintext(ep *endpoint, client net.Conn, length int) {
	if length < 8 || length > maxStartupLen {
		return
	}
	body := make([]byte, length-8)
	if _, err := io.ReadFull(client, body); err != nil {
		return
	}
	params := startupParams(body)
	user, db := params["user"], params["database"]
	if db == "" {
		db = user
	}
	host, _, _ := net.SplitHostPort(client.RemoteAddr().String())
	msg := fmt.Sprintf("no pg_hba.conf entry for host %q, user %q, database %q, no encryption", host, user, db)
	g.log.Info("connection refused: plaintext while rds.force_ssl=1", "endpoint", ep.name, "source", client.RemoteAddr().String(), "user", user, "database", db)
	_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = client.Write(errorResponse("FATAL", "28000", msg))
}

// startupParams reads a StartupMessage's name/value pairs.
func startupParams(body []byte) map[string]string {
	out := map[string]string{}
	fields := bytes.Split(body, []byte{0})
	for i := 0; i+1 < len(fields); i += 2 {
		if len(fields[i]) == 0 {
			break
		}
		out[string(fields[i])] = string(fields[i+1])
	}
	return out
}

// errorResponse encodes a PostgreSQL ErrorResponse message.
func errorResponse(severity, sqlstate, message string) []byte {
	var b bytes.Buffer
	b.WriteByte('E')
	b.Write([]byte{0, 0, 0, 0})
	for _, f := range []struct {
		t byte
		v string
	}{{'S', severity}, {'V', severity}, {'C', sqlstate}, {'M', message}} {
		b.WriteByte(f.t)
		b.WriteString(f.v)
		b.WriteByte(0)
	}
	b.WriteByte(0)
	out := b.Bytes()
	binary.BigEndian.PutUint32(out[1:5], uint32(len(out)-1))
	return out
}

// carry copies both ways until both directions end: on the relay, or failing that with
// a goroutine per direction.
func (g *Gateway) carry(client, server net.Conn) (in, out int64) {
	if g.relay != nil {
		if in, out, ok := g.relay.splice(client, server); ok {
			return in, out
		}
	}
	return splice(client, server)
}

// splice copies both ways with io.Copy, which between two *net.TCPConn uses splice(2).
func splice(client, server net.Conn) (in, out int64) {
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn, n *int64) {
		defer wg.Done()
		*n, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		} else {
			_ = dst.Close()
		}
	}
	go pipe(server, client, &in)
	go pipe(client, server, &out)
	wg.Wait()
	return in, out
}
