package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/gateway"
	"github.com/borealis-db/borealis/internal/pki"
	"github.com/borealis-db/borealis/internal/store"
)

// failingCreate is a driver whose Create always fails, and says when it is called.
type failingCreate struct {
	engine.Driver
	calls chan string
}

func (d failingCreate) Create(context.Context, engine.Spec, engine.Bootstrap) error {
	d.calls <- "create"
	return errors.New("create failed")
}

// TestPeriodicPassRespectsTheBackoff: after a failed pass the periodic kicks wait until the
// delay has passed (the bug: the log said retry_in=30s and the 2s tick retried anyway); a
// change (Notify) is reconciled at once.
func TestPeriodicPassRespectsTheBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ca, key, err := pki.NewCA(store.LegacyCAIdentifier, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st.InitMeta(ctx, "ca_key", string(key))
	st.InitMeta(ctx, "ca_cert", string(ca.CertPEM))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := st.CreateCluster(ctx, store.Cluster{ID: "c1", ResourceID: "cluster-WORKER", Port: port, Endpoint: "c1.cluster-x.test",
		ReaderEndpoint: "c1.cluster-ro-x.test", Status: store.StatusCreating, MasterUsername: "master"}); err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(slog.New(slog.DiscardHandler), gateway.NewMetrics(prometheus.NewRegistry()), gateway.Options{})
	defer gw.Close()
	// The worker's clock and Create each report to the test and wait for it: every step
	// of the worker is seen, in order, with no timing involved.
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := make(chan string)
	now := func() time.Time {
		mu.Lock()
		c := clock
		mu.Unlock()
		events <- "now"
		return c
	}
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	d := failingCreate{calls: events}
	r := New(Config{DataDir: t.TempDir(), EndpointAddrs: []string{"127.0.0.1"}, Now: now}, st, d, gw, slog.New(slog.DiscardHandler))
	k := kicks{make(chan struct{}, 1), make(chan struct{}, 1)}
	r.wg.Add(1)
	go r.work(ctx, "c1", k, func() {})
	defer func() { cancel(); r.wg.Wait() }()

	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case got := <-events:
				if got != w {
					t.Fatalf("the worker did %q, want %q", got, w)
				}
			case <-time.After(time.Minute):
				t.Fatalf("the worker did nothing, want %q", w)
			}
		}
	}
	calls := 0
	change := func() { // a Notify: reconciled at once, fails, backs off
		t.Helper()
		k.now <- struct{}{}
		expect("create", "now")
		calls++
	}
	// periodic kicks the worker periodically and reports whether it tried.
	periodic := func() bool {
		t.Helper()
		k.periodic <- struct{}{}
		expect("now") // is the delay over?
		// A change kicked now is taken after the periodic kick's pass, if there is one.
		k.now <- struct{}{}
		expect("create")
		calls++
		// The worker now waits to read its clock, in the error path of the pass that just
		// tried: the change's kick is still there if that pass was the periodic one's.
		tried := len(k.now) != 0
		expect("now")
		if tried {
			calls++
			expect("create", "now") // the change's own pass
		}
		return tried
	}
	change()
	if periodic() {
		t.Fatal("a periodic pass retried before the delay (1s) passed")
	}
	// Two more failures (the change in periodic, then one now): the third waits 4s.
	change()
	advance(4*time.Second - time.Millisecond)
	if periodic() {
		t.Fatal("a periodic pass retried before the doubled delay passed")
	}
	// The fourth failure (the change in periodic) waits 8s from then.
	advance(8 * time.Second)
	if !periodic() {
		t.Fatal("the periodic pass after the delay did not retry")
	}
	if calls != 6 {
		t.Errorf("%d attempts, want 6", calls)
	}
}
