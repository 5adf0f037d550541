package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A snapshot is a set of its own, root's once complete; its copy restores like it, and both
// outlive the cluster's repository.
func TestSnapshotCopyRestoreDelete(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst := newInstallation(t)
	src := inst.cluster(t, "snap")
	inst.create(t, ctx, src)
	c := inst.conn(t, ctx, src)
	sqlExec(t, ctx, c, "CREATE TABLE public.t (n int)")
	sqlExec(t, ctx, c, "INSERT INTO public.t SELECT generate_series(1, 10)")

	p, err := inst.m.TakeSnapshot(ctx, src.c, "snap-one")
	if err != nil {
		t.Fatalf("%v; log:\n%s", err, tail(src.spec.LogFile))
	}
	if p.Phase != PhaseComplete || p.Time.IsZero() || p.Size == 0 {
		t.Fatalf("snapshot %+v", p)
	}
	sqlExec(t, ctx, c, "INSERT INTO public.t SELECT generate_series(11, 20)")
	if _, err := inst.m.TakeSnapshot(ctx, src.c, "snap-one"); !errors.Is(err, ErrExists) {
		t.Fatalf("taking it again: %v, want ErrExists", err)
	}
	if fi, err := os.Stat(inst.m.snapshotPath("snap-one")); err != nil || ownerOf(fi) != 0 {
		t.Fatalf("complete snapshot: %v, owner %d: want root's", err, ownerOf(fi))
	}
	if err := inst.m.CopySnapshot(ctx, "snap-one", "snap-two"); err != nil {
		t.Fatal(err)
	}
	if s, err := inst.m.SnapshotSource("snap-two"); err != nil || s != src.c.ResourceID {
		t.Fatalf("copy's source %q, %v", s, err)
	}
	// The cluster's own repository goes (the cluster was deleted without retained backups).
	if err := inst.m.Retire(ctx, src.c); err != nil {
		t.Fatal(err)
	}
	// Root's before the cluster's account goes: a later account given the same uid must
	// not own it.
	filepath.WalkDir(inst.m.repoPath(src.c.ResourceID), func(p string, d os.DirEntry, err error) error {
		if fi, err2 := os.Lstat(p); err == nil && err2 == nil && ownerOf(fi) != 0 {
			t.Errorf("%s still belongs to uid %d after Retire", p, ownerOf(fi))
		}
		return nil
	})
	if err := inst.m.Forget(ctx, src.c.ResourceID); err != nil {
		t.Fatal(err)
	}
	if err := inst.m.DeleteSnapshot(ctx, "snap-one"); err != nil {
		t.Fatal(err)
	}
	if p := inst.m.SnapshotStatus("snap-one"); p.Phase != PhaseNone {
		t.Fatalf("deleted snapshot: %+v", p)
	}
	dst := inst.cluster(t, "fromsnap")
	if err := inst.driver.PrepareVolume(ctx, dst.spec); err != nil {
		t.Fatal(err)
	}
	if err := inst.m.Restore(ctx, RestoreRequest{SourceResourceID: src.c.ResourceID, SnapshotID: "snap-two", Into: dst.c,
		Rekey: rekeyTo(dst.spec.AdminPassword)}); err != nil {
		t.Fatal(err)
	}
	startRestored(t, ctx, inst, dst)
	var n int
	if err := inst.conn(t, ctx, dst).QueryRow(ctx, "SELECT count(*) FROM public.t").Scan(&n); err != nil || n != 10 {
		t.Fatalf("restored %d rows (%v), want the 10 of the snapshot's time", n, err)
	}
}
