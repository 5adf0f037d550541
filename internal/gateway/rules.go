package gateway

import (
	"math/big"
	"net/netip"
	"slices"
)

// Admission is the set of source addresses an endpoint admits, compiled from its security
// groups' ingress rules for the endpoint's port. It is immutable: a change builds a new
// one and the route swaps it in, so a check never takes a lock.
//
// The prefixes are merged into sorted, disjoint address ranges, one list per family, and a
// check is a binary search: thousands of rules cost a few comparisons.
type Admission struct {
	v4, v6 []addrRange
	// Groups names the security groups consulted, for the refusal log.
	Groups []string
}

type addrRange struct{ lo, hi netip.Addr }

// NewAdmission compiles the prefixes that admit traffic to the endpoint's port.
func NewAdmission(groups []string, prefixes []netip.Prefix) *Admission {
	a := &Admission{Groups: groups}
	var v4, v6 []addrRange
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		p = p.Masked()
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		r := addrRange{p.Addr(), lastAddr(p)}
		if p.Addr().Is4() {
			v4 = append(v4, r)
		} else {
			v6 = append(v6, r)
		}
	}
	a.v4, a.v6 = merge(v4), merge(v6)
	return a
}

// Admits reports whether a source address is admitted. IPv4-mapped IPv6 sources count as
// the IPv4 address they carry.
func (a *Admission) Admits(src netip.Addr) bool {
	if a == nil {
		return false
	}
	src = src.Unmap()
	ranges := a.v6
	if src.Is4() {
		ranges = a.v4
	}
	// The first range whose end is at or after src; src is admitted if that range starts
	// at or before it.
	i, _ := slices.BinarySearchFunc(ranges, src, func(r addrRange, t netip.Addr) int { return r.hi.Compare(t) })
	return i < len(ranges) && ranges[i].lo.Compare(src) <= 0
}

func merge(rs []addrRange) []addrRange {
	slices.SortFunc(rs, func(a, b addrRange) int { return a.lo.Compare(b.lo) })
	var out []addrRange
	for _, r := range rs {
		if n := len(out); n > 0 && (r.lo.Compare(out[n-1].hi) <= 0 || out[n-1].hi.Next() == r.lo) {
			if r.hi.Compare(out[n-1].hi) > 0 {
				out[n-1].hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// lastAddr is the highest address of a (masked) prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := len(b) * 8
	n := new(big.Int).SetBytes(b)
	hostBits := bits - p.Bits()
	ones := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(hostBits)), big.NewInt(1))
	n.Or(n, ones)
	out := make([]byte, len(b))
	n.FillBytes(out)
	a, _ := netip.AddrFromSlice(out)
	return a
}

// Prefixes are the admitted addresses again as CIDR prefixes, the fewest that cover the
// merged ranges exactly: what a longest-prefix-match table (the kernel's) needs.
func (a *Admission) Prefixes() []netip.Prefix {
	if a == nil {
		return nil
	}
	var out []netip.Prefix
	for _, ranges := range [][]addrRange{a.v4, a.v6} {
		for _, r := range ranges {
			out = appendRangePrefixes(out, r)
		}
	}
	return out
}

// appendRangePrefixes splits r into prefixes: from its start, each time the shortest
// prefix that starts there and ends within r.
func appendRangePrefixes(out []netip.Prefix, r addrRange) []netip.Prefix {
	lo := r.lo
	for {
		bits := lo.BitLen()
		for bits > 0 {
			p := netip.PrefixFrom(lo, bits-1)
			if p.Masked().Addr() != lo || lastAddr(p).Compare(r.hi) > 0 {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(lo, bits)
		out = append(out, p)
		end := lastAddr(p)
		if end.Compare(r.hi) >= 0 || !end.Next().IsValid() {
			return out
		}
		lo = end.Next()
	}
}
