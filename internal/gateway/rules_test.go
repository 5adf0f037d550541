package gateway

import (
	"fmt"
	"net/netip"
	"testing"
)

func prefixes(ps ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestAdmissionMatchesCIDRsOfBothFamilies(t *testing.T) {
	a := NewAdmission([]string{"sg-1"}, prefixes("127.0.0.2/32", "10.1.0.0/16", "10.1.255.0/24", "10.2.0.0/16", "2001:db8::/64", "::1/128"))
	for src, want := range map[string]bool{
		"127.0.0.2": true, "127.0.0.1": false, "127.0.0.3": false,
		"10.1.3.4": true, "10.2.0.0": true, "10.2.255.255": true, "10.3.0.0": false, "10.0.255.255": false,
		"2001:db8::7": true, "2001:db8:0:1::7": false, "::1": true, "::2": false,
		"::ffff:127.0.0.2": true, "::ffff:127.0.0.1": false, // IPv4-mapped sources are their IPv4 address
	} {
		if got := a.Admits(netip.MustParseAddr(src)); got != want {
			t.Errorf("%s: admitted %v, want %v", src, got, want)
		}
	}
}

func TestAdmissionOfNothingAdmitsNothing(t *testing.T) {
	var none *Admission
	if none.Admits(netip.MustParseAddr("127.0.0.1")) || NewAdmission(nil, nil).Admits(netip.MustParseAddr("127.0.0.1")) {
		t.Fatal("an empty admission admitted a source")
	}
	if !NewAdmission(nil, prefixes("0.0.0.0/0")).Admits(netip.MustParseAddr("203.0.113.9")) {
		t.Fatal("0.0.0.0/0 did not admit")
	}
	if NewAdmission(nil, prefixes("0.0.0.0/0")).Admits(netip.MustParseAddr("::1")) {
		t.Fatal("an IPv4 rule admitted an IPv6 source")
	}
}

// BenchmarkAdmitsAmong4096Rules: the check a connection pays with thousands of rules.
func BenchmarkAdmitsAmong4096Rules(b *testing.B) {
	var ps []netip.Prefix
	for i := range 4096 {
		ps = append(ps, netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)))
	}
	a := NewAdmission(nil, ps)
	src := netip.MustParseAddr("10.15.255.7")
	b.ReportAllocs()
	for b.Loop() {
		if !a.Admits(src) {
			b.Fatal("not admitted")
		}
	}
}
