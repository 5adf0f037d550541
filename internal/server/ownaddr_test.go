package server

import (
	"log/slog"
	"net"
	"strconv"
	"testing"

	"github.com/borealis-db/borealis/internal/epaddr"
	"github.com/borealis-db/borealis/internal/gateway"
)

// A local process that listened on a reader endpoint's own address and port before the
// port was the cluster's (a predictable name, the next free port from 5432) keeps that
// socket: the gateway cannot listen there. The name must not be given out with that
// address (serve's DNS, the console's hostaddr line), or the reader's clients would
// connect, and send their passwords, to that process. It resolves to the cluster
// endpoint's addresses instead, where the gateway tells the reader endpoint by name.
func TestAnOwnAddressTakenByAnotherProcessIsNotGivenOut(t *testing.T) {
	bases := []string{"127.0.0.1"}
	name := "database-1.cluster-ro-abc.eu-north-1.rds.borealis.test"
	a, ok := epaddr.Own(epaddr.Parse(bases), name)
	if !ok {
		t.Fatal("no own address")
	}
	squatter, err := net.Listen("tcp", net.JoinHostPort(a.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := squatter.Addr().(*net.TCPAddr).Port

	gw := gateway.New(slog.New(slog.DiscardHandler), nil, gateway.Options{DataDir: t.TempDir()})
	defer gw.Close()
	route := func() (gateway.Target, bool) { return gateway.Target{}, false }
	addr := net.JoinHostPort(a.String(), strconv.Itoa(port))
	if err := gw.Ensure("ro:database-1", []string{addr}, route); err == nil {
		t.Fatal("the gateway listened where another process does")
	}
	own, hostaddr := ownAddr(bases, gw.ListensAt), ownHostaddr(bases, gw.ListensAt)
	if got, ok := own(name, port); ok {
		t.Errorf("DNS gives %s the address %s another process listens on", name, got)
	}
	if got, ok := hostaddr(name, port); ok {
		t.Errorf("the console's hostaddr line gives %s the address %s another process listens on", name, got)
	}

	squatter.Close()
	if err := gw.Ensure("ro:database-1", []string{addr}, route); err != nil {
		t.Fatal(err)
	}
	if got, ok := own(name, port); !ok || got != a {
		t.Errorf("the gateway listens on %s, DNS gives %v %v", addr, got, ok)
	}
	if got, ok := own(name, port+1); ok {
		t.Errorf("another port's name at the same address (nobody of serve's there) is given %v", got)
	}
}
