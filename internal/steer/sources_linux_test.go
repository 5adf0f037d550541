package steer

import (
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// refuseQuietly dials dst from src, expecting the kernel's refusal, with no listener
// checks: for many connections at once.
func refuseQuietly(t *testing.T, src netip.Addr, dst string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", dst)
	if err == nil {
		c.Close()
		t.Fatalf("%s connected to %s; want connection refused", src, dst)
	}
	if !isRefused(err) {
		t.Fatalf("dial %s from %s: %v", dst, src, err)
	}
}

func isRefused(err error) bool {
	var se syscall.Errno
	for e := err; e != nil; {
		if x, ok := e.(interface{ Unwrap() error }); ok {
			e = x.Unwrap()
			if errno, ok := e.(syscall.Errno); ok {
				se = errno
				break
			}
			continue
		}
		break
	}
	return se == syscall.ECONNREFUSED
}

// byKey sums drained counts by endpoint, reason and source.
func byKey(rs []SourceRefusals) map[SourceRefusals]uint64 {
	out := map[SourceRefusals]uint64{}
	for _, r := range rs {
		out[SourceRefusals{Name: r.Name, Reason: r.Reason, Source: r.Source}] += r.Count
	}
	return out
}

func drain(t *testing.T, s *Steering) []SourceRefusals {
	t.Helper()
	rs, err := s.DrainRefused()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestRefusalsAreCountedPerSourceAndDrainedOnce(t *testing.T) {
	s := open(t)
	srvLn, _ := listen(t, "127.0.0.1:0")
	gwLn, _ := listen(t, "127.0.0.1:0")
	endpoint := netip.MustParseAddrPort(gwLn.Addr().String())
	srv := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(srvLn.Addr().String())}
	if err := s.Route("ep", []netip.AddrPort{endpoint}, srv, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	for range 3 {
		refuseQuietly(t, netip.MustParseAddr("127.0.0.3"), endpoint.String())
	}
	refuseQuietly(t, netip.MustParseAddr("127.0.0.4"), endpoint.String())
	dialFrom(t, "127.0.0.2", endpoint.String()) // admitted: not counted

	rs := drain(t, s)
	want := map[SourceRefusals]uint64{
		{Name: "ep", Reason: RefusedBySecurityGroups, Source: netip.MustParseAddr("127.0.0.3")}: 3,
		{Name: "ep", Reason: RefusedBySecurityGroups, Source: netip.MustParseAddr("127.0.0.4")}: 1,
	}
	if got := byKey(rs); !mapsEqual(got, want) {
		t.Fatalf("drained %+v; want %v", rs, want)
	}
	for _, r := range rs {
		if r.First.Before(before) || r.Last.Before(r.First) || r.Last.After(time.Now().Add(time.Second)) {
			t.Fatalf("times of %+v: want between the test's start and now, first before last", r)
		}
	}
	if rs := drain(t, s); len(rs) != 0 {
		t.Fatalf("a second drain found %+v; want nothing", rs)
	}

	// No server: counted under that reason, the next drain.
	if err := s.Refuse("ep", []netip.AddrPort{endpoint}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		t.Fatal(err)
	}
	refuseQuietly(t, netip.MustParseAddr("127.0.0.2"), endpoint.String())
	if got := byKey(drain(t, s)); !mapsEqual(got, map[SourceRefusals]uint64{
		{Name: "ep", Reason: RefusedNoServer, Source: netip.MustParseAddr("127.0.0.2")}: 1}) {
		t.Fatalf("drained %v; want one refusal of 127.0.0.2 for want of a server", got)
	}
}

// A scan from more sources than the table holds costs no more memory: the sources past
// the endpoint's share are counted together, and nothing is lost. Nor does it leave
// another endpoint's sources unnamed (SYNs from spoofed sources cost a scanner nothing).
func TestRefusalsFromTooManySourcesAreCountedTogether(t *testing.T) {
	s := open(t)
	gwLn, _ := listen(t, "127.0.0.1:0")
	endpoint := netip.MustParseAddrPort(gwLn.Addr().String())
	otherLn, _ := listen(t, "127.0.0.1:0")
	other := netip.MustParseAddrPort(otherLn.Addr().String())
	for name, ap := range map[string]netip.AddrPort{"ep": endpoint, "other": other} {
		if err := s.Route(name, []netip.AddrPort{ap}, Server{}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
			t.Fatal(err)
		}
	}
	const extra = 100
	src := netip.MustParseAddr("127.1.0.1")
	for range maxSources + extra {
		refuseQuietly(t, src, endpoint.String())
		src = src.Next()
	}
	prober := netip.MustParseAddr("127.0.0.9")
	refuseQuietly(t, prober, other.String())
	rs := drain(t, s)
	var itemized, together int
	var total uint64
	for _, r := range rs {
		if r.Name != "ep" {
			continue
		}
		total += r.Count
		if r.Source.IsValid() {
			itemized++
		} else {
			together++
		}
	}
	if itemized != maxSourcesPerRoute || together != 1 || total != maxSources+extra {
		t.Fatalf("drained %d sources itemized, %d counts together, %d refusals; want %d, 1 and %d",
			itemized, together, total, maxSourcesPerRoute, maxSources+extra)
	}
	if got := byKey(rs)[SourceRefusals{Name: "other", Reason: RefusedBySecurityGroups, Source: prober}]; got != 1 {
		t.Fatalf("the other endpoint's refusal of %s counted %d times by source; want 1 (itemized)", prober, got)
	}
	if rs := drain(t, s); len(rs) != 0 {
		t.Fatalf("a second drain found %d entries; want nothing", len(rs))
	}
	// The shares start afresh with the next drain.
	refuseQuietly(t, netip.MustParseAddr("127.0.0.3"), endpoint.String())
	if got := byKey(drain(t, s)); !mapsEqual(got, map[SourceRefusals]uint64{
		{Name: "ep", Reason: RefusedBySecurityGroups, Source: netip.MustParseAddr("127.0.0.3")}: 1}) {
		t.Fatalf("after the drain: %v; want 127.0.0.3 itemized", got)
	}
}

// Counts made while serve is away (its steering left pinned, as after kill -9) are drained
// by the next one, with those made before it left.
func TestRefusalsCountedWhileServeIsAwayAreDrainedByTheNext(t *testing.T) {
	open(t) // skips where steering is unavailable
	dir := pinDir(t)
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	gwLn, _ := listen(t, "127.0.0.1:0")
	endpoint := netip.MustParseAddrPort(gwLn.Addr().String())
	if err := s.Route("ep", []netip.AddrPort{endpoint}, Server{}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		s.Close()
		t.Fatal(err)
	}
	refuseQuietly(t, netip.MustParseAddr("127.0.0.3"), endpoint.String())
	s.Leave()
	refuseQuietly(t, netip.MustParseAddr("127.0.0.3"), endpoint.String())
	refuseQuietly(t, netip.MustParseAddr("127.0.0.5"), endpoint.String())

	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[SourceRefusals]uint64{
		{Name: "ep", Reason: RefusedBySecurityGroups, Source: netip.MustParseAddr("127.0.0.3")}: 2,
		{Name: "ep", Reason: RefusedBySecurityGroups, Source: netip.MustParseAddr("127.0.0.5")}: 1,
	}
	if got := byKey(drain(t, s)); !mapsEqual(got, want) {
		t.Fatalf("the next serve drained %v; want %v", got, want)
	}
}

func mapsEqual(a, b map[SourceRefusals]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
