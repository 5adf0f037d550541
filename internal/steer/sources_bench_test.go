package steer

import (
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// useLookupProgram replaces s's sk_lookup program in place, with or without the
// per-source counting of refusals: the baseline of BenchmarkConnect.
func useLookupProgram(b *testing.B, s *Steering, counting bool) {
	b.Helper()
	m := s.maps
	if !counting {
		m.sourceMaps = sourceMaps{}
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "borealis_lookup", Type: ebpf.SkLookup,
		AttachType: ebpf.AttachSkLookup, License: "GPL", Instructions: lookupProgram(&m)})
	if err != nil {
		b.Fatal(err)
	}
	defer prog.Close()
	if err := s.links[len(s.links)-1].Update(prog); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConnect measures connects to a steered endpoint, admitted (to the server's
// socket, accepted and closed) and refused at the SYN, with the per-source counting of
// refusals and without it (the program as before it), alternated in the same run. Only
// the connect is timed.
func BenchmarkConnect(b *testing.B) {
	s, err := Open("")
	if err != nil {
		b.Skipf("no BPF steering: %v", err)
	}
	defer s.Close()
	var lc net.ListenConfig
	lc.SetMultipathTCP(false) // as PostgreSQL listens
	srvLn, err := lc.Listen(b.Context(), "tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer srvLn.Close()
	go func() {
		for {
			c, err := srvLn.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	gwLn, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer gwLn.Close()
	endpoint := netip.MustParseAddrPort(gwLn.Addr().String())
	srv := Server{PID: os.Getpid(), Addr: netip.MustParseAddrPort(srvLn.Addr().String())}
	if err := s.Route("ep", []netip.AddrPort{endpoint}, srv, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		b.Fatal(err)
	}
	// Blocks of connects alternate between the two programs, so that both meet the same
	// machine (two shared cores): each reports its own ns per connect.
	const block = 100
	run := func(b *testing.B, src string, admitted bool) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		var spent [2]time.Duration
		var count [2]int
		for i := 0; b.Loop(); i++ {
			mode := i / block % 2
			if i%block == 0 {
				useLookupProgram(b, s, mode == 1)
			}
			start := time.Now()
			c, err := d.Dial("tcp4", endpoint.String())
			spent[mode] += time.Since(start)
			count[mode]++
			if (err == nil) != admitted {
				b.Fatalf("dial from %s: %v", src, err)
			}
			if c != nil {
				c.(*net.TCPConn).SetLinger(0) // no TIME_WAIT to run out of ports
				c.Close()
			}
		}
		if count[0] > 0 && count[1] > 0 {
			b.ReportMetric(float64(spent[0].Nanoseconds())/float64(count[0]), "ns/connect-off")
			b.ReportMetric(float64(spent[1].Nanoseconds())/float64(count[1]), "ns/connect-counting")
		}
		_, _ = s.DrainRefused()
	}
	b.Run("admitted", func(b *testing.B) { run(b, "127.0.0.2", true) })
	b.Run("refused", func(b *testing.B) { run(b, "127.0.0.3", false) })
}

// skLookupCtx is struct bpf_sk_lookup as BPF_PROG_TEST_RUN takes it.
type skLookupCtx struct {
	Cookie     uint64
	Family     uint32
	Protocol   uint32
	RemoteIP4  [4]byte
	RemoteIP6  [16]byte
	RemotePort uint16 // network order
	_          uint16
	LocalIP4   [4]byte
	LocalIP6   [16]byte
	LocalPort  uint32
	Ifindex    uint32
	_          uint32
}

// BenchmarkLookupProgram times the sk_lookup program alone, in the kernel
// (BPF_PROG_TEST_RUN, a million runs a call), for an admitted and a refused source, with
// and without the per-source counting: what the counting adds to each decision.
func BenchmarkLookupProgram(b *testing.B) {
	s, err := Open("")
	if err != nil {
		b.Skipf("no BPF steering: %v", err)
	}
	defer s.Close()
	endpoint := netip.MustParseAddrPort("127.0.0.1:5999")
	if err := s.Route("ep", []netip.AddrPort{endpoint}, Server{}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}); err != nil {
		b.Fatal(err)
	}
	progs := map[string]*ebpf.Program{}
	for _, counting := range []bool{false, true} {
		m := s.maps
		name := "counting"
		if !counting {
			m.sourceMaps, name = sourceMaps{}, "off"
		}
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "borealis_lookup", Type: ebpf.SkLookup,
			AttachType: ebpf.AttachSkLookup, License: "GPL", Instructions: lookupProgram(&m)})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		progs[name] = p
	}
	const runs = 1_000_000
	for _, src := range []struct{ name, addr string }{{"admitted", "127.0.0.2"}, {"refused", "127.0.0.3"}} {
		ctx := skLookupCtx{Family: afInet, Protocol: ipprotoTCP, RemoteIP4: netip.MustParseAddr(src.addr).As4(),
			RemotePort: 0x3930, LocalIP4: endpoint.Addr().As4(), LocalPort: uint32(endpoint.Port())}
		b.Run(src.name, func(b *testing.B) {
			var spent [2]time.Duration
			var calls int
			names := []string{"off", "counting"}
			for b.Loop() {
				for j := range 2 {
					i := (j + calls) % 2 // each goes first every other time
					start := time.Now()
					if _, err := progs[names[i]].Run(&ebpf.RunOptions{Context: ctx, Repeat: runs}); err != nil {
						b.Fatal(err)
					}
					spent[i] += time.Since(start)
				}
				calls++
			}
			b.ReportMetric(float64(spent[0].Nanoseconds())/float64(calls*runs), "ns/run-off")
			b.ReportMetric(float64(spent[1].Nanoseconds())/float64(calls*runs), "ns/run-counting")
			_, _ = s.DrainRefused()
		})
	}
}
