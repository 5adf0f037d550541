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
// delay has passed (the bug: the log said retry_in=30s and the 2s tick retried anyway). A
// kick from an API call, or a server's end, waits too unless the call changed what is asked
// of this cluster (the bug: every API call, about any cluster, retried a cluster whose
// start kept failing); a change to it is reconciled at once, and so is its deletion.
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
	ended := make(chan struct{})
	go func() { r.work(ctx, "c1", k, func() {}); close(ended) }()
	defer func() {
		// A failed step leaves the worker telling of its next one: let it, so it ends.
		cancel()
		drained := make(chan struct{})
		go func() {
			for {
				select {
				case <-events:
				case <-drained:
					return
				}
			}
		}()
		r.wg.Wait()
		close(drained)
	}()

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
	failed := false
	// change is an API call that changed this cluster: reconciled at once, it fails and
	// backs off further.
	change := func() {
		t.Helper()
		if _, err := st.UpdateCluster(ctx, "c1", func(c *store.Cluster) error { c.DeletionProtection = !c.DeletionProtection; return nil }); err != nil {
			t.Fatal(err)
		}
		k.now <- struct{}{}
		if failed {
			expect("now") // is the delay over? No matter: the cluster changed
		}
		expect("create", "now")
		calls++
		failed = true
	}
	// other is an API call about something else, or a server's end: the worker looks at
	// the clock and the cluster and, while backing off, waits on. An attempt would show as
	// an unexpected "create" at the next step.
	other := func() {
		t.Helper()
		k.now <- struct{}{}
		expect("now")
	}
	// periodic kicks the worker periodically and reports whether it tried.
	periodic := func() bool {
		t.Helper()
		k.periodic <- struct{}{}
		expect("now") // is the delay over?
		// A kick of other's kind tells the two outcomes apart: it checks the clock at
		// once if the periodic kick was ignored, after the failing pass if there was one.
		k.now <- struct{}{}
		select {
		case got := <-events:
			switch got {
			case "now":
				return false
			case "create":
				calls++
				expect("now", "now")
				return true
			}
			t.Fatalf("the worker did %q", got)
		case <-time.After(time.Minute):
			t.Fatal("the worker did nothing")
		}
		return false
	}
	change()
	// The failed pass wrote the cluster's secrets and certificate: the reconciler's own
	// writes are no change.
	other()
	if periodic() {
		t.Fatal("a periodic pass retried before the delay (1s) passed")
	}
	// Two more failures: the third waits 4s.
	change()
	change()
	advance(4*time.Second - time.Millisecond)
	other()
	if periodic() {
		t.Fatal("a periodic pass retried before the doubled delay passed")
	}
	// The first kick after the delay retries, a periodic one as another; the fourth
	// failure waits 8s.
	advance(time.Millisecond)
	if !periodic() {
		t.Fatal("the periodic pass after the delay did not retry")
	}
	other()
	advance(8*time.Second - time.Millisecond)
	other()
	if calls != 4 {
		t.Errorf("%d attempts, want 4", calls)
	}
	// A deletion is a change: the worker finds the cluster gone at once, and ends.
	if err := st.DeleteCluster(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	k.now <- struct{}{}
	expect("now")
	select {
	case <-ended:
	case got := <-events:
		t.Fatalf("the worker did %q, want it to end", got)
	case <-time.After(time.Minute):
		t.Fatal("the worker did not end after its cluster was deleted")
	}
}

// TestDesiredKeyChangesWithWhatTheAPIAsks: the fingerprint a failing cluster's backoff is
// lifted by moves with what the API decides, not with what the reconciler writes.
func TestDesiredKeyChangesWithWhatTheAPIAsks(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateCluster(ctx, store.Cluster{ID: "c1", ResourceID: "cluster-KEY", Port: 5432, Status: store.StatusCreating, MasterUsername: "master"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateInstance(ctx, store.Instance{ID: "i1", ClusterID: "c1", Status: store.StatusCreating, Writer: true},
		func(_ store.Cluster, _ []store.Instance) (store.Instance, error) {
			return store.Instance{ID: "i1", ClusterID: "c1", Status: store.StatusCreating, Writer: true}, nil
		}); err != nil {
		t.Fatal(err)
	}
	r := New(Config{DataDir: t.TempDir()}, st, nil, nil, slog.New(slog.DiscardHandler))
	cluster := func(f func(*store.Cluster)) func() {
		return func() {
			if _, err := st.UpdateCluster(ctx, "c1", func(c *store.Cluster) error { f(c); return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	instance := func(f func(*store.Instance)) func() {
		return func() {
			if _, err := st.UpdateInstance(ctx, "i1", func(m *store.Instance) error { f(m); return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		what   string
		do     func()
		change bool
	}{
		{"the reconciler's status and reason", cluster(func(c *store.Cluster) {
			c.Status, c.StatusReason = store.StatusIncompatibleNetwork, "The cluster endpoint cannot listen"
		}), false},
		{"the cluster's secrets, certificate, first CA and volume", cluster(func(c *store.Cluster) {
			c.AdminPassword, c.CertPEM, c.KeyPEM, c.CAIdentifier, c.VolumeReady = "x", []byte("c"), []byte("k"), store.LegacyCAIdentifier, true
		}), false},
		{"an instance's status, private port, certificate and start", instance(func(m *store.Instance) {
			m.Status, m.StatusReason, m.PrivatePort = store.StatusFailed, "cannot start", 40000
			m.CertPEM, m.KeyPEM, m.CertCA, m.Started = []byte("c"), []byte("k"), "rds-ca-x", &store.StartedParams{}
		}), false},
		{"the reconciler's rebooting (a server that ended)", instance(func(m *store.Instance) {
			m.Status, m.StatusReason = store.StatusRebooting, "ended unexpectedly"
		}), false},
		{"tags", cluster(func(c *store.Cluster) { c.Tags = []store.Tag{{Key: "k", Value: "v"}} }), false},
		{"the port", cluster(func(c *store.Cluster) { c.Port = 5433 }), true},
		{"the cluster parameter group", cluster(func(c *store.Cluster) { c.ParameterGroup = "fixed" }), true},
		{"IAM database authentication", cluster(func(c *store.Cluster) { c.IAMAuth = true }), true},
		{"ModifyDBCluster's status", cluster(func(c *store.Cluster) { c.Status, c.StatusReason = store.StatusModifying, "" }), true},
		{"DeleteDBCluster", cluster(func(c *store.Cluster) { c.Status = store.StatusDeleting }), true},
		{"a reboot asked for", instance(func(m *store.Instance) { m.Status, m.StatusReason = store.StatusRebooting, "" }), true},
		{"an instance's parameter group", instance(func(m *store.Instance) { m.ParameterGroup = "fixed" }), true},
		{"a new instance", func() {
			in := store.Instance{ID: "i2", ClusterID: "c1", Status: store.StatusCreating}
			if _, err := st.CreateInstance(ctx, in, func(store.Cluster, []store.Instance) (store.Instance, error) { return in, nil }); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"the cluster's deletion", func() {
			for _, id := range []string{"i1", "i2"} {
				st.DeleteInstance(ctx, id)
			}
			if err := st.DeleteCluster(ctx, "c1"); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		before := r.desiredKey(ctx, "c1")
		tc.do()
		if after := r.desiredKey(ctx, "c1"); (after != before) != tc.change {
			t.Errorf("%s: key changed %v, want %v", tc.what, after != before, tc.change)
		}
	}
}
