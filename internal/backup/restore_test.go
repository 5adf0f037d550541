package backup

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/jackc/pgx/v5"
)

// rekeyTo gives the restored server's rdsadmin the new cluster's password.
func rekeyTo(password string) func(context.Context, *pgx.Conn) error {
	return func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, fmt.Sprintf("ALTER ROLE rdsadmin PASSWORD '%s'", password))
		return err
	}
}

// The test: rows, note the time, more rows, drop the table; a new cluster restored
// to the noted time holds exactly the first rows, the table present.
func TestRestoreToPointInTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst := newInstallation(t)
	src := inst.cluster(t, "src")
	inst.create(t, ctx, src)
	if _, err := inst.m.Backup(ctx, src.c); err != nil {
		t.Fatal(err)
	}
	c := inst.conn(t, ctx, src)
	sqlExec(t, ctx, c, "CREATE TABLE public.notes (n int)")
	sqlExec(t, ctx, c, "INSERT INTO public.notes SELECT generate_series(1, 3)")
	var noted time.Time
	if err := c.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&noted); err != nil {
		t.Fatal(err)
	}
	sqlExec(t, ctx, c, "INSERT INTO public.notes SELECT generate_series(4, 6)")
	sqlExec(t, ctx, c, "DROP TABLE public.notes")
	inst.archived(t, ctx, src)

	info, err := inst.m.Info(ctx, src.c)
	if err != nil {
		t.Fatal(err)
	}
	if info.EarliestRestorable.IsZero() || info.LatestRestorable.Before(noted) {
		t.Fatalf("restorable window %v - %v does not cover %v", info.EarliestRestorable, info.LatestRestorable, noted)
	}

	dst := inst.cluster(t, "dst")
	if err := inst.driver.PrepareVolume(ctx, dst.spec); err != nil {
		t.Fatal(err)
	}
	err = inst.m.Restore(ctx, RestoreRequest{SourceResourceID: src.c.ResourceID, Time: noted, Into: dst.c,
		Rekey: rekeyTo(dst.spec.AdminPassword)})
	if err != nil {
		t.Fatal(err)
	}
	if p := inst.m.RestoreStatus(dst.c.ResourceID); p.Phase != PhaseComplete {
		t.Fatalf("restore status %+v, want complete", p)
	}
	startRestored(t, ctx, inst, dst)
	rc := inst.conn(t, ctx, dst)
	var n, sum int
	if err := rc.QueryRow(ctx, "SELECT count(*), sum(n) FROM public.notes").Scan(&n, &sum); err != nil {
		t.Fatalf("the table is not there: %v", err)
	}
	if n != 3 || sum != 6 {
		t.Fatalf("restored %d rows summing to %d, want the first 3 (1+2+3)", n, sum)
	}
}

// startRestored starts a restored volume as the engine would: Create finds it made.
func startRestored(t *testing.T, ctx context.Context, inst *installation, cl *cluster) {
	t.Helper()
	if err := inst.driver.Create(ctx, cl.spec, engine.Bootstrap{MasterUsername: "master",
		MasterPasswordVerifier: "md5" + "00000000000000000000000000000000"}); err != nil {
		t.Fatal(err)
	}
	if err := inst.m.Prepare(ctx, cl.c); err != nil {
		t.Fatal(err)
	}
	if err := inst.driver.Start(ctx, cl.spec); err != nil {
		t.Fatalf("%v; log:\n%s", err, tail(cl.spec.LogFile))
	}
}
