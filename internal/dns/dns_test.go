package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/borealis-db/borealis/internal/store"
)

const (
	zone     = "borealis.localhost"
	endpoint = "demo.cluster-abc.us-east-1.rds." + zone
	reader   = "demo.cluster-ro-abc.us-east-1.rds." + zone
	instance = "demo-writer.abc.us-east-1.rds." + zone
)

// names is a Names whose contents the test changes.
type names struct {
	mu       sync.Mutex
	list     []string
	clusters []string // those of list that are cluster endpoints
	err      error
	calls    atomic.Int32
	delay    time.Duration
}

func (n *names) EndpointNames(context.Context) ([]store.EndpointName, error) {
	n.calls.Add(1)
	time.Sleep(n.delay)
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []store.EndpointName
	for _, name := range n.list {
		out = append(out, store.EndpointName{Name: name, Cluster: slices.Contains(n.clusters, name)})
	}
	return out, n.err
}

func (n *names) set(list ...string) { n.mu.Lock(); n.list = list; n.mu.Unlock() }

// serve runs a server on a free loopback port and returns its address.
func serve(t *testing.T, n Names, addrs ...string) string {
	t.Helper()
	cfg := Config{Zone: "Borealis.Localhost.", Names: n}
	for _, a := range addrs {
		cfg.Addrs = append(cfg.Addrs, netip.MustParseAddr(a))
	}
	pc, ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NSAddrs = ListenAddrs(pc.LocalAddr().String())
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := Start(h, pc, ln, nil)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	waitUp(t, s.Addr())
	return s.Addr()
}

func waitUp(t *testing.T, addr string) {
	t.Helper()
	for range 100 {
		if _, err := exchange("udp", addr, query(zone, mdns.TypeSOA)); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the server does not answer")
}

func query(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	return m
}

func exchange(network, addr string, m *mdns.Msg) (*mdns.Msg, error) {
	c := &mdns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

func ask(t *testing.T, network, addr string, m *mdns.Msg) *mdns.Msg {
	t.Helper()
	r, err := exchange(network, addr, m)
	if err != nil {
		t.Fatalf("%s %s: %v", network, m.Question[0].Name, err)
	}
	if r.Id != m.Id || len(r.Question) != 1 || r.Question[0] != m.Question[0] {
		t.Fatalf("the reply does not echo the query: id %d/%d, question %v/%v", r.Id, m.Id, r.Question, m.Question)
	}
	return r
}

func answers(r *mdns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *mdns.A:
			out = append(out, rr.A.String())
		case *mdns.AAAA:
			out = append(out, rr.AAAA.String())
		default:
			out = append(out, rr.String())
		}
	}
	return out
}

func TestEndpointNamesResolveOverUDPAndTCP(t *testing.T) {
	n := &names{list: []string{endpoint, reader, instance}}
	addr := serve(t, n, "127.0.0.1", "::1")
	for _, network := range []string{"udp", "tcp"} {
		for _, name := range []string{endpoint, reader, instance} {
			r := ask(t, network, addr, query(name, mdns.TypeA))
			if r.Rcode != mdns.RcodeSuccess || !r.Authoritative || r.RecursionAvailable || !slices.Equal(answers(r), []string{"127.0.0.1"}) {
				t.Errorf("%s A %s: rcode %d aa %v ra %v %v", network, name, r.Rcode, r.Authoritative, r.RecursionAvailable, answers(r))
			}
			if r.Answer[0].Header().Ttl != ttl {
				t.Errorf("TTL %d", r.Answer[0].Header().Ttl)
			}
			r = ask(t, network, addr, query(name, mdns.TypeAAAA))
			if r.Rcode != mdns.RcodeSuccess || !slices.Equal(answers(r), []string{"::1"}) {
				t.Errorf("%s AAAA %s: rcode %d %v", network, name, r.Rcode, answers(r))
			}
		}
	}
}

// A resolver may randomise the case of the name it asks (0x20): names match whatever the
// case, and the reply carries the question and owner names exactly as asked.
func TestNamesMatchInAnyCaseAndEchoTheQuestion(t *testing.T) {
	addr := serve(t, &names{list: []string{endpoint}}, "127.0.0.1")
	mixed := "DeMo.CLUSTER-abc.Us-East-1.RDS.Borealis.LOCALHOST."
	r := ask(t, "udp", addr, query(mixed, mdns.TypeA))
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].Header().Name != mixed {
		t.Fatalf("mixed case: rcode %d %v", r.Rcode, r.Answer)
	}
}

func TestCreatedAndDeletedNamesShowAtOnce(t *testing.T) {
	n := &names{}
	addr := serve(t, n, "127.0.0.1")
	if r := ask(t, "udp", addr, query(endpoint, mdns.TypeA)); r.Rcode != mdns.RcodeNameError {
		t.Fatalf("before the cluster: rcode %d", r.Rcode)
	}
	n.set(endpoint)
	if r := ask(t, "udp", addr, query(endpoint, mdns.TypeA)); r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("after creation: rcode %d %v", r.Rcode, r.Answer)
	}
	n.set()
	if r := ask(t, "udp", addr, query(endpoint, mdns.TypeA)); r.Rcode != mdns.RcodeNameError {
		t.Fatalf("after deletion: rcode %d", r.Rcode)
	}
}

// Inside the zone the server is the authority: NXDOMAIN for what does not exist, an empty
// answer for a name that exists without records of the type, both with the SOA.
func TestNegativeAnswersAreAuthoritative(t *testing.T) {
	addr := serve(t, &names{list: []string{endpoint}}, "127.0.0.1")
	for _, c := range []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"other.cluster-abc.us-east-1.rds." + zone, mdns.TypeA, mdns.RcodeNameError},
		{"x." + endpoint, mdns.TypeA, mdns.RcodeNameError},
		{"emo.cluster-abc.us-east-1.rds." + zone, mdns.TypeA, mdns.RcodeNameError},
		{`demo\.cluster-abc.us-east-1.rds.` + zone, mdns.TypeA, mdns.RcodeNameError},
		{endpoint, mdns.TypeMX, mdns.RcodeSuccess},
		{endpoint, mdns.TypeTXT, mdns.RcodeSuccess},
		// Names between the zone and the endpoints exist (a resolver minimising its
		// queries walks through them) but have no records.
		{"cluster-abc.us-east-1.rds." + zone, mdns.TypeA, mdns.RcodeSuccess},
		{"us-east-1.rds." + zone, mdns.TypeA, mdns.RcodeSuccess},
		{"rds." + zone, mdns.TypeA, mdns.RcodeSuccess},
		{zone, mdns.TypeA, mdns.RcodeSuccess},
	} {
		r := ask(t, "udp", addr, query(c.name, c.qtype))
		if r.Rcode != c.rcode || !r.Authoritative || len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != mdns.TypeSOA {
			t.Errorf("%s %s: rcode %d (want %d) aa %v answer %v authority %v", mdns.TypeToString[c.qtype], c.name, r.Rcode, c.rcode, r.Authoritative, r.Answer, r.Ns)
		}
	}
}

// Not an open resolver: every name outside the zone, any other class, and zone transfers
// are refused, with nothing in the answer.
func TestOutsideTheZoneIsRefused(t *testing.T) {
	addr := serve(t, &names{list: []string{endpoint}}, "127.0.0.1")
	for _, q := range []*mdns.Msg{
		query("example.com", mdns.TypeA),
		query(".", mdns.TypeNS),
		query("localhost", mdns.TypeA),
		query("evilborealis.localhost", mdns.TypeA),
		query(endpoint+".example.com", mdns.TypeA),
		query("google.com", mdns.TypeANY),
		{MsgHdr: mdns.MsgHdr{Id: 7}, Question: []mdns.Question{{Name: "version.bind.", Qtype: mdns.TypeTXT, Qclass: mdns.ClassCHAOS}}},
		{MsgHdr: mdns.MsgHdr{Id: 8}, Question: []mdns.Question{{Name: mdns.Fqdn(endpoint), Qtype: mdns.TypeA, Qclass: mdns.ClassCHAOS}}},
	} {
		r := ask(t, "udp", addr, q)
		if r.Rcode != mdns.RcodeRefused || r.Authoritative || len(r.Answer)+len(r.Ns)+len(r.Extra) != 0 {
			t.Errorf("%v: rcode %d aa %v %v %v %v", q.Question[0], r.Rcode, r.Authoritative, r.Answer, r.Ns, r.Extra)
		}
	}
	for _, qtype := range []uint16{mdns.TypeAXFR, mdns.TypeIXFR} {
		r := ask(t, "tcp", addr, query(zone, qtype))
		if r.Rcode != mdns.RcodeRefused || len(r.Answer) != 0 {
			t.Errorf("%s: rcode %d %v", mdns.TypeToString[qtype], r.Rcode, r.Answer)
		}
	}
}

func TestApexANYAndNameServer(t *testing.T) {
	n := &names{list: []string{endpoint}}
	addr := serve(t, n, "127.0.0.1")
	r := ask(t, "udp", addr, query(zone, mdns.TypeSOA))
	if soa, ok := onlyAnswer(r).(*mdns.SOA); !ok || soa.Ns != "ns."+zone+"." || soa.Minttl != ttl {
		t.Errorf("SOA: %v", r.Answer)
	}
	r = ask(t, "udp", addr, query(zone, mdns.TypeNS))
	if ns, ok := onlyAnswer(r).(*mdns.NS); !ok || ns.Ns != "ns."+zone+"." {
		t.Errorf("NS: %v", r.Answer)
	}
	r = ask(t, "udp", addr, query("ns."+zone, mdns.TypeA))
	if !slices.Equal(answers(r), []string{"127.0.0.1"}) {
		t.Errorf("ns A: %v", r.Answer)
	}
	// RFC 8482: ANY gets one small record, not every record of the name.
	calls := n.calls.Load()
	r = ask(t, "udp", addr, query(endpoint, mdns.TypeANY))
	if h, ok := onlyAnswer(r).(*mdns.HINFO); !ok || h.Cpu != "RFC8482" {
		t.Errorf("ANY: %v", r.Answer)
	}
	if n.calls.Load() == calls {
		t.Error("ANY did not look the name up")
	}
	if r := ask(t, "udp", addr, query("gone."+zone, mdns.TypeANY)); r.Rcode != mdns.RcodeNameError {
		t.Errorf("ANY of an unknown name: rcode %d", r.Rcode)
	}
}

func onlyAnswer(r *mdns.Msg) mdns.RR {
	if len(r.Answer) != 1 {
		return nil
	}
	return r.Answer[0]
}

func TestEDNS(t *testing.T) {
	addr := serve(t, &names{list: []string{endpoint}}, "127.0.0.1")
	q := query(endpoint, mdns.TypeA)
	q.SetEdns0(4096, true)
	r := ask(t, "udp", addr, q)
	if opt := r.IsEdns0(); opt == nil || opt.UDPSize() != maxUDPSize || opt.Do() || len(r.Answer) != 1 {
		t.Errorf("EDNS0 answer: %v", r)
	}
	q = query(endpoint, mdns.TypeA)
	q.SetEdns0(1232, false)
	q.IsEdns0().SetVersion(1)
	r = ask(t, "udp", addr, q)
	if r.Rcode != mdns.RcodeBadVers || len(r.Answer) != 0 {
		t.Errorf("EDNS version 1: rcode %d %v", r.Rcode, r.Answer)
	}
}

// Over UDP an answer is never larger than the client's buffer (512 bytes without EDNS):
// it is cut and marked truncated, and the client asks again over TCP.
func TestLargeAnswersAreTruncatedOverUDP(t *testing.T) {
	var addrs []string
	for i := range 60 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}).String())
	}
	addr := serve(t, &names{list: []string{endpoint}}, addrs...)
	q := query(endpoint, mdns.TypeA)
	r := ask(t, "udp", addr, q)
	if !r.Truncated || len(r.Answer) >= 60 {
		t.Errorf("UDP: truncated %v with %d answers", r.Truncated, len(r.Answer))
	}
	if r := ask(t, "tcp", addr, q); r.Truncated || len(r.Answer) != 60 {
		t.Errorf("TCP: truncated %v with %d answers", r.Truncated, len(r.Answer))
	}
}

func TestUnreadableNamesAreServerFailure(t *testing.T) {
	addr := serve(t, &names{err: errors.New("store closed")}, "127.0.0.1")
	r := ask(t, "udp", addr, query(endpoint, mdns.TypeA))
	if r.Rcode != mdns.RcodeServerFailure || r.Authoritative || len(r.Answer) != 0 {
		t.Errorf("rcode %d aa %v %v", r.Rcode, r.Authoritative, r.Answer)
	}
}

// Hostile packets: none crashes the server, responses get no reply (no loops between two
// servers), and the server answers the next good query.
func TestMalformedPackets(t *testing.T) {
	addr := serve(t, &names{list: []string{endpoint}}, "127.0.0.1")
	good := func(what string) {
		t.Helper()
		if r := ask(t, "udp", addr, query(endpoint, mdns.TypeA)); r.Rcode != mdns.RcodeSuccess {
			t.Fatalf("after %s: rcode %d", what, r.Rcode)
		}
	}
	resp := query(endpoint, mdns.TypeA)
	resp.Response = true
	respWire, _ := resp.Pack()
	two := query(endpoint, mdns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	twoWire, _ := two.Pack()
	long := make([]byte, 65000)
	copy(long, twoWire[:12])
	for _, c := range []struct {
		what  string
		wire  []byte
		reply bool // a reply is expected (FORMERR or NOTIMP), else none
	}{
		{"empty", nil, false},
		{"short header", []byte{1, 2, 3}, false},
		{"a response", respWire, false},
		{"two questions", twoWire, true},
		{"garbage after a header", append(append([]byte{}, twoWire[:4]...), 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff), true},
		{"a 65000-byte datagram", long, true}, // read up to maxUDPSize: FORMERR, 12 bytes
		{"an update", []byte{0, 9, 0x28, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1}, true},
	} {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(c.wire)
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 2048)
		n, err := conn.Read(buf)
		conn.Close()
		if c.reply {
			var r mdns.Msg
			if err != nil || r.Unpack(buf[:n]) != nil || r.Rcode == mdns.RcodeSuccess || len(r.Answer) != 0 {
				t.Errorf("%s: want an error reply, got %v %v", c.what, err, r.Rcode)
			}
		} else if err == nil {
			t.Errorf("%s: got a %d-byte reply, want none", c.what, n)
		}
		good(c.what)
	}

	// TCP: a length prefix promising more than comes, then silence, is cut off by the read
	// timeout; meanwhile other clients are answered.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte{0xff, 0xff, 1, 2, 3})
	good("a stalled TCP query")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("the stalled TCP connection was not closed by the server: %v", err)
	}
}

// Many queries at once share store reads (at most one runs at a time), and still none is
// answered from a read that began before it arrived.
func TestQueriesShareStoreReads(t *testing.T) {
	n := &names{list: []string{endpoint}, delay: 20 * time.Millisecond}
	addr := serve(t, n, "127.0.0.1")
	start := n.calls.Load()
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := exchange("udp", addr, query(endpoint, mdns.TypeA)); err != nil || r.Rcode != mdns.RcodeSuccess {
				t.Errorf("concurrent query: %v", err)
			}
		}()
	}
	wg.Wait()
	if reads := n.calls.Load() - start; reads > 20 {
		t.Errorf("%d store reads for 40 concurrent queries", reads)
	}
}

func TestListenGivesUDPAndTCPOnePort(t *testing.T) {
	pc, ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	defer ln.Close()
	if pc.LocalAddr().String() != ln.Addr().String() {
		t.Errorf("UDP %s, TCP %s", pc.LocalAddr(), ln.Addr())
	}
	if _, _, err := Listen("localhost:53"); err == nil {
		t.Error("a host name was accepted")
	}
}

// TestTCPConnectionsAreCapped: a local process opening connections to the DNS port by the
// thousand (each may stay open for minutes, a query every few seconds) does not take a
// descriptor of serve's for each: past maxTCPConns they wait in the kernel's queue, and
// UDP still answers.
func TestTCPConnectionsAreCapped(t *testing.T) {
	addr := serve(t, &names{})
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := fds()
	const extra = 300
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range maxTCPConns + extra {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	time.Sleep(500 * time.Millisecond) // for the server to accept what it will
	if served := fds() - before - len(conns); served > maxTCPConns+5 {
		t.Errorf("%d client connections took %d descriptors of the server's; want at most %d", len(conns), served, maxTCPConns)
	}
	ask(t, "udp", addr, query(zone, mdns.TypeSOA))
}

func TestReaderAndInstanceEndpointsResolveToAddressesOfTheirOwn(t *testing.T) {
	own := map[string]netip.Addr{strings.ToLower(reader): netip.MustParseAddr("127.64.0.7"), strings.ToLower(instance): netip.MustParseAddr("127.64.0.9")}
	h, err := NewHandler(Config{Zone: "Borealis.Localhost.", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
		Names: &names{list: []string{endpoint, reader, instance}, clusters: []string{endpoint}},
		Own:   func(n string, _ int) (netip.Addr, bool) { a, ok := own[n]; return a, ok }})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{endpoint: {"127.0.0.1"}, reader: {"127.64.0.7"}, instance: {"127.64.0.9"}} {
		if r := h.Answer(context.Background(), query(name, mdns.TypeA), false); !slices.Equal(answers(r), want) {
			t.Errorf("A %s: %v; want %v", name, answers(r), want)
		}
	}
	// No AAAA for a name with its own IPv4 address: ::1 is the cluster endpoint's.
	if r := h.Answer(context.Background(), query(reader, mdns.TypeAAAA), false); r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("AAAA %s: rcode %d %v; want no data", reader, r.Rcode, answers(r))
	}
	if r := h.Answer(context.Background(), query(endpoint, mdns.TypeAAAA), false); !slices.Equal(answers(r), []string{"::1"}) {
		t.Errorf("AAAA %s: %v", endpoint, answers(r))
	}
}
