package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// readerOf is a reader of f's volume: the same account and volume directory, a data
// directory, log and port of its own, streaming from f's server.
func readerOf(t *testing.T, f *fixture, name string) *fixture {
	t.Helper()
	r := *f
	vol := filepath.Dir(f.spec.DataDir)
	r.spec.Name = name
	r.spec.DataDir = filepath.Join(vol, "data-"+name)
	r.spec.LogFile = filepath.Join(vol, name+".log")
	r.spec.Port = freePort(t)
	r.spec.Primary = &Primary{SocketDir: f.spec.SocketDir, Port: f.spec.Port}
	return &r
}

// waitRow polls the reader until the query returns want.
func waitRow(t *testing.T, c *pgx.Conn, sql, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got string
		err := c.QueryRow(ctxT(t), sql).Scan(&got)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %q, %v; want %q", sql, got, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReaderStreamsFromTheWriter: a reader made from a base backup of the running writer
// is a hot standby of it, as the cluster's own account: rows written on the writer are
// read on the reader, and writes there fail with PostgreSQL's read-only error.
func TestReaderStreamsFromTheWriter(t *testing.T) {
	f := newFixture(t, "replw")
	if err := f.l.Create(ctxT(t), f.spec, f.boot); err != nil {
		t.Fatal(err)
	}
	f.running(t)
	w := f.admin(t, "appdb")
	if _, err := w.Exec(ctxT(t), "CREATE TABLE public.t (v text); INSERT INTO public.t VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	r := readerOf(t, f, "replr")
	if err := f.l.CreateReplica(ctxT(t), r.spec, f.spec); err != nil {
		t.Fatal(err)
	}
	r.running(t)
	if !f.l.Accepting(r.spec) {
		t.Fatal("the reader's server does not accept connections")
	}
	if a := r.account(t); owner(r.spec.DataDir) != int64(a.uid) {
		t.Errorf("reader data directory owned by uid %d, want the cluster's account %s", owner(r.spec.DataDir), a.name)
	}
	rc := r.admin(t, "appdb")
	if got := scalar(t, rc, "SELECT pg_catalog.pg_is_in_recovery()::text"); got != "true" {
		t.Fatalf("pg_is_in_recovery() on the reader = %s", got)
	}
	waitRow(t, rc, "SELECT string_agg(v, ',' ORDER BY v) FROM public.t", "before")
	if _, err := w.Exec(ctxT(t), "INSERT INTO public.t VALUES ('after')"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("reader log:\n%s", logTail(r.spec.LogFile))
		}
	}()
	waitRow(t, rc, "SELECT string_agg(v, ',' ORDER BY v) FROM public.t", "after,before")

	// The master's password, set on the writer, works on the reader.
	mc, err := r.tcp(ctxT(t), "master", f.password, "appdb")
	if err != nil {
		t.Fatalf("master on the reader: %v", err)
	}
	defer mc.Close(context.Background())
	_, err = mc.Exec(ctxT(t), "INSERT INTO public.t VALUES ('no')")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "25006" {
		t.Fatalf("write on the reader: %v, want SQLSTATE 25006", err)
	}

	// Idempotent: a second call leaves the made volume alone.
	if err := f.l.CreateReplica(ctxT(t), r.spec, f.spec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.spec.DataDir + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging directory left: %v", err)
	}
}

// TestReplicationRoleIsBorealisOnly: the replication role logs in for replication only,
// over the server's socket with the cluster's secret: not as a database session, not with
// another password, not over TCP (where every endpoint leads), and no other role
// replicates.
func TestReplicationRoleIsBorealisOnly(t *testing.T) {
	f := newFixture(t, "repla")
	if err := f.l.Create(ctxT(t), f.spec, f.boot); err != nil {
		t.Fatal(err)
	}
	f.running(t)
	if err := f.l.ensureReplicator(ctxT(t), f.spec); err != nil {
		t.Fatal(err)
	}
	secret := replicationPassword(f.spec)
	try := func(host, user, password, extra string) error {
		cs := fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=postgres %s", host, f.spec.Port, user, password, extra)
		c, err := pgconn.Connect(ctxT(t), cs)
		if err == nil {
			c.Close(context.Background())
		}
		return err
	}
	sock := f.spec.SocketDir
	if err := try(sock, Replicator, secret, "replication=true"); err != nil {
		t.Fatalf("Borealis' own replication login: %v", err)
	}
	for _, c := range []struct{ what, host, user, password, extra string }{
		{"a database session", sock, Replicator, secret, ""},
		{"a logical walsender", sock, Replicator, secret, "replication=database"},
		{"another password", sock, Replicator, "guess", "replication=true"},
		{"over TCP with TLS", "127.0.0.1", Replicator, secret, "sslmode=require replication=true"},
		{"over TCP in plaintext", "127.0.0.1", Replicator, secret, "sslmode=disable replication=true"},
		{"a database session over TCP", "127.0.0.1", Replicator, secret, "sslmode=require"},
		{"the master", "127.0.0.1", "master", f.password, "sslmode=require replication=true"},
		{"the master over the socket", sock, "master", f.password, "replication=true"},
		{"rdsadmin", sock, Admin, f.spec.AdminPassword, "replication=true"},
	} {
		if err := try(c.host, c.user, c.password, c.extra); err == nil {
			t.Errorf("%s: logged in", c.what)
		}
	}
	// The secret never sits in a setting or the auto config.
	c := f.admin(t, "postgres")
	if n := scalar(t, c, fmt.Sprintf("SELECT count(*)::text FROM pg_catalog.pg_settings WHERE setting LIKE '%%%s%%'", secret)); n != "0" {
		t.Errorf("%s settings hold the replication password", n)
	}
}

// TestPromoteAndRejoin: the failover mechanics. The writer stops, its reader is promoted
// and takes writes, and the former writer's volume, copied afresh from the new writer,
// streams from it; nothing committed before the writer stopped is lost.
func TestPromoteAndRejoin(t *testing.T) {
	f := newFixture(t, "failw")
	if err := f.l.Create(ctxT(t), f.spec, f.boot); err != nil {
		t.Fatal(err)
	}
	f.running(t)
	r := readerOf(t, f, "failr")
	if err := f.l.CreateReplica(ctxT(t), r.spec, f.spec); err != nil {
		t.Fatal(err)
	}
	r.running(t)
	r2 := readerOf(t, f, "failr2")
	if err := f.l.CreateReplica(ctxT(t), r2.spec, f.spec); err != nil {
		t.Fatal(err)
	}
	r2.running(t)
	w := f.admin(t, "appdb")
	if _, err := w.Exec(ctxT(t), "CREATE TABLE public.t (v text); INSERT INTO public.t VALUES ('committed')"); err != nil {
		t.Fatal(err)
	}
	w.Close(context.Background())
	f.stopped(t) // a fast shutdown sends the standby every WAL record first
	end, ok := f.l.EndOfWAL(ctxT(t), f.spec)
	if !ok || end == 0 {
		t.Fatalf("EndOfWAL of the stopped writer: %v %v", end, ok)
	}

	if !f.l.Standby(r.spec) {
		t.Fatal("the reader's volume is not a standby's")
	}
	promoted := r.spec
	promoted.Primary = nil
	if err := f.l.Promote(ctxT(t), promoted, end); err != nil {
		t.Fatal(err)
	}
	if f.l.Standby(promoted) {
		t.Error("standby.signal outlived the promotion")
	}
	if err := f.l.Promote(ctxT(t), promoted, end); err != nil {
		t.Fatalf("a second Promote: %v", err)
	}
	nw := r.admin(t, "appdb")
	if got := scalar(t, nw, "SELECT string_agg(v, ',') FROM public.t"); got != "committed" {
		t.Fatalf("rows on the new writer: %q", got)
	}
	if _, err := nw.Exec(ctxT(t), "INSERT INTO public.t VALUES ('after')"); err != nil {
		t.Fatalf("write on the promoted server: %v", err)
	}

	// The other reader follows the new writer once told where it is.
	r2.spec.Primary = &Primary{SocketDir: promoted.SocketDir, Port: promoted.Port}
	if err := f.l.Reload(ctxT(t), r2.spec); err != nil {
		t.Fatal(err)
	}
	waitRow(t, r2.admin(t, "appdb"), "SELECT string_agg(v, ',' ORDER BY v) FROM public.t", "after,committed")

	// The former writer rejoins as a reader of the new one.
	old := *f
	old.spec.Primary = &Primary{SocketDir: promoted.SocketDir, Port: promoted.Port}
	if f.l.Standby(old.spec) {
		t.Fatal("the former writer's volume claims to be a standby's")
	}
	if err := f.l.CreateReplica(ctxT(t), old.spec, promoted); err != nil {
		t.Fatal(err)
	}
	old.running(t)
	oc := old.admin(t, "appdb")
	if got := scalar(t, oc, "SELECT pg_catalog.pg_is_in_recovery()::text"); got != "true" {
		t.Fatalf("the former writer is not a standby: %s", got)
	}
	waitRow(t, oc, "SELECT string_agg(v, ',' ORDER BY v) FROM public.t", "after,committed")
}

// TestReaderAheadOfTheNewWriterIsRebased: after a crash, a reader that replayed WAL the
// promoted one never received is past the new timeline's start, and cannot follow it;
// copied afresh (Rebase), it streams from the new writer.
func TestReaderAheadOfTheNewWriterIsRebased(t *testing.T) {
	f := newFixture(t, "forkw")
	if err := f.l.Create(ctxT(t), f.spec, f.boot); err != nil {
		t.Fatal(err)
	}
	f.running(t)
	if _, ok := f.l.TimelineStart(ctxT(t), f.spec); ok {
		t.Error("a writer never promoted has a timeline start")
	}
	behind, ahead := readerOf(t, f, "forkr1"), readerOf(t, f, "forkr2")
	for _, r := range []*fixture{behind, ahead} {
		if err := f.l.CreateReplica(ctxT(t), r.spec, f.spec); err != nil {
			t.Fatal(err)
		}
		r.running(t)
	}
	w := f.admin(t, "appdb")
	if _, err := w.Exec(ctxT(t), "CREATE TABLE public.t (v text); INSERT INTO public.t VALUES ('a')"); err != nil {
		t.Fatal(err)
	}
	const rows = "SELECT string_agg(v, ',' ORDER BY v) FROM public.t"
	waitRow(t, behind.admin(t, "appdb"), rows, "a")
	// behind stops receiving; ahead gets one more transaction; the writer crashes.
	cut := behind.spec
	cut.Primary = &Primary{SocketDir: f.spec.SocketDir, Port: freePort(t)}
	if err := f.l.Reload(ctxT(t), cut); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := w.Exec(ctxT(t), "INSERT INTO public.t VALUES ('b')"); err != nil {
		t.Fatal(err)
	}
	waitRow(t, ahead.admin(t, "appdb"), rows, "a,b")
	if err := syscall.Kill(f.l.Status(f.spec.Name).PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	promoted := behind.spec
	promoted.Primary = nil
	if err := f.l.Promote(ctxT(t), promoted, 0); err != nil {
		t.Fatal(err)
	}
	fork, ok := f.l.TimelineStart(ctxT(t), promoted)
	if !ok {
		t.Fatal("no timeline start on the promoted server")
	}
	var replayed string
	if err := ahead.admin(t, "appdb").QueryRow(ctxT(t), "SELECT pg_catalog.pg_last_wal_replay_lsn()::text").Scan(&replayed); err != nil {
		t.Fatal(err)
	}
	if lsn, _ := ParseLSN(replayed); lsn <= fork {
		t.Fatalf("the reader ahead replayed %s, not past the timeline start %s", replayed, FormatLSN(fork))
	}
	ahead.spec.Primary = &Primary{SocketDir: promoted.SocketDir, Port: promoted.Port}
	if err := f.l.Rebase(ctxT(t), ahead.spec, promoted); err != nil {
		t.Fatal(err)
	}
	ahead.running(t)
	nw := behind.admin(t, "appdb")
	if _, err := nw.Exec(ctxT(t), "INSERT INTO public.t VALUES ('c')"); err != nil {
		t.Fatal(err)
	}
	waitRow(t, ahead.admin(t, "appdb"), rows, "a,c")
}
