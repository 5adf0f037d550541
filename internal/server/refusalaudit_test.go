package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/dataplane"
	"github.com/borealis-db/borealis/internal/gateway"
	"github.com/borealis-db/borealis/internal/steer"
)

// refusalServe is the part of serve that records refusals: a gateway on dataDir (its
// kernel programs pinned there where BPF allows), an endpoint "ep" admitting 127.0.0.2
// only, and the trail. Close as serve closes; leave as a killed serve leaves things.
type refusalServe struct {
	s        *Server
	gw       *gateway.Gateway
	trail    *audit.Trail
	audit    *dataPlaneAudit
	endpoint string
}

func startRefusalServe(t *testing.T, dataDir, endpoint string, interval time.Duration) *refusalServe {
	t.Helper()
	// Its steering stays pinned when it leaves (a killed serve's does); the test's end
	// takes the pins (registered first, so removed after the gateway has left).
	if dir, err := steer.PinDir(dataDir); err == nil {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	log := slog.New(slog.DiscardHandler)
	trail, err := audit.Open(context.Background(), audit.Dir(dataDir), audit.Options{Region: "us-east-1", AccountID: "123456789012", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(log, nil, gateway.Options{KernelSteering: true, DataDir: dataDir})
	only2 := gateway.NewAdmission([]string{"sg-0123"}, []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	route := func() (gateway.Target, bool) { return gateway.Target{Addr: "127.0.0.1:1", Admission: only2}, true }
	if err := gw.Ensure("ep", []string{endpoint}, route); err != nil {
		t.Fatal(err)
	}
	gw.Refresh("ep")
	s := &Server{log: log}
	d := newDataPlaneAudit("us-east-1", "123456789012", log)
	s.onClose("trail", func(context.Context) error { return trail.Close() })
	s.onClose("gateway", func(context.Context) error { gw.Leave(); return nil })
	s.startDataPlaneAudit(d, trail, gw, interval)
	return &refusalServe{s: s, gw: gw, trail: trail, audit: d, endpoint: endpoint}
}

func refuse(t *testing.T, src, dst string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", dst)
	if err != nil {
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s from %s: %v", dst, src, err)
		}
		return // refused at the SYN
	}
	// Refused by the gateway: reset before a byte.
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("%s reached %s", src, dst)
	}
}

func refusalEvents(t *testing.T, trail *audit.Trail) []audit.Event {
	t.Helper()
	got, _, err := trail.Lookup(audit.Query{Attribute: audit.AttrEventSource, Value: dataplane.EventSource, Max: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, s := range got {
		out = append(out, s.Event)
	}
	return out
}

func countFrom(events []audit.Event, source string) (n float64) {
	for _, e := range events {
		if e.EventName == dataplane.NameRefused && e.SourceIPAddress == source {
			n += e.AdditionalEventData["count"].(float64)
		}
	}
	return n
}

func freeEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A refused source becomes one counted event in the trail, with the endpoint and its
// groups; the refusals counted while serve was away (killed, its kernel programs left
// pinned) reach the trail through the next serve, none lost and none twice.
func TestRefusedConnectionsReachTheTrailAcrossARestart(t *testing.T) {
	dataDir := t.TempDir()
	endpoint := freeEndpoint(t)
	first := startRefusalServe(t, dataDir, endpoint, time.Hour)
	for range 3 {
		refuse(t, "127.0.0.3", endpoint)
	}
	if err := first.s.Close(); err != nil { // the last drain
		t.Fatal(err)
	}
	trail, err := audit.Open(context.Background(), audit.Dir(dataDir), audit.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	events := refusalEvents(t, trail)
	trail.Close()
	if len(events) != 1 || countFrom(events, "127.0.0.3") != 3 {
		t.Fatalf("trail has %+v; want one event counting 3 refusals of 127.0.0.3", events)
	}
	e := events[0]
	if len(e.Resources) != 1 || e.Resources[0].ARN != "arn:aws:rds:us-east-1:123456789012:cluster:ep" {
		t.Fatalf("resources %+v; want the cluster ep", e.Resources)
	}
	if e.EventType != audit.TypeServiceEvent || e.AdditionalEventData["endpoint"] != "ep" ||
		!strings.Contains(e.ErrorMessage, "3 connections from 127.0.0.3 to ep refused by security groups sg-0123") {
		t.Fatalf("event %+v; want an AwsServiceEvent for ep naming sg-0123", e)
	}

	// Killed: nothing drains. The kernel (pinned) goes on refusing and counting.
	second := startRefusalServe(t, dataDir, endpoint, time.Hour)
	refuse(t, "127.0.0.3", endpoint)
	close(second.audit.stop) // as kill -9: no last drain
	second.audit.done.Wait()
	second.gw.Leave()
	second.trail.Close()
	steered := pinnedSteering(t, dataDir)
	if steered {
		refuse(t, "127.0.0.4", endpoint) // while no serve runs
	}

	third := startRefusalServe(t, dataDir, endpoint, time.Hour)
	if err := third.s.Close(); err != nil {
		t.Fatal(err)
	}
	trail, err = audit.Open(context.Background(), audit.Dir(dataDir), audit.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	events = refusalEvents(t, trail)
	if !steered {
		t.Logf("no kernel steering here: the gateway's counts die with serve (%v)", events)
		return
	}
	if countFrom(events, "127.0.0.3") != 4 || countFrom(events, "127.0.0.4") != 1 {
		b, _ := json.MarshalIndent(events, "", " ")
		t.Fatalf("trail has %s; want 4 refusals of 127.0.0.3 and the one of 127.0.0.4 made while serve was away", b)
	}
}

// pinnedSteering reports whether the gateway on dataDir left kernel steering pinned.
func pinnedSteering(t *testing.T, dataDir string) bool {
	dir, err := steer.PinDir(dataDir)
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "steer", "borealis_rsrc"))
	return err == nil
}

// A scan from many sources adds a bounded number of events, which count every refusal.
func TestAScanAddsABoundedNumberOfEvents(t *testing.T) {
	dataDir := t.TempDir()
	endpoint := freeEndpoint(t)
	srv := startRefusalServe(t, dataDir, endpoint, time.Hour)
	src := netip.MustParseAddr("127.0.1.1")
	const sources = 3 * 20
	for range sources {
		refuse(t, src.String(), endpoint)
		src = src.Next()
	}
	if err := srv.s.Close(); err != nil {
		t.Fatal(err)
	}
	trail, err := audit.Open(context.Background(), audit.Dir(dataDir), audit.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	events := refusalEvents(t, trail)
	var total float64
	for _, e := range events {
		total += e.AdditionalEventData["count"].(float64)
	}
	last := events[0] // newest first: the summary
	if len(events) != dataplane.DefaultEvents || total != sources || last.SourceIPAddress != "" ||
		last.AdditionalEventData["sourcesNotItemized"].(float64) != sources-float64(dataplane.DefaultEvents-1) {
		t.Fatalf("%d events counting %v refusals, the last %+v; want %d counting %d, the last a summary of %d sources",
			len(events), total, last, dataplane.DefaultEvents, sources, sources-dataplane.DefaultEvents+1)
	}
}

// A summary of refusals at several endpoints names each one's cluster, so that a cluster's
// own lookup (ResourceName) finds the refusals a flood at another endpoint left unnamed.
func TestASummaryNamesEachClusterItCounts(t *testing.T) {
	d := newDataPlaneAudit("us-east-1", "123456789012", slog.New(slog.DiscardHandler))
	e := d.record(dataplane.Event{Name: dataplane.NameRefused, ErrorCode: "SecurityGroupRefused",
		Details: dataplane.Details{Endpoint: "noisy,quiet", Count: 5, SourcesNotItemized: 3}})
	var got []string
	for _, r := range e.Resources {
		got = append(got, r.ARN)
	}
	want := []string{"arn:aws:rds:us-east-1:123456789012:cluster:noisy", "arn:aws:rds:us-east-1:123456789012:cluster:quiet"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("resources %v; want %v", got, want)
	}
}
