package dataplane

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

type memSink struct {
	mu     sync.Mutex
	events []Event
}

func (m *memSink) RecordDataPlane(_ context.Context, events []Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, events...)
	return nil
}

func newCollector(limits Limits) (*Collector, *memSink) {
	sink := &memSink{}
	return New(sink, slog.New(slog.NewTextHandler(io.Discard, nil)), limits), sink
}

var t0 = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)

func TestARefusedSourceBecomesOneCountedEvent(t *testing.T) {
	c, sink := newCollector(Limits{})
	src := netip.MustParseAddr("192.0.2.7")
	err := c.Flush(context.Background(), []Refusal{
		{Endpoint: "db.cluster-x.localhost", Groups: []string{"sg-1"}, Source: src, Count: 3, First: t0, Last: t0.Add(time.Second)},
		{Endpoint: "db.cluster-x.localhost", Groups: []string{"sg-1"}, Source: src, Count: 2, First: t0.Add(2 * time.Second), Last: t0.Add(3 * time.Second)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 1 {
		t.Fatalf("events %+v; want one", sink.events)
	}
	e := sink.events[0]
	want := "5 connections from 192.0.2.7 to db.cluster-x.localhost refused by security groups sg-1 between 2026-12-05T06:00:00Z and 2026-12-05T06:00:03Z"
	if e.Name != NameRefused || e.SourceIP != "192.0.2.7" || e.ErrorMessage != want || e.Details.Count != 5 || !e.Time.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("event %+v; want %q", e, want)
	}
}

func TestAScanFromManySourcesIsBounded(t *testing.T) {
	c, sink := newCollector(Limits{Events: 10, Tally: 100})
	var refused []Refusal
	src := netip.MustParseAddr("198.51.100.1")
	for i := range 1000 {
		refused = append(refused, Refusal{Endpoint: "ep", Source: src, Count: uint64(1 + i%3), First: t0, Last: t0})
		src = src.Next()
	}
	refused = append(refused, Refusal{Endpoint: "ep", Count: 500, First: t0, Last: t0}) // past the kernel's table
	if err := c.Flush(context.Background(), refused); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 10 {
		t.Fatalf("%d events; want 10", len(sink.events))
	}
	var total uint64
	for _, e := range sink.events {
		total += e.Details.Count
	}
	last := sink.events[9]
	if total != 1999+500 || last.SourceIP != "" || last.Details.SourcesNotItemized != 1000-9+1 {
		t.Fatalf("counted %d in all, summary %+v; want 2499, and 992 sources not itemized", total, last)
	}
	if sink.events[0].Details.Count != 3 {
		t.Fatalf("first event %+v; want one of the largest counts", sink.events[0])
	}
}

// A flood of refusals at one endpoint, from many sources with large counts, does not push
// a single refusal at another endpoint (another tenant's) into the summary: the sources
// are itemized in turns across endpoints.
func TestAFloodAtOneEndpointHidesNoSourceOfAnother(t *testing.T) {
	c, sink := newCollector(Limits{Events: 10, Tally: 100})
	var refused []Refusal
	src := netip.MustParseAddr("198.51.100.1")
	for range 50 {
		refused = append(refused, Refusal{Endpoint: "noisy", Source: src, Count: 1000, First: t0, Last: t0})
		src = src.Next()
	}
	prober := netip.MustParseAddr("203.0.113.5")
	refused = append(refused, Refusal{Endpoint: "quiet", Source: prober, Count: 1, First: t0, Last: t0})
	if err := c.Flush(context.Background(), refused); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 10 {
		t.Fatalf("%d events; want 10", len(sink.events))
	}
	for _, e := range sink.events {
		if e.SourceIP == prober.String() && e.Details.Endpoint == "quiet" {
			return
		}
	}
	t.Fatalf("the refusal of %s at quiet is not itemized: %+v", prober, sink.events)
}

func TestFailedAuthenticationsAreRecordedAtOnceThenCounted(t *testing.T) {
	c, sink := newCollector(Limits{Events: 6, Tally: 100})
	ctx := context.Background()
	f := AuthFailure{Time: t0, Cluster: "cluster-abc", Endpoint: "db.cluster-abc.localhost:5432", Source: netip.MustParseAddrPort("192.0.2.9:50000"),
		DBUser: "app", Reason: "ExpiredToken", Message: "the token has expired", AccessKeyID: "AKIAEXAMPLE"}
	c.AuthFailed(ctx, f)
	if len(sink.events) != 1 || sink.events[0].ErrorCode != "ExpiredToken" || sink.events[0].SourceIP != "192.0.2.9" || sink.events[0].Details.DBUser != "app" {
		t.Fatalf("after one failure: %+v; want its event at once", sink.events)
	}
	// A spray: the same failure many times, and many users.
	for i := range 50 {
		f.Time = t0.Add(time.Duration(i) * time.Second)
		c.AuthFailed(ctx, f)
	}
	for i := range 200 {
		g := f
		g.DBUser = "user" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		c.AuthFailed(ctx, g)
	}
	immediate := len(sink.events)
	if immediate != 3 {
		t.Fatalf("%d events at once; want 3 (half the limit)", immediate)
	}
	if err := c.Flush(ctx, nil); err != nil {
		t.Fatal(err)
	}
	flushed := sink.events[immediate:]
	if len(flushed) != 6 {
		t.Fatalf("%d events at the flush; want 6", len(flushed))
	}
	var total uint64
	for _, e := range sink.events {
		total += e.Details.Count
	}
	if total != 1+50+200 {
		t.Fatalf("counted %d failures; want 251", total)
	}
	if e := flushed[0]; e.Details.Count != 50 || !strings.Contains(e.ErrorMessage, "50 IAM database authentications") {
		t.Fatalf("first flushed event %+v; want the 50 repeats", e)
	}
	// The next interval starts afresh.
	c.AuthFailed(ctx, f)
	if len(sink.events) != immediate+6+1 {
		t.Fatalf("a failure in the next interval was not recorded at once")
	}
}

// A spray of failed logins at one cluster does not push another cluster's single failure
// into the summary, though it came after the interval's immediate events were spent.
func TestASprayAtOneClusterHidesNoFailureOfAnother(t *testing.T) {
	c, sink := newCollector(Limits{Events: 6, Tally: 100})
	ctx := context.Background()
	for i := range 40 {
		f := AuthFailure{Time: t0, Cluster: "cluster-noisy", Source: netip.MustParseAddrPort("198.51.100.1:5000"),
			DBUser: "user" + string(rune('a'+i%20)), Reason: "ExpiredToken", Message: "the token has expired"}
		for range 10 {
			c.AuthFailed(ctx, f)
		}
	}
	c.AuthFailed(ctx, AuthFailure{Time: t0, Cluster: "cluster-quiet", Source: netip.MustParseAddrPort("203.0.113.5:5000"),
		DBUser: "app", Reason: "SignatureDoesNotMatch", Message: "tampered"})
	if err := c.Flush(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, e := range sink.events {
		if e.Details.Cluster == "cluster-quiet" && e.SourceIP == "203.0.113.5" {
			return
		}
	}
	t.Fatalf("cluster-quiet's failure is not itemized: %+v", sink.events)
}

// A spray of more failed-login keys than the tally holds, at one cluster, leaves another
// cluster's failure itemized: a cluster holds a share of the tally only.
func TestASprayPastTheTallyHidesNoFailureOfAnother(t *testing.T) {
	c, sink := newCollector(Limits{Events: 6, Tally: 640})
	ctx := context.Background()
	src := netip.MustParseAddr("2001:db8::1")
	for range 700 {
		c.AuthFailed(ctx, AuthFailure{Time: t0, Cluster: "cluster-noisy", Source: netip.AddrPortFrom(src, 5000),
			DBUser: "app", Reason: "ExpiredToken", Message: "the token has expired"})
		src = src.Next()
	}
	c.AuthFailed(ctx, AuthFailure{Time: t0, Cluster: "cluster-quiet", Source: netip.MustParseAddrPort("203.0.113.5:5000"),
		DBUser: "app", Reason: "ExpiredToken", Message: "the token has expired"})
	if err := c.Flush(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var total uint64
	found := false
	for _, e := range sink.events {
		total += e.Details.Count
		if e.Details.Cluster == "cluster-quiet" && e.SourceIP == "203.0.113.5" {
			found = true
		}
	}
	if !found || total != 701 {
		t.Fatalf("cluster-quiet's failure itemized: %v, %d counted; want it, and 701: %+v", found, total, sink.events)
	}
}
