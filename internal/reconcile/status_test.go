package reconcile

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/gateway"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/pki"
	"github.com/borealis-db/borealis/internal/store"
)

// statusRig is a reconciler on a real PostgreSQL driver and store, with a clock the test
// moves, driven one pass at a time.
type statusRig struct {
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	driver *engine.Local
	r      *Reconciler
	reg    *prometheus.Registry
	clock  time.Time
}

func newStatusRig(t *testing.T) *statusRig {
	t.Helper()
	ctx := context.Background()
	// A server that hangs on a full volume is given up on in seconds, not minutes.
	driver, err := engine.NewLocal(nil, engine.Options{StartTimeout: 10 * time.Second})
	if err != nil {
		t.Skipf("no PostgreSQL: %v", err)
	}
	// A directory the servers' accounts can traverse (t.TempDir is 0700 root's).
	root, err := os.MkdirTemp("", "borealis-reconcile-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, root+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		driver.Close(context.Background())
		st.Close()
		os.RemoveAll(root)
	})
	ca, key, err := pki.NewCA(store.LegacyCAIdentifier, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st.InitMeta(ctx, "ca_key", string(key))
	st.InitMeta(ctx, "ca_cert", string(ca.CertPEM))
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	rig := &statusRig{t: t, ctx: ctx, st: st, driver: driver, reg: prometheus.NewRegistry(), clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	gw := gateway.New(log, gateway.NewMetrics(prometheus.NewRegistry()), gateway.Options{})
	rig.r = New(Config{DataDir: root, EndpointAddrs: []string{"127.0.0.1"}, Metrics: rig.reg, Now: func() time.Time { return rig.clock }, Events: st},
		st, driver, gw, log)
	return rig
}

// addCluster stores a cluster with a writer, as CreateDBCluster and CreateDBInstance do.
func (g *statusRig) addCluster(clusterGroup string) {
	g.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		g.t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var b [8]byte
	rand.Read(b[:])
	sum := md5.Sum([]byte("secret-password" + "master"))
	c := store.Cluster{ID: "c1", ResourceID: "cluster-" + strings.ToUpper(hex.EncodeToString(b[:])), Engine: "aurora-postgresql",
		MasterUsername: "master", MasterPasswordVerifier: "md5" + hex.EncodeToString(sum[:]), Port: port,
		Endpoint: "c1.cluster-x.test", ReaderEndpoint: "c1.cluster-ro-x.test", Status: store.StatusCreating,
		ParameterGroup: clusterGroup, CAIdentifier: store.LegacyCAIdentifier, CreatedAt: time.Now()}
	if err := g.st.CreateCluster(g.ctx, c); err != nil {
		g.t.Fatal(err)
	}
	in := store.Instance{ID: "i1", ClusterID: "c1", ResourceID: "db-" + c.ResourceID[8:], Engine: c.Engine,
		Endpoint: "i1.x.test", Status: store.StatusCreating, Writer: true, CreatedAt: time.Now()}
	if _, err := g.st.CreateInstance(g.ctx, in, func(store.Cluster, []store.Instance) (store.Instance, error) { return in, nil }); err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(g.deleteCluster)
}

// addReader stores a reader, i2, in the cluster, as CreateDBInstance does.
func (g *statusRig) addReader() {
	g.t.Helper()
	reader := store.Instance{ID: "i2", ClusterID: "c1", ResourceID: "db-READER" + strings.ToUpper(g.cluster().ResourceID[8:16]),
		Engine: "aurora-postgresql", Endpoint: "i2.x.test", Status: store.StatusCreating, CreatedAt: time.Now()}
	if _, err := g.st.CreateInstance(g.ctx, reader, func(store.Cluster, []store.Instance) (store.Instance, error) { return reader, nil }); err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() {
		g.st.UpdateInstance(g.ctx, "i2", func(in *store.Instance) error { in.Status = store.StatusDeleting; return nil })
	})
}

// deleteCluster runs DeleteDBCluster's part in the reconciler: servers stopped, volume and
// its OS account removed.
func (g *statusRig) deleteCluster() {
	ctx := context.Background()
	g.st.UpdateInstance(ctx, "i1", func(in *store.Instance) error { in.Status = store.StatusDeleting; return nil })
	g.st.UpdateCluster(ctx, "c1", func(c *store.Cluster) error { c.Status = store.StatusDeleting; return nil })
	if err := g.r.reconcileCluster(ctx, "c1"); err != nil && !errors.Is(err, errGone) {
		g.t.Errorf("delete: %v", err)
	}
}

// pass runs one reconcile pass of the cluster.
func (g *statusRig) pass() {
	g.t.Helper()
	if err := g.r.reconcileCluster(g.ctx, "c1"); err != nil {
		g.t.Fatalf("pass: %v", err)
	}
}

// instance is the writer, i1.
func (g *statusRig) instance() store.Instance {
	g.t.Helper()
	return g.instanceByID("i1")
}

func (g *statusRig) instanceByID(id string) store.Instance {
	g.t.Helper()
	in, err := g.st.Instance(g.ctx, id)
	if err != nil {
		g.t.Fatal(err)
	}
	return in
}

func (g *statusRig) cluster() store.Cluster {
	g.t.Helper()
	c, err := g.st.Cluster(g.ctx, "c1")
	if err != nil {
		g.t.Fatal(err)
	}
	return c
}

func (g *statusRig) attempts(result string) int {
	return int(value(g.t, g.r.metrics.attempts.WithLabelValues("c1", "i1", result)))
}

func value(t *testing.T, m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// exported returns the labels of every series of the metric named name that /metrics shows.
func (g *statusRig) exported(name string) []string {
	g.t.Helper()
	families, err := g.reg.Gather()
	if err != nil {
		g.t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out = append(out, strings.Join(labels, ","))
		}
	}
	return out
}

// TestServerThatCannotStartIsNotAvailable: a parameter the API accepts but PostgreSQL
// cannot start with (ssl_ciphers naming no cipher OpenSSL knows) leaves the instance and
// its cluster incompatible-parameters with a reason after the first pass, never
// available; the starts are retried with doubling delays that the passes in between
// respect; fixing the group brings the server up at the next pass, without waiting out the
// delay. Then a postmaster killed soon after its start is restarted after a delay too.
func TestServerThatCannotStartIsNotAvailable(t *testing.T) {
	g := newStatusRig(t)
	if err := g.st.CreateParameterGroup(g.ctx, store.ParameterGroup{Name: "bad", Kind: store.ClusterParamGroup, Family: params.Family,
		Values: map[string]string{"ssl_ciphers": "NOSUCHCIPHER"}}); err != nil {
		t.Fatal(err)
	}
	def, _ := params.Lookup("ssl_ciphers")
	if err := def.Validate("NOSUCHCIPHER"); err != nil {
		t.Fatalf("the API refuses the value; pick another: %v", err)
	}
	g.addCluster("bad")

	g.pass() // the volume is made, the server fails to start
	in, c := g.instance(), g.cluster()
	if in.Status != store.StatusIncompatibleParameters || !strings.Contains(in.StatusReason, "ssl_ciphers") {
		t.Fatalf("instance after the first pass: %q %q", in.Status, in.StatusReason)
	}
	if strings.Contains(in.StatusReason, "NOSUCHCIPHER") {
		t.Errorf("the reason quotes the value: %q", in.StatusReason)
	}
	if c.Status != store.StatusIncompatibleParameters || c.StatusReason != in.StatusReason {
		t.Errorf("cluster after the first pass: %q %q", c.Status, c.StatusReason)
	}
	if g.attempts("failed") != 1 {
		t.Fatalf("attempts %d", g.attempts("failed"))
	}

	// Passes before the delay ends do not start it; the delays double.
	var delays []time.Duration
	for attempt := 2; attempt <= 4; attempt++ {
		b := g.r.backoff["i1"]
		delays = append(delays, b.Next.Sub(g.clock))
		for _, step := range []time.Duration{0, b.Next.Sub(g.clock) - time.Millisecond} {
			g.clock = g.clock.Add(step)
			g.pass()
			if n := g.attempts("failed"); n != attempt-1 {
				t.Fatalf("a pass %v before the delay ended started the server (attempts %d)", b.Next.Sub(g.clock), n)
			}
			if st := g.instance().Status; st != store.StatusIncompatibleParameters {
				t.Fatalf("status while waiting: %q", st)
			}
		}
		g.clock = b.Next
		g.pass()
		if n := g.attempts("failed"); n != attempt {
			t.Fatalf("the pass at the end of the delay: attempts %d, want %d", n, attempt)
		}
	}
	if got := g.r.backoff["i1"].Next.Sub(g.clock); got != 8*time.Second {
		t.Errorf("delay after 4 failures %v", got)
	}
	if len(delays) != 3 || delays[0] != time.Second || delays[1] != 2*time.Second || delays[2] != 4*time.Second {
		t.Errorf("delays %v, want 1s 2s 4s", delays)
	}
	if n := value(t, g.r.metrics.failures.WithLabelValues("c1", "i1")); n != 4 {
		t.Errorf("failures in a row %v", n)
	}
	last := g.exported("borealis_instance_last_start_error_timestamp_seconds")
	if len(last) != 1 || !strings.Contains(last[0], "status=incompatible-parameters") || !strings.Contains(last[0], "ssl_ciphers") ||
		strings.Contains(last[0], "NOSUCHCIPHER") {
		t.Errorf("last error at /metrics: %q", last)
	}

	// Fixed: tried at once, though the delay has 8s to run.
	if _, err := g.st.UpdateParameterGroup(g.ctx, store.ClusterParamGroup, "bad", func(pg *store.ParameterGroup) error {
		delete(pg.Values, "ssl_ciphers")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	g.pass()
	in, c = g.instance(), g.cluster()
	if in.Status != store.StatusAvailable || in.StatusReason != "" || c.Status != store.StatusAvailable || c.StatusReason != "" {
		t.Fatalf("after the fix: instance %q %q, cluster %q %q", in.Status, in.StatusReason, c.Status, c.StatusReason)
	}
	spec := g.r.instanceSpec(c, in, nil, nil)
	if !g.driver.Accepting(spec) || g.attempts("ok") != 1 {
		t.Fatalf("available without a server accepting connections (attempts ok %d)", g.attempts("ok"))
	}

	// The postmaster ends 2 (fake) seconds after its start: rebooting, and the restart waits.
	g.clock = g.clock.Add(2 * time.Second)
	pid := g.driver.Status("i1").PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; g.driver.Status("i1").State == engine.StateRunning; i++ {
		if i > 1000 {
			t.Fatal("the driver did not see the postmaster end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.pass()
	if in := g.instance(); in.Status != store.StatusRebooting || in.StatusReason != reasonStarting || g.attempts("ok") != 1 {
		t.Fatalf("after the crash: %q %q, starts %d", in.Status, in.StatusReason, g.attempts("ok"))
	}
	if c := g.cluster(); c.Status != store.StatusAvailable {
		t.Errorf("a rebooting writer changed the cluster to %q", c.Status)
	}
	g.clock = g.r.backoff["i1"].Next
	g.pass()
	if in := g.instance(); in.Status != store.StatusAvailable || g.attempts("ok") != 2 || g.driver.Status("i1").PID == pid {
		t.Fatalf("after the delay: %q, starts %d", in.Status, g.attempts("ok"))
	}
}

// TestFullVolumeIsStorageFull: a server whose volume (a small tmpfs) is full cannot start
// again after it ends: the instance and its cluster are storage-full, with the reason, and
// once space is freed the next start after the delay makes them available again.
func TestFullVolumeIsStorageFull(t *testing.T) {
	g := newStatusRig(t)
	g.addCluster("")
	c := g.cluster()
	vol := g.r.clusterDir(c)
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=80m,mode=0755", "tmpfs", vol).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		// Before the cluster's deletion: the server stops, then the mount goes.
		if err := g.driver.Stop(context.Background(), g.r.volumeSpec(c, 0)); err != nil {
			t.Error(err)
		}
		if out, err := exec.Command("umount", vol).CombinedOutput(); err != nil {
			t.Errorf("umount: %v %s", err, out)
			exec.Command("umount", "-l", vol).Run()
		}
	})

	g.pass()
	if in := g.instance(); in.Status != store.StatusAvailable {
		t.Fatalf("on a volume with room: %q %q", in.Status, in.StatusReason)
	}
	filler := filepath.Join(vol, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()

	// The server ends long after its start: one more start is tried at once, and fails.
	g.clock = g.clock.Add(stableAfter)
	if err := syscall.Kill(g.driver.Status("i1").PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; g.driver.Status("i1").State == engine.StateRunning; i++ {
		if i > 1000 {
			t.Fatal("the driver did not see the postmaster end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.pass()
	in, c := g.instance(), g.cluster()
	if in.Status != store.StatusStorageFull || in.StatusReason != reasonStorageFull || c.Status != store.StatusStorageFull {
		t.Fatalf("on a full volume: instance %q %q, cluster %q; starts failed %d", in.Status, in.StatusReason, c.Status, g.attempts("failed"))
	}
	g.pass()
	if g.attempts("failed") != 1 {
		t.Errorf("retried before the delay: %d attempts", g.attempts("failed"))
	}

	os.Remove(filler)
	g.clock = g.r.backoff["i1"].Next
	g.pass()
	if in, c := g.instance(), g.cluster(); in.Status != store.StatusAvailable || c.Status != store.StatusAvailable || in.StatusReason != "" {
		t.Fatalf("with room again: instance %q %q, cluster %q", in.Status, in.StatusReason, c.Status)
	}
}

// TestTakenEndpointPortIsIncompatibleNetwork: a cluster whose endpoint port another
// program holds is incompatible-network with the reason, never available (clients on that
// port would reach the other program); once the port is free the cluster comes up.
func TestTakenEndpointPortIsIncompatibleNetwork(t *testing.T) {
	g := newStatusRig(t)
	g.addCluster("")
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(g.cluster().Port)))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.r.reconcileCluster(g.ctx, "c1"); err == nil {
		t.Fatal("a pass with the endpoint's port taken succeeded")
	}
	if c := g.cluster(); c.Status != store.StatusIncompatibleNetwork || c.StatusReason != reasonEndpoint {
		t.Fatalf("cluster with its port taken: %q %q", c.Status, c.StatusReason)
	}
	ln.Close()
	g.pass()
	if c, in := g.cluster(), g.instance(); c.Status != store.StatusAvailable || c.StatusReason != "" || in.Status != store.StatusAvailable {
		t.Fatalf("with the port free: cluster %q %q, instance %q", c.Status, c.StatusReason, in.Status)
	}
}
