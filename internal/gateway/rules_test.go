package gateway

import (
	"fmt"
	"net/netip"
	"slices"
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

// manyRules returns n disjoint /32 rules spread over 10.0.0.0/8 and 2001:db8::/32, as an
// account with thousands of ingress rules would have.
func manyRules(n int) []netip.Prefix {
	out := make([]netip.Prefix, 0, n)
	for i := range n {
		if i%2 == 0 {
			out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32))
		} else {
			out = append(out, netip.MustParsePrefix(fmt.Sprintf("2001:db8::%x/128", i)))
		}
	}
	return out
}

func TestAdmissionOfManyRulesAgreesWithALinearScan(t *testing.T) {
	rules := manyRules(5000)
	a := NewAdmission(nil, rules)
	for i := range 12000 {
		src := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if i%3 == 0 {
			src = netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i))
		}
		if got, want := a.Admits(src), linearAdmits(rules, src); got != want {
			t.Fatalf("Admits(%s) = %v, a linear scan says %v", src, got, want)
		}
	}
}

func linearAdmits(rules []netip.Prefix, src netip.Addr) bool {
	for _, p := range rules {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// The check a connection pays, with 10 and with 5000 rules, against a linear scan of the
// same 5000 rules: the baseline the prefix structure replaces.
func BenchmarkAdmits(b *testing.B) {
	miss := netip.MustParseAddr("192.0.2.1") // admitted by no rule: the worst case for a scan
	for _, n := range []int{10, 5000} {
		a := NewAdmission(nil, manyRules(n))
		b.Run(fmt.Sprintf("ranges/rules=%d", n), func(b *testing.B) {
			for b.Loop() {
				a.Admits(miss)
			}
		})
	}
	rules := manyRules(5000)
	b.Run("linear-scan/rules=5000", func(b *testing.B) {
		for b.Loop() {
			linearAdmits(rules, miss)
		}
	})
}

func TestPrefixesAreTheFewestThatCoverTheAdmission(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	for _, tc := range []struct{ in, want []netip.Prefix }{
		{pfx("10.0.0.0/25", "10.0.0.128/25"), pfx("10.0.0.0/24")},
		{pfx("10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"), pfx("10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32")},
		{pfx("0.0.0.0/0", "192.168.1.0/24", "::ffff:10.0.0.0/104"), pfx("0.0.0.0/0")},
		{pfx("255.255.255.255/32", "2001:db8::/33", "2001:db8:8000::/33", "::/0"), pfx("255.255.255.255/32", "::/0")},
		{nil, nil},
	} {
		got := NewAdmission(nil, tc.in).Prefixes()
		if !slices.Equal(got, tc.want) {
			t.Errorf("Prefixes of %v = %v; want %v", tc.in, got, tc.want)
		}
	}
}
