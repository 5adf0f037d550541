package engine

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"
)

// RunLocal serves a stopped volume on its unix socket only while fn runs: rdsadmin reaches
// it there, nothing reaches it over TCP, and it is stopped afterwards with the data kept.
func TestRunLocalServesTheSocketOnly(t *testing.T) {
	f := newFixture(t, "runlocal")
	ctx := ctxT(t)
	if err := f.l.Create(ctx, f.spec, f.boot); err != nil {
		t.Fatal(err)
	}
	ran := false
	err := f.l.RunLocal(ctx, f.spec, func(ctx context.Context) error {
		ran = true
		c, err := f.l.Connect(ctx, f.spec, "appdb")
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `CREATE TABLE public.kept (n int); INSERT INTO public.kept VALUES (7)`); err != nil {
			return err
		}
		var listen string
		if err := c.QueryRow(ctx, `SHOW listen_addresses`).Scan(&listen); err != nil {
			return err
		}
		if listen != "" {
			t.Errorf("listen_addresses = %q, want none", listen)
		}
		if conn, err := net.DialTimeout("tcp", net.JoinHostPort(f.spec.ListenAddr, strconv.Itoa(f.spec.Port)), time.Second); err == nil {
			conn.Close()
			t.Error("the local server accepts TCP connections")
		}
		return nil
	})
	if err != nil || !ran {
		t.Fatalf("RunLocal: %v (ran %v)", err, ran)
	}
	if st := f.l.Status(f.spec.Name); st.State == StateRunning {
		t.Fatalf("still running after RunLocal: %+v", st)
	}
	if _, err := f.l.Connect(ctx, f.spec, "appdb"); err == nil {
		t.Fatal("the socket still answers after RunLocal")
	}
	f.running(t)
	var n int
	if err := f.admin(t, "appdb").QueryRow(ctx, `SELECT n FROM public.kept`).Scan(&n); err != nil || n != 7 {
		t.Fatalf("what was written on the local server: %d %v", n, err)
	}
	// While the instance's own server runs, a local server cannot start on the volume.
	if err := f.l.RunLocal(ctx, f.spec, func(context.Context) error { return nil }); err == nil {
		t.Fatal("RunLocal started a second server on a running volume")
	}
}
