package steer

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// pinDir is a pin directory of the test's own, removed (and with it whatever is pinned
// there) when the test ends.
func pinDir(t *testing.T) string {
	t.Helper()
	dir, err := PinDir(t.TempDir())
	if err != nil {
		t.Skipf("no BPF file system: %v", err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		os.Remove(filepath.Dir(dir))
	})
	return dir
}

// A child of the test binary that routes an endpoint and guards a port with pinned
// programs, prints its links and their programs, and waits to be killed.
const pinChildEnv = "STEER_PIN_CHILD"

func pinChild() {
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(1)
	}
	dir := os.Getenv(pinChildEnv)
	s, err := Open(dir)
	if err != nil {
		fail(err)
	}
	pid, _ := strconv.Atoi(os.Getenv("STEER_PIN_SERVER_PID"))
	server := netip.MustParseAddrPort(os.Getenv("STEER_PIN_SERVER"))
	endpoint := netip.MustParseAddrPort(os.Getenv("STEER_PIN_ENDPOINT"))
	if err := s.Route("ep", []netip.AddrPort{endpoint}, Server{PID: pid, Addr: server}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		fail(err)
	}
	f, err := OpenFence(dir)
	if err != nil {
		fail(err)
	}
	if err := f.Guard("srv", server.Port(), -1); err != nil {
		fail(err)
	}
	for _, l := range append(s.links, f.links...) {
		info, err := l.Info()
		if err != nil {
			fail(err)
		}
		fmt.Println("link", info.ID, "program", info.Program)
	}
	fmt.Println("ready")
	time.Sleep(time.Minute)
}

type linkInfo struct {
	link    link.ID
	program uint32
}

func linkInfos(t *testing.T, links []link.Link) []linkInfo {
	t.Helper()
	var out []linkInfo
	for _, l := range links {
		info, err := l.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, linkInfo{info.ID, uint32(info.Program)})
	}
	return out
}

// TestPinnedSteeringAndFenceOutliveTheirProcess: the process that pinned steering and
// the fence is killed -9; new connections are still steered or refused by its last rules
// and the guarded port still refuses other accounts. A new Open takes the pins on,
// replacing the programs inside the same links, and a new rule applies at once; Close
// takes everything away.
func TestPinnedSteeringAndFenceOutliveTheirProcess(t *testing.T) {
	open(t) // skips where steering is unavailable
	nobody := lookupAccount(t, "nobody")
	dir := pinDir(t)
	srvLn, server := listen(t, "127.0.0.1:0")
	gwLn, gateway := listen(t, "127.0.0.1:0")
	endpoint := netip.MustParseAddrPort(gwLn.Addr().String())
	srv := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(srvLn.Addr().String())}
	port := int(srv.Addr.Port())

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), pinChildEnv+"="+dir, "STEER_PIN_SERVER_PID="+strconv.Itoa(srv.PID),
		"STEER_PIN_SERVER="+srv.Addr.String(), "STEER_PIN_ENDPOINT="+endpoint.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var before []linkInfo
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "ready" {
		var li linkInfo
		if _, err := fmt.Sscanf(sc.Text(), "link %d program %d", &li.link, &li.program); err != nil {
			t.Fatalf("child: %s", sc.Text())
		}
		before = append(before, li)
	}
	if len(before) != 6 {
		t.Fatalf("child attached %d links; want sk_lookup, sock_ops and the fence's four", len(before))
	}
	cmd.Process.Kill()
	cmd.Wait()

	// Nobody owns them now; the kernel still decides.
	time.Sleep(100 * time.Millisecond) // a release would take an RCU grace period
	dialFrom(t, "127.0.0.2", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "server" {
		t.Fatalf("after the kill, admitted 127.0.0.2 reached the %s", got)
	}
	refusedFrom(t, "127.0.0.3", endpoint.String(), server, gateway)
	if got, _ := runAttacks(t, as(nobody), 0, port, "connect 127.0.0.1"); got["connect 127.0.0.1"] != "EPERM" {
		t.Fatalf("after the kill, nobody's connect to the guarded port: %s; want EPERM", got["connect 127.0.0.1"])
	}

	// A new process takes them on: the same links, new programs.
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := OpenFence(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	after := linkInfos(t, append(slices.Clone(s.links), f.links...))
	for i := range before {
		if after[i].link != before[i].link {
			t.Errorf("link %d replaced by link %d; want the pinned link updated in place", before[i].link, after[i].link)
		}
		if after[i].program == before[i].program {
			t.Errorf("link %d still runs program %d; want the new process's", before[i].link, before[i].program)
		}
	}
	if !s.Adopted("ep") {
		t.Error(`"ep" not adopted`)
	}
	if c := s.Counters("ep"); c.Accepted != 1 || c.Refused.SecurityGroups != 1 {
		t.Errorf("adopted counts %+v; want the steered and the refused connection of the outage", c)
	}
	if got, _ := runAttacks(t, as(nobody), 0, port, "connect 127.0.0.1"); got["connect 127.0.0.1"] != "EPERM" {
		t.Fatalf("after the reopen, nobody's connect to the guarded port: %s; want EPERM", got["connect 127.0.0.1"])
	}
	dialFrom(t, "127.0.0.2", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "server" {
		t.Fatalf("after the reopen, admitted 127.0.0.2 reached the %s", got)
	}

	// The same route again changes nothing; a new rule applies to the next connection.
	if err := s.Route("ep", []netip.AddrPort{endpoint}, srv, []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}); err != nil {
		t.Fatal(err)
	}
	if s.Adopted("ep") {
		t.Error(`"ep" still adopted after Route`)
	}
	dialFrom(t, "127.0.0.3", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "server" {
		t.Fatalf("admitted 127.0.0.3 reached the %s", got)
	}
	refusedFrom(t, "127.0.0.2", endpoint.String(), server, gateway)
	if err := f.Guard("srv", uint16(port), -1); err != nil {
		t.Fatal(err)
	}
	if released := f.ReleaseUnclaimed(); len(released) != 0 {
		t.Errorf("released %v; the guarded port was claimed", released)
	}

	// Close takes everything away, pins included.
	s.Close()
	f.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(dir)
		t.Errorf("pin directory still there after Close: %v", entries)
	}
	dialFrom(t, "127.0.0.2", endpoint.String())
	if got, _ := arrives(t, server, gateway); got != "gateway" {
		t.Fatalf("after Close, 127.0.0.2 reached the %s; want the gateway's listener, nothing steering", got)
	}
	if got, _ := runAttacks(t, as(nobody), 0, port, "connect 127.0.0.1"); got["connect 127.0.0.1"] != "ok" {
		t.Fatalf("after Close, nobody's connect: %s; want ok, the port unguarded", got["connect 127.0.0.1"])
	}
	if reservedPortsHold(t, port) {
		t.Errorf("port %d still reserved after Close", port)
	}
}

// What a restarted process does not take up again, ReleaseUnclaimed lets go; what it
// takes up keeps its rules until it says otherwise.
func TestReleaseUnclaimedForgetsWhatNobodyTookUp(t *testing.T) {
	open(t)
	dir := pinDir(t)
	srvLn, server := listen(t, "127.0.0.1:0")
	gwA, gateway := listen(t, "127.0.0.1:0")
	gwB, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer gwB.Close()
	acceptInto(gwB, gateway)
	a, b := netip.MustParseAddrPort(gwA.Addr().String()), netip.MustParseAddrPort(gwB.Addr().String())
	srv := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(srvLn.Addr().String())}
	only2 := []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}

	first, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Route("a", []netip.AddrPort{a}, srv, only2); err != nil {
		t.Fatal(err)
	}
	if err := first.Route("b", []netip.AddrPort{b}, srv, only2); err != nil {
		t.Fatal(err)
	}
	first.Leave()

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Route("a", []netip.AddrPort{a}, srv, only2); err != nil {
		t.Fatal(err)
	}
	if got := s.ReleaseUnclaimed(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("released %v; want [b]", got)
	}
	refusedFrom(t, "127.0.0.3", a.String(), server, gateway)
	dialFrom(t, "127.0.0.3", b.String())
	if got, _ := arrives(t, server, gateway); got != "gateway" {
		t.Fatalf("released endpoint b: 127.0.0.3 reached the %s; want the gateway's listener", got)
	}
	var names []string
	for name := range s.routes {
		names = append(names, name)
	}
	if strings.Join(names, ",") != "a" {
		t.Errorf("routes %v; want a alone", names)
	}
}

// A restarted process that does not know an adopted endpoint's server yet changes what
// it admits with Readmit: the next connection meets the new rules, admitted ones still go
// to the server the earlier process named, and the endpoint stays adopted until Route.
func TestReadmitChangesWhatAnAdoptedEndpointAdmits(t *testing.T) {
	open(t)
	dir := pinDir(t)
	srvLn, server := listen(t, "127.0.0.1:0")
	gwLn, gateway := listen(t, "127.0.0.1:0")
	ep := netip.MustParseAddrPort(gwLn.Addr().String())
	srv := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(srvLn.Addr().String())}
	first, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Route("ep", []netip.AddrPort{ep}, srv, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		t.Fatal(err)
	}
	first.Leave()

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ok, err := s.Readmit("other", nil); ok || err != nil {
		t.Errorf("Readmit of an endpoint nobody adopted: %v %v; want false, nil", ok, err)
	}
	if ok, err := s.Readmit("ep", []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}); !ok || err != nil {
		t.Fatalf("Readmit: %v %v", ok, err)
	}
	if !s.Adopted("ep") {
		t.Error(`"ep" no longer adopted after Readmit`)
	}
	dialFrom(t, "127.0.0.3", ep.String())
	if got, _ := arrives(t, server, gateway); got != "server" {
		t.Fatalf("127.0.0.3, admitted by Readmit, reached the %s", got)
	}
	refusedFrom(t, "127.0.0.2", ep.String(), server, gateway)
	// One ruleset in the kernel: the earlier one is gone.
	var ak admitKey
	var one uint32
	var keys []admitKey
	for it := s.maps.admit.Iterate(); it.Next(&ak, &one); {
		keys = append(keys, ak)
	}
	if len(keys) != 1 || keys[0].prefix() != netip.MustParsePrefix("127.0.0.3/32") {
		t.Errorf("admission prefixes in the kernel: %+v; want 127.0.0.3/32 alone", keys)
	}
	if err := s.Route("ep", []netip.AddrPort{ep}, srv, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Readmit("ep", nil); ok {
		t.Error("Readmit changed an endpoint Route has programmed since")
	}
	dialFrom(t, "127.0.0.2", ep.String())
	if got, _ := arrives(t, server, gateway); got != "server" {
		t.Fatalf("127.0.0.2, admitted by Route, reached the %s", got)
	}
}

// A process killed half-way through a rule change leaves endpoints that disagree, and
// rulesets or endpoints nobody uses; the next Open keeps what is in force, deletes the
// rest, and the next Route puts every endpoint on one ruleset again.
func TestAdoptionRepairsAHalfDoneChange(t *testing.T) {
	open(t)
	dir := pinDir(t)
	srvLn, server := listen(t, "127.0.0.1:0")
	gwA, gateway := listen(t, "127.0.0.1:0")
	gwB, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer gwB.Close()
	acceptInto(gwB, gateway)
	a, b := netip.MustParseAddrPort(gwA.Addr().String()), netip.MustParseAddrPort(gwB.Addr().String())
	srv := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(srvLn.Addr().String())}
	only2, only3 := []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")}

	first, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Route("ep", []netip.AddrPort{a, b}, srv, only2); err != nil {
		t.Fatal(err)
	}
	// The change to 127.0.0.3 reached b alone; another ruleset was written and never used;
	// an endpoint entry names a route that has no name.
	r := first.routes["ep"]
	half, unused := first.ruleset+1, first.ruleset+2
	for _, k := range append(admitKeys(half, only3), admitKeys(unused, only2)...) {
		if err := first.maps.admit.Put(k, uint32(1)); err != nil {
			t.Fatal(err)
		}
	}
	fam, kb := endpointKeyOf(b)
	if err := first.maps.endpoints.Put(kb, endpointValue{Slot: r.famSlots(fam)[0], Ruleset: half, Route: r.id}); err != nil {
		t.Fatal(err)
	}
	stray := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 1)
	_, ks := endpointKeyOf(stray)
	if err := first.maps.endpoints.Put(ks, endpointValue{Slot: slotRelay, Ruleset: unused, Route: 99}); err != nil {
		t.Fatal(err)
	}
	first.Leave()

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rulesets := func() map[uint32]int {
		out := map[uint32]int{}
		var k admitKey
		var v uint32
		it := s.maps.admit.Iterate()
		for it.Next(&k, &v) {
			out[k.Ruleset]++
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := rulesets(); len(got) != 2 || got[unused] != 0 {
		t.Errorf("rulesets after Open %v; want the two in force, not %d", got, unused)
	}
	var v endpointValue
	if err := s.maps.endpoints.Lookup(ks, &v); err == nil {
		t.Error("the endpoint entry of an unnamed route is still there")
	}
	// In force as left: a by the old rule, b by the new one.
	dialFrom(t, "127.0.0.2", a.String())
	if got, _ := arrives(t, server, gateway); got != "server" {
		t.Fatalf("a: 127.0.0.2 reached the %s", got)
	}
	dialFrom(t, "127.0.0.3", b.String())
	if got, _ := arrives(t, server, gateway); got != "server" {
		t.Fatalf("b: 127.0.0.3 reached the %s", got)
	}

	if err := s.Route("ep", []netip.AddrPort{a, b}, srv, only3); err != nil {
		t.Fatal(err)
	}
	if got := rulesets(); len(got) != 1 {
		t.Errorf("rulesets after Route %v; want one", got)
	}
	for _, ep := range []netip.AddrPort{a, b} {
		refusedFrom(t, "127.0.0.2", ep.String(), server, gateway)
		dialFrom(t, "127.0.0.3", ep.String())
		if got, _ := arrives(t, server, gateway); got != "server" {
			t.Fatalf("%s: 127.0.0.3 reached the %s", ep, got)
		}
	}
	if s.ruleset <= unused {
		t.Errorf("new ruleset id %d reuses an id the kernel had (up to %d)", s.ruleset, unused)
	}
}

// Pins of an older shape are not taken on in part: a map that changed shape starts every
// map afresh, so no ruleset left in the old trie admits under an id given anew.
func TestPinsOfAnotherShapeStartAfresh(t *testing.T) {
	open(t)
	dir := pinDir(t)
	srvLn, _ := listen(t, "127.0.0.1:0")
	gw, _ := listen(t, "127.0.0.1:0")
	srv := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(srvLn.Addr().String())}
	first, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Route("ep", []netip.AddrPort{netip.MustParseAddrPort(gw.Addr().String())}, srv, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		t.Fatal(err)
	}
	first.Leave()
	// An endpoints map as an older Borealis had it.
	path := filepath.Join(dir, "steer", "borealis_ep")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	old, err := ebpf.NewMap(&ebpf.MapSpec{Name: "borealis_ep", Type: ebpf.Hash, KeySize: 24, ValueSize: 8, MaxEntries: maxEndpoints})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Pin(path); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Adopted("ep") {
		t.Error(`"ep" adopted from maps of mixed shapes`)
	}
	var k admitKey
	var v uint32
	if it := s.maps.admit.Iterate(); it.Next(&k, &v) {
		t.Errorf("the trie kept %+v", k)
	}
}

// One data directory, one pin directory, however it is named.
func TestPinDirIsTheDataDirectorysWhateverItsName(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	want, err := PinDir(dir)
	if err != nil {
		t.Skipf("no BPF file system: %v", err)
	}
	t.Chdir(filepath.Dir(dir))
	for _, name := range []string{link, filepath.Base(dir), dir + "/"} {
		if got, err := PinDir(name); err != nil || got != want {
			t.Errorf("PinDir(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	if other, _ := PinDir(t.TempDir()); other == want {
		t.Error("two data directories share a pin directory")
	}
}
