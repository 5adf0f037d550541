package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/borealis-db/borealis/internal/dns"
	"github.com/borealis-db/borealis/internal/store"
)

// dnsMaxConnsPerSource caps the DNS-over-TCP connections one source holds open: a resolver
// needs one or two.
const dnsMaxConnsPerSource = 16

// DNSOff as Config.DNSAddr (or "") runs no DNS server; an empty BOREALIS_ variable
// leaves a flag at its default, so the word is needed.
const DNSOff = "off"

// dnsServer is serve's name server for the endpoint domain, or none (nil) when
// Config.DNSAddr is off.
type dnsServer struct{ srv *dns.Server }

// startDNS answers, on cfg.DNSAddr (UDP and TCP), every endpoint name that exists with the
// addresses the endpoints listen on (endpointAddrs).
func startDNS(cfg Config, endpointAddrs []string, listening func(netip.AddrPort) bool, st *store.Store, log *slog.Logger) (*dnsServer, error) {
	if cfg.DNSAddr == "" || cfg.DNSAddr == DNSOff {
		return nil, nil
	}
	pc, ln, err := dns.Listen(cfg.DNSAddr)
	if err != nil {
		return nil, fmt.Errorf("dns listener: %w", err)
	}
	self := dns.ListenAddrs(pc.LocalAddr().String())
	h, err := dns.NewHandler(dns.Config{
		Zone:    cfg.EndpointDomain,
		Addrs:   answerAddrs(endpointAddrs, self, log),
		Own:     ownAddr(endpointAddrs, listening),
		NSAddrs: self,
		Names:   st,
		Log:     log,
	})
	if err != nil {
		pc.Close()
		ln.Close()
		return nil, err
	}
	return &dnsServer{dns.Start(h, pc, limitPerSource(ln, dnsMaxConnsPerSource, log), log)}, nil
}

// answerAddrs are the addresses endpoint names resolve to: the endpoints' own, except that
// an endpoint on every address (0.0.0.0, ::) is named by the address the name server
// listens on in that family, which its clients reach.
func answerAddrs(endpointAddrs []string, self []netip.Addr, log *slog.Logger) []netip.Addr {
	var out []netip.Addr
	for _, s := range endpointAddrs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		a = a.Unmap()
		if !a.IsUnspecified() {
			out = append(out, a)
			continue
		}
		found := false
		for _, d := range self {
			if d.Is4() == a.Is4() {
				out, found = append(out, d), true
			}
		}
		if !found {
			log.Warn("endpoint names get no address for an endpoint on every address: give --dns-addr an address of that family", "endpoint_addr", s)
		}
	}
	return out
}

// Addr is where the DNS server answers, for the start log.
func (d *dnsServer) Addr() string {
	if d == nil {
		return "off"
	}
	return d.srv.Addr()
}

func (d *dnsServer) Close() {
	if d != nil {
		d.srv.Shutdown(context.Background())
	}
}
