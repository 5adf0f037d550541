package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestReadOnlyStopsTemporaryFiles: read-only, a cluster still runs SELECTs, and a SELECT
// that sorts more than work_mem writes temporary files on the volume, as many as it likes
// (a WITH HOLD cursor keeps them for the session). So the switch cancels the statements
// writing them and lets no new temporary file be written.
func TestReadOnlyStopsTemporaryFiles(t *testing.T) {
	f := sharedFixture(t)
	f.running(t)
	s := f.spec
	defer func() {
		if err := f.l.Reload(ctxT(t), s); err != nil {
			t.Error(err)
		}
	}()
	c, err := f.tcp(ctxT(t), "master", f.password, "appdb")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	const spill = `SELECT x, pg_sleep(0.01) FROM (SELECT g AS x FROM generate_series(1, 500000) g ORDER BY g DESC OFFSET 0) s`
	if _, err := c.Exec(ctxT(t), "SET work_mem = '64kB'"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctxT(t), spill)
		done <- err
	}()
	a := f.admin(t, "appdb")
	defer a.Close(context.Background())
	for n := 0; n == 0; time.Sleep(20 * time.Millisecond) {
		if err := a.QueryRow(ctxT(t), "SELECT count(*) FROM pg_catalog.pg_ls_dir('base/pgsql_tmp', true, false)").Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	ro := s
	ro.ReadOnly = true
	if err := f.l.Reload(ctxT(t), ro); err != nil {
		t.Fatal(err)
	}
	var pe *pgconn.PgError
	select {
	case err := <-done:
		if !errors.As(err, &pe) || pe.Code != "57014" {
			t.Errorf("the statement writing temporary files: want it canceled (57014), got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the statement writing temporary files goes on while read-only")
	}
	_, err = c.Exec(ctxT(t), "SELECT count(*) FROM (SELECT g FROM generate_series(1, 100000) g ORDER BY g DESC OFFSET 0) s")
	if !errors.As(err, &pe) || pe.Code != "53400" {
		t.Errorf("a new SELECT spilling to temporary files while read-only: want 53400 (temp_file_limit), got %v", err)
	}
}
