package server

import (
	"net/netip"

	"github.com/borealis-db/borealis/internal/epaddr"
)

// hostaddr is the address a client on this host gives libpq (hostaddr) to reach the
// endpoints without a name lookup: the first endpoint address, or loopback in its family
// when the endpoints listen on every address. "" when there is none.
func hostaddr(endpointAddrs []string) string {
	for _, s := range endpointAddrs {
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			continue
		case a.IsUnspecified() && a.Is4():
			return "127.0.0.1"
		case a.IsUnspecified():
			return "::1"
		}
		return a.Unmap().String()
	}
	return ""
}

// ownHostaddr is the hostaddr of a reader or instance endpoint that listens on an address
// of its own (package epaddr).
func ownHostaddr(endpointAddrs []string, listening func(netip.AddrPort) bool) func(string, int) (string, bool) {
	own := ownAddr(endpointAddrs, listening)
	return func(name string, port int) (string, bool) {
		a, ok := own(name, port)
		return a.String(), ok
	}
}

// ownAddr is the address of its own of a reader or instance endpoint name of a cluster on
// port, where serve listens on it (listening): a name whose address another local process
// took first (bound before the port was the cluster's, which the fence then keeps for
// serve) resolves to the cluster endpoint's addresses instead, where the gateway tells it
// by name, never to that process.
func ownAddr(endpointAddrs []string, listening func(netip.AddrPort) bool) func(string, int) (netip.Addr, bool) {
	bases := epaddr.Parse(endpointAddrs)
	return func(name string, port int) (netip.Addr, bool) {
		a, ok := epaddr.Own(bases, name)
		if !ok || port < 1 || port > 65535 || !listening(netip.AddrPortFrom(a, uint16(port))) {
			return netip.Addr{}, false
		}
		return a, true
	}
}
