package reconcile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/dblog"
	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/store"
)

// TestReaderThatLostItsSourceIsCopiedAfresh: a reader whose next WAL the writer recycled
// (it was down while the writer wrote and checkpointed; no replication slots) cannot
// stream again. Within a bounded number of passes it leaves the reader endpoint, says
// why, is copied afresh from the writer, and then sees a row written after.
func TestReaderThatLostItsSourceIsCopiedAfresh(t *testing.T) {
	g := newStatusRig(t)
	g.addCluster("")
	g.addReader()
	get := g.instanceByID
	// Passes follow each other without a wait; the clock moves a minute per pass, past
	// any restart backoff and lostFor.
	pass := func() {
		g.clock = g.clock.Add(time.Minute)
		g.pass()
	}
	for i := 0; i < 20 && (get("i1").Status != store.StatusAvailable || get("i2").Status != store.StatusAvailable); i++ {
		pass()
		time.Sleep(100 * time.Millisecond)
	}
	if get("i2").Status != store.StatusAvailable {
		t.Fatalf("the reader did not become available: %q %q", get("i2").Status, get("i2").StatusReason)
	}
	c := g.cluster()
	ws, rs := g.r.serverSpec(c, get("i1")), g.r.serverSpec(c, get("i2"))
	exec := func(s engine.Spec, sql ...string) {
		t.Helper()
		conn, err := g.driver.Connect(g.ctx, s, engine.Admin)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(g.ctx)
		for _, q := range sql {
			if _, err := conn.Exec(g.ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	// The writer keeps as little WAL as it may: the reader is down longer than any
	// wal_keep_size covers.
	exec(ws, "ALTER SYSTEM SET min_wal_size = '32MB'", "ALTER SYSTEM SET max_wal_size = '32MB'", "ALTER SYSTEM SET wal_keep_size = 0",
		"SELECT pg_reload_conf()", "CREATE TABLE public.t (x int)")

	if err := g.driver.Stop(g.ctx, rs); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		exec(ws, "INSERT INTO public.t SELECT generate_series(1, 1000)", "SELECT pg_switch_wal()", "CHECKPOINT")
	}
	exec(ws, "INSERT INTO public.t VALUES (-1)")

	sees := func() bool {
		conn, err := g.driver.Connect(g.ctx, rs, engine.Admin)
		if err != nil {
			return false
		}
		defer conn.Close(g.ctx)
		var n int
		if err := conn.QueryRow(g.ctx, "SELECT count(*) FROM public.t WHERE x = -1").Scan(&n); err != nil {
			return false
		}
		return n == 1
	}
	told := false
	for i := 0; i < 30 && !sees(); i++ {
		pass()
		if in := get("i2"); in.StatusReason == reasonLost {
			told = true
			if in.Status == store.StatusAvailable {
				t.Fatalf("the reader is available with reason %q", in.StatusReason)
			}
			g.r.mu.Lock()
			in := strings.ToLower("i2.x.test")
			for _, n := range g.r.serving["c1"].readers {
				if n == in {
					t.Errorf("the reader that lost its source is still behind the reader endpoint")
				}
			}
			g.r.mu.Unlock()
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !sees() {
		t.Fatalf("the reader never got the row written after it lost its source: %q %q", get("i2").Status, get("i2").StatusReason)
	}
	if b, err := serverLog(rs); err != nil || !strings.Contains(b, "has already been removed") {
		t.Errorf("the reader's log never said its WAL was removed (%v): the test did not make it lose its source", err)
	}
	if !told {
		t.Errorf("the reader's status never said it lost its source")
	}
	for i := 0; i < 5 && get("i2").Status != store.StatusAvailable; i++ {
		pass()
	}
	if in := get("i2"); in.Status != store.StatusAvailable || in.StatusReason != "" {
		t.Errorf("the reader after its copy: %q %q", in.Status, in.StatusReason)
	}
	// RDS's read replica events, in order: stopped when it is taken out, resumed once copied.
	var got []string
	for _, e := range g.events() {
		if strings.HasPrefix(e, "i2: Replication") {
			got = append(got, e)
		}
	}
	if want := []string{"i2: Replication has stopped.", "i2: Replication for the Read Replica resumed."}; !slices.Equal(got, want) {
		t.Errorf("read replica events %q, want %q", got, want)
	}
}

// serverLog is everything the server of spec logged: its stderr and its collector's files.
func serverLog(spec engine.Spec) (string, error) {
	b, err := os.ReadFile(spec.LogFile)
	if err != nil {
		return "", err
	}
	files, err := dblog.List(spec.LogDir)
	for _, f := range files {
		more, err := os.ReadFile(filepath.Join(spec.LogDir, f.Name))
		if err != nil {
			return "", err
		}
		b = append(b, more...)
	}
	return string(b), err
}
