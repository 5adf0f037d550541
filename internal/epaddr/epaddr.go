// Package epaddr says which address each endpoint name listens at. On RDS the cluster,
// reader and instance endpoints are different names resolving to different addresses; so
// here: the cluster endpoint listens on the configured endpoint addresses (--endpoint-addr),
// and every other endpoint (the reader endpoint, each instance endpoint) on an address of
// its own, so that the kernel can tell them apart at the SYN, by destination address,
// before any byte names the endpoint.
//
// An address of its own exists where the host has a block of addresses that reach it
// without configuration: IPv4 loopback, 127.0.0.0/8, all local on Linux. An endpoint's own
// address is derived from its name (a hash into 127.64.0.0/10), so the DNS server, the
// gateway and the console agree on it without storing it; the cluster's port tells two
// clusters' endpoints apart on the same address. Where no endpoint address is IPv4
// loopback (an operator's real interface, IPv6 ::1 alone, a wildcard), there is none: every
// name resolves to the endpoint addresses and the gateway tells the names apart by TLS
// server name (SNI), relaying.
package epaddr

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
)

// block is where own addresses are taken from: 2^22 addresses of IPv4 loopback, away from
// 127.0.0.1 and the low addresses hosts and tests use as sources.
var block = netip.MustParsePrefix("127.64.0.0/10")

// Capable reports whether the endpoint addresses give endpoints addresses of their own:
// one of them is IPv4 loopback.
func Capable(bases []netip.Addr) bool {
	return slices.ContainsFunc(bases, func(a netip.Addr) bool { a = a.Unmap(); return a.Is4() && a.IsLoopback() })
}

// Own is the address of its own of endpoint name (not a cluster endpoint) given the
// endpoint addresses bases, and false where bases give none (see Capable).
func Own(bases []netip.Addr, name string) (netip.Addr, bool) {
	if !Capable(bases) {
		return netip.Addr{}, false
	}
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSuffix(name, "."))))
	b := block.Addr().As4()
	v := binary.BigEndian.Uint32(b[:]) | binary.BigEndian.Uint32(sum[:4])>>block.Bits()
	binary.BigEndian.PutUint32(b[:], v)
	a := netip.AddrFrom4(b)
	if slices.ContainsFunc(bases, func(x netip.Addr) bool { return x.Unmap() == a }) {
		return netip.Addr{}, false // an operator's endpoint address: shared, told apart by name
	}
	return a, true
}

// Addrs are the addresses endpoint name resolves to: the endpoint addresses for the
// cluster endpoint (cluster true) and for any name without an address of its own, else its
// own address alone (IPv4: the IPv6 endpoint addresses are shared and could not tell it
// from the cluster endpoint in the kernel).
func Addrs(bases []netip.Addr, name string, cluster bool) []netip.Addr {
	if !cluster {
		if a, ok := Own(bases, name); ok {
			return []netip.Addr{a}
		}
	}
	return slices.Clone(bases)
}

// Parse reads endpoint addresses as the configuration gives them (IP literals), skipping
// what is not one.
func Parse(addrs []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range addrs {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}
