// Package dns is the authoritative name server for Borealis' endpoint domain: every endpoint
// name of a cluster or instance that exists resolves to the addresses the endpoints listen
// on, so that any driver can connect with sslmode=verify-full by the endpoint name. It is
// not a resolver: a name outside the domain is REFUSED, and nothing is looked up elsewhere.
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/net/netutil"

	"github.com/borealis-db/borealis/internal/store"
)

// Names is where the server reads, at each query, which endpoint names exist, so that a
// cluster created or deleted is answered for at once.
type Names interface {
	// EndpointNames lists every endpoint name that exists now, without a trailing dot.
	EndpointNames(ctx context.Context) ([]store.EndpointName, error)
}

// Config is what the server answers.
type Config struct {
	// Zone is the endpoint domain (every endpoint name ends with it); the server is
	// authoritative for it and refuses every name outside it.
	Zone string
	// Addrs are the addresses every endpoint listens on: the answer to A and AAAA.
	Addrs []netip.Addr
	// Own, when set, gives a reader or instance endpoint name (of a cluster on port) an
	// address of its own (package epaddr), its only answer; false: Addrs, as for a
	// cluster endpoint.
	Own func(name string, port int) (netip.Addr, bool)
	// NSAddrs are the addresses this server answers at (ns.ZONE, the zone's name server);
	// none where it listens on every address.
	NSAddrs []netip.Addr
	Names   Names
	Log     *slog.Logger
}

// Answers last ttl seconds, negative ones too (the SOA minimum), as RDS's endpoint records
// do: a new cluster resolves, and a deleted one stops resolving, within seconds.
const ttl = 5

// maxInFlight bounds the queries read from the store at once; past it a query is dropped,
// as a loaded name server does, and the client asks again.
const maxInFlight = 64

// maxUDPSize is the largest UDP answer, whatever EDNS buffer a client offers (the DNS flag
// day 2020 figure: no fragments).
const maxUDPSize = 1232

// maxTCPConns bounds the TCP connections served at once: each holds a descriptor of
// serve's (which the API needs too) for minutes if its client keeps asking. Past it,
// connections wait in the kernel's queue; UDP is not held up.
const maxTCPConns = 256

// lookupTimeout bounds one query's read of the store.
const lookupTimeout = 2 * time.Second

// Handler answers DNS queries; Serve runs it on a UDP socket and a TCP listener.
type Handler struct {
	zone     string // lower-case, no trailing dot
	fqdn     string // zone with the trailing dot: owner of the SOA and NS records
	nsName   string // ns.ZONE.
	addrs    []netip.Addr
	own      func(string, int) (netip.Addr, bool)
	nsAddrs  []netip.Addr
	names    Names
	log      *slog.Logger
	inFlight chan struct{}
}

// NewHandler checks cfg and returns its handler.
func NewHandler(cfg Config) (*Handler, error) {
	zone := strings.TrimSuffix(strings.ToLower(cfg.Zone), ".")
	if _, ok := mdns.IsDomainName(zone); !ok || zone == "" {
		return nil, fmt.Errorf("dns: %q is not a domain name", cfg.Zone)
	}
	if cfg.Names == nil {
		return nil, errors.New("dns: no source of endpoint names")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		zone: zone, fqdn: zone + ".", nsName: "ns." + zone + ".",
		addrs: cfg.Addrs, own: cfg.Own, nsAddrs: cfg.NSAddrs, names: &fresh{src: cfg.Names}, log: log,
		inFlight: make(chan struct{}, maxInFlight),
	}, nil
}

// ServeDNS implements mdns.Handler.
func (h *Handler) ServeDNS(w mdns.ResponseWriter, r *mdns.Msg) {
	select {
	case h.inFlight <- struct{}{}:
		defer func() { <-h.inFlight }()
	default:
		return
	}
	_, udp := w.LocalAddr().(*net.UDPAddr)
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	m := h.Answer(ctx, r, udp)
	_ = w.WriteMsg(m)
}

// Answer is the reply to r: r's ID and question echoed as they came (case included), the
// answer for its name, and, over UDP, cut to what fits the client's buffer (TC set).
func (h *Handler) Answer(ctx context.Context, r *mdns.Msg, udp bool) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(r)
	m.Compress = true
	size := mdns.MinMsgSize
	opt := r.IsEdns0()
	if opt != nil {
		if opt.Version() != 0 {
			m.SetEdns0(maxUDPSize, false)
			m.SetRcode(r, mdns.RcodeBadVers) // the extended part goes into the OPT record
			return m
		}
		size = min(max(int(opt.UDPSize()), mdns.MinMsgSize), maxUDPSize)
	}
	h.answer(ctx, r, m)
	if opt != nil {
		m.SetEdns0(maxUDPSize, false)
	}
	if udp {
		m.Truncate(size)
	}
	return m
}

func (h *Handler) answer(ctx context.Context, r, m *mdns.Msg) {
	if r.Opcode != mdns.OpcodeQuery || len(r.Question) != 1 {
		m.Rcode = mdns.RcodeNotImplemented
		return
	}
	q := r.Question[0]
	name := strings.TrimSuffix(mdns.CanonicalName(q.Name), ".")
	if q.Qclass != mdns.ClassINET || !mdns.IsSubDomain(h.fqdn, name+".") {
		m.Rcode = mdns.RcodeRefused // not ours: no recursion, no other class
		return
	}
	// Zone transfers would list every endpoint name at once; the zone is never transferred.
	if q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR {
		m.Rcode = mdns.RcodeRefused
		return
	}
	m.Authoritative = true
	exists, addrs, err := h.lookup(ctx, name)
	if err != nil {
		h.log.Warn("DNS query not answered: endpoint names unreadable", "err", err)
		m.Authoritative = false
		m.Rcode = mdns.RcodeServerFailure
		return
	}
	if !exists {
		m.Rcode = mdns.RcodeNameError
		m.Ns = []mdns.RR{h.soa()}
		return
	}
	hdr := func(t uint16) mdns.RR_Header {
		return mdns.RR_Header{Name: q.Name, Rrtype: t, Class: mdns.ClassINET, Ttl: ttl}
	}
	switch {
	case q.Qtype == mdns.TypeANY:
		// RFC 8482: one small record instead of everything the name has.
		m.Answer = append(m.Answer, &mdns.HINFO{Hdr: hdr(mdns.TypeHINFO), Cpu: "RFC8482"})
	case name == h.zone && q.Qtype == mdns.TypeSOA:
		soa := h.soa()
		soa.Hdr.Name = q.Name
		m.Answer = append(m.Answer, soa)
	case name == h.zone && q.Qtype == mdns.TypeNS:
		m.Answer = append(m.Answer, &mdns.NS{Hdr: hdr(mdns.TypeNS), Ns: h.nsName})
	case q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeAAAA:
		for _, a := range addrs {
			switch {
			case a.Is4() && q.Qtype == mdns.TypeA:
				m.Answer = append(m.Answer, &mdns.A{Hdr: hdr(mdns.TypeA), A: a.AsSlice()})
			case a.Is6() && q.Qtype == mdns.TypeAAAA:
				m.Answer = append(m.Answer, &mdns.AAAA{Hdr: hdr(mdns.TypeAAAA), AAAA: a.AsSlice()})
			}
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = []mdns.RR{h.soa()} // the name exists, without data of this type
	}
}

// lookup says whether name (lower-case, in the zone) exists and which addresses it has:
// the apex, the name server, an endpoint, or a name with endpoints below it (which has no
// records, but exists, so that a resolver walking down label by label does not stop).
func (h *Handler) lookup(ctx context.Context, name string) (bool, []netip.Addr, error) {
	switch name {
	case h.zone:
		return true, nil, nil
	case strings.TrimSuffix(h.nsName, "."):
		return true, h.nsAddrs, nil
	}
	names, err := h.names.EndpointNames(ctx)
	if err != nil {
		return false, nil, err
	}
	below := false
	for _, e := range names {
		n := strings.ToLower(e.Name)
		if n == name {
			if !e.Cluster && h.own != nil {
				if a, ok := h.own(n, e.Port); ok {
					return true, []netip.Addr{a}, nil
				}
			}
			return true, h.addrs, nil
		}
		below = below || strings.HasSuffix(n, "."+name)
	}
	return below, nil, nil
}

// soa is the zone's SOA record; its minimum is the TTL of negative answers.
func (h *Handler) soa() *mdns.SOA {
	return &mdns.SOA{
		Hdr:     mdns.RR_Header{Name: h.fqdn, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: ttl},
		Ns:      h.nsName,
		Mbox:    "hostmaster." + h.fqdn,
		Serial:  1, // never transferred: no secondary compares serials
		Refresh: 3600, Retry: 600, Expire: 86400, Minttl: ttl,
	}
}

// Listen binds addr (IP:port) for UDP and TCP alike; with port 0 both get the same free
// port, since a resolver asks one port over both.
func Listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	if host != "" && net.ParseIP(host) == nil {
		return nil, nil, fmt.Errorf("%q: the host must be an IP address", addr)
	}
	for range 20 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		_, got, _ := net.SplitHostPort(pc.LocalAddr().String())
		ln, err := net.Listen("tcp", net.JoinHostPort(host, got))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != "0" {
			return nil, nil, err
		}
	}
	return nil, nil, fmt.Errorf("%s: no port free for both UDP and TCP", addr)
}

// Server is the handler running on a UDP socket and a TCP listener.
type Server struct {
	udp, tcp *mdns.Server
	addr     string
}

// Start serves h on pc and ln until Shutdown.
func Start(h *Handler, pc net.PacketConn, ln net.Listener, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		udp:  &mdns.Server{PacketConn: pc, Handler: h, UDPSize: maxUDPSize},
		tcp:  &mdns.Server{Listener: netutil.LimitListener(ln, maxTCPConns), Handler: h, MaxTCPQueries: 128},
		addr: pc.LocalAddr().String(),
	}
	for _, srv := range []*mdns.Server{s.udp, s.tcp} {
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				log.Error("DNS server stopped", "err", err)
			}
		}()
	}
	return s
}

// Addr is the IP:port the server answers at, over UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Shutdown stops both listeners.
func (s *Server) Shutdown(ctx context.Context) {
	_ = s.udp.ShutdownContext(ctx)
	_ = s.tcp.ShutdownContext(ctx)
}

// ListenAddrs are the addresses addr names for ns.ZONE: none for a wildcard address.
func ListenAddrs(addr string) []netip.Addr {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.IsUnspecified() {
		return nil
	}
	return []netip.Addr{a.Unmap()}
}
