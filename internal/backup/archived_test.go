package backup

import (
	"context"
	"testing"
	"time"
)

// LastArchived reads from the repository's directory what `pgbackrest info` tells of the
// newest segment: serve learns LatestRestorableTime without running pgBackRest, and sees
// each newly archived segment.
func TestLastArchivedAgreesWithInfo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst := newInstallation(t)
	cl := inst.cluster(t, "arch")
	if _, ok := inst.m.LastArchived(cl.c); ok {
		t.Fatal("a repository not made yet has archived WAL")
	}
	inst.create(t, ctx, cl)
	inst.archived(t, ctx, cl)
	first, ok := inst.m.LastArchived(cl.c)
	if !ok {
		t.Fatal("no archived WAL found")
	}
	info, err := inst.m.Info(ctx, cl.c)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Equal(info.LastArchived) {
		t.Fatalf("LastArchived %v, info says %v", first, info.LastArchived)
	}
	time.Sleep(10 * time.Millisecond) // file times are to the nanosecond here; make them differ
	sqlExec(t, ctx, inst.conn(t, ctx, cl), "CREATE TABLE public.more (n int)")
	inst.archived(t, ctx, cl)
	if next, ok := inst.m.LastArchived(cl.c); !ok || !next.After(first) {
		t.Fatalf("after another segment: %v (%v), before %v", next, ok, first)
	}
}
