package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestAdmittedConnectionsAreSteeredPastTheGateway runs the gateway with kernel steering
// and this process as "the server": an admitted source's connection arrives at the
// server's own listener still addressed to the endpoint (the gateway never dialled it),
// the rest still meet the gateway's refusal, and both show in the endpoint metrics.
func TestAdmittedConnectionsAreSteeredPastTheGateway(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := New(slog.New(slog.DiscardHandler), NewMetrics(reg), Options{KernelSteering: true})
	t.Cleanup(g.Close)
	if g.steer == nil {
		t.Skip("no kernel steering here (needs root, BPF and cgroup v2)")
	}
	var lc net.ListenConfig
	lc.SetMultipathTCP(false) // as PostgreSQL listens
	server, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	arrived := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := server.Accept()
			if err != nil {
				return
			}
			arrived <- c
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	only2 := NewAdmission([]string{"sg-test"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	route := func() (Target, bool) {
		return Target{Addr: server.Addr().String(), Admission: only2, PID: os.Getpid()}, true
	}
	if err := g.Ensure("ep", []string{"127.0.0.1:0"}, route); err != nil {
		t.Fatal(err)
	}
	endpoint := g.listeners["ep"].lns[0].Addr().String()

	client, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).Dial("tcp", endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	select {
	case c := <-arrived:
		if c.LocalAddr().String() != endpoint || c.RemoteAddr().(*net.TCPAddr).IP.String() != "127.0.0.2" {
			t.Fatalf("the server got %s → %s; want the client's own connection to the endpoint %s", c.RemoteAddr(), c.LocalAddr(), endpoint)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the admitted connection never reached the server")
	}
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}

	assertClosedWithoutData(t, endpoint, []byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"))

	// A scrape brings in what the kernel counted.
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if n := value(g.metrics.accepted.WithLabelValues("ep")); n != 2 {
		t.Errorf("accepted = %v; want 2, the steered connection and the refused one", n)
	}
	if n := value(g.metrics.open.WithLabelValues("ep")); n != 1 {
		t.Errorf("open = %v; want the steered connection", n)
	}
	if n := value(g.metrics.refused.WithLabelValues("ep", "security-group")); n != 1 {
		t.Errorf("refused = %v; want 1", n)
	}
}
