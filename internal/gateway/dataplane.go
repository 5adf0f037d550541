package gateway

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/borealis-db/borealis/internal/dataplane"
	"github.com/borealis-db/borealis/internal/steer"
)

// maxTallied bounds the sources the gateway counts apart between two drains, as the
// kernel's table does, and maxTalliedPerEndpoint those of one endpoint (so that a flood
// at one cannot leave the others' sources unnamed); past them they are counted together
// per endpoint.
const (
	maxTallied            = 4096
	maxTalliedPerEndpoint = maxTallied / 16
)

// refusalTally counts the connections the gateway itself refused by the security groups
// (those the kernel did not decide: no steering, or an endpoint it does not hold), per
// endpoint and source, for the audit trail.
type refusalTally struct {
	mu         sync.Mutex
	counts     map[tallyKey]*dataplane.Refusal
	byEndpoint map[string]int // the sources counted apart, per endpoint
}

type tallyKey struct {
	endpoint string
	source   netip.Addr // invalid: sources past maxTallied
}

func (t *refusalTally) add(endpoint string, source netip.Addr, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts, t.byEndpoint = map[tallyKey]*dataplane.Refusal{}, map[string]int{}
	}
	k := tallyKey{endpoint, source.Unmap()}
	r := t.counts[k]
	if r == nil && (len(t.counts) >= maxTallied || t.byEndpoint[endpoint] >= maxTalliedPerEndpoint) {
		k.source = netip.Addr{}
		r = t.counts[k]
	}
	if r == nil && k.source.IsValid() {
		t.byEndpoint[endpoint]++
	}
	if r == nil {
		r = &dataplane.Refusal{Endpoint: endpoint, Source: k.source, First: now}
		t.counts[k] = r
	}
	r.Count++
	r.Last = now
}

func (t *refusalTally) drain() []dataplane.Refusal {
	t.mu.Lock()
	counts := t.counts
	t.counts, t.byEndpoint = nil, nil
	t.mu.Unlock()
	out := make([]dataplane.Refusal, 0, len(counts))
	for _, r := range counts {
		out = append(out, *r)
	}
	return out
}

// DrainRefused returns the connections refused by the security groups since the last
// drain, per endpoint and source, whether the kernel refused them at their SYN (also
// while no serve ran, where its programs are pinned) or the gateway after accepting them,
// each with the security groups its endpoint consults now.
func (g *Gateway) DrainRefused() ([]dataplane.Refusal, error) {
	out := g.tally.drain()
	var err error
	if g.steer != nil {
		var kernel []steer.SourceRefusals
		kernel, err = g.steer.DrainRefused()
		for _, r := range kernel {
			if r.Reason != steer.RefusedBySecurityGroups {
				continue // no server: not a decision of the groups (counted at /metrics)
			}
			out = append(out, dataplane.Refusal{Endpoint: r.Name, Source: r.Source, Count: r.Count, First: r.First, Last: r.Last})
		}
	}
	groups := map[string][]string{}
	for i := range out {
		name := out[i].Endpoint
		if _, ok := groups[name]; !ok {
			groups[name] = g.groups(name)
		}
		out[i].Groups = groups[name]
	}
	return out, err
}

// relayOrigins are the relayed connections in progress, by the address of the gateway's
// socket to the server: what a server sees as its client's address leads back to the real
// client (for the audit of a failed login on a relayed endpoint).
type relayOrigins struct {
	mu sync.Mutex
	m  map[netip.AddrPort]relayOrigin
}

type relayOrigin struct{ client, endpoint netip.AddrPort }

// hold notes server's origin, client, until the returned func is called.
func (o *relayOrigins) hold(client, server net.Conn) func() {
	relay, ok1 := addrPort(server.LocalAddr())
	src, ok2 := addrPort(client.RemoteAddr())
	ep, ok3 := addrPort(client.LocalAddr())
	if !ok1 || !ok2 || !ok3 {
		return func() {}
	}
	o.mu.Lock()
	if o.m == nil {
		o.m = map[netip.AddrPort]relayOrigin{}
	}
	o.m[relay] = relayOrigin{src, ep}
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		delete(o.m, relay)
		o.mu.Unlock()
	}
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := t.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// Origin is the client and the endpoint address of the relayed connection whose socket to
// the server is relay; ok is false for anything else (a steered connection's client is
// the server's own peer).
func (g *Gateway) Origin(relay netip.AddrPort) (client, endpoint netip.AddrPort, ok bool) {
	g.origins.mu.Lock()
	defer g.origins.mu.Unlock()
	o, ok := g.origins.m[netip.AddrPortFrom(relay.Addr().Unmap(), relay.Port())]
	return o.client, o.endpoint, ok
}
