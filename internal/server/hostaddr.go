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
func ownHostaddr(endpointAddrs []string) func(string) (string, bool) {
	bases := epaddr.Parse(endpointAddrs)
	return func(name string) (string, bool) {
		a, ok := epaddr.Own(bases, name)
		return a.String(), ok
	}
}
