package epaddr

import (
	"net/netip"
	"testing"
)

func TestReaderAndInstanceEndpointsGetAddressesOfTheirOwnOnLoopback(t *testing.T) {
	bases := Parse([]string{"127.0.0.1", "::1"})
	ro, ok := Own(bases, "c.cluster-ro-x.us-east-1.rds.borealis.localhost")
	if !ok || !block.Contains(ro) {
		t.Fatalf("reader endpoint: %v %v", ro, ok)
	}
	inst, _ := Own(bases, "i1.x.us-east-1.rds.borealis.localhost")
	if inst == ro {
		t.Fatalf("two names, one address %v", ro)
	}
	if again, _ := Own(bases, "C.Cluster-RO-x.us-east-1.rds.borealis.localhost."); again != ro {
		t.Fatalf("the name's spelling changed its address: %v, %v", again, ro)
	}
	if got := Addrs(bases, "c.cluster-x.us-east-1.rds.borealis.localhost", true); len(got) != 2 || got[0] != bases[0] {
		t.Fatalf("the cluster endpoint: %v", got)
	}
	if got := Addrs(bases, "c.cluster-ro-x.us-east-1.rds.borealis.localhost", false); len(got) != 1 || got[0] != ro {
		t.Fatalf("the reader endpoint resolves to %v, want %v alone", got, ro)
	}
}

func TestNoAddressOfItsOwnWithoutIPv4Loopback(t *testing.T) {
	for _, bases := range [][]string{{"::1"}, {"10.1.2.3"}, {"0.0.0.0"}, {"::"}} {
		b := Parse(bases)
		if a, ok := Own(b, "c.cluster-ro-x.d"); ok {
			t.Errorf("%v: own address %v", bases, a)
		}
		if got := Addrs(b, "c.cluster-ro-x.d", false); len(got) != 1 || got[0] != b[0] {
			t.Errorf("%v: the reader endpoint resolves to %v", bases, got)
		}
	}
	// An operator's endpoint address is never taken as a name's own.
	a, _ := Own(Parse([]string{"127.0.0.1"}), "c.cluster-ro-x.d")
	if _, ok := Own([]netip.Addr{netip.MustParseAddr("127.0.0.1"), a}, "c.cluster-ro-x.d"); ok {
		t.Error("an endpoint address handed out as a name's own")
	}
}
