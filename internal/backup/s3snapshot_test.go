package backup

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// With a bucket, a snapshot is a repository of its own in it (PREFIX/snapshots/ID): one
// half-made by an interrupted attempt is never complete and is gone once taken again;
// a copy restores like its source; deleting one (even one whose id starts another's)
// and deleting the cluster's stanza leave nothing of them in the bucket, and no secret
// reaches the log.
func TestSnapshotsInAnS3Bucket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var logged bytes.Buffer
	inst, mem, _ := newS3Installation(t, ctx, slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug})))
	src := inst.cluster(t, "s3snap")
	inst.create(t, ctx, src)
	c := inst.conn(t, ctx, src)
	sqlExec(t, ctx, c, "CREATE TABLE public.t AS SELECT generate_series(1, 10) n")
	rid := src.c.ResourceID

	// What a kill -9 during a first attempt leaves: objects under the snapshot's path
	// and no record. It is not complete; taking it removes them.
	if _, err := mem.PutObject("borealis-backups", "site-a/snapshots/snap-a/backup/"+rid+"/stale", nil, strings.NewReader("x"), 1, nil); err != nil {
		t.Fatal(err)
	}
	if p := inst.m.SnapshotStatus("snap-a"); p.Phase != PhaseNone {
		t.Fatalf("a half-made snapshot reads %+v, want none", p)
	}
	p, err := inst.m.TakeSnapshot(ctx, src.c, "snap-a")
	if err != nil {
		t.Fatalf("%v; log:\n%s", err, tail(src.spec.LogFile))
	}
	if p.Phase != PhaseComplete || p.Time.IsZero() {
		t.Fatalf("snapshot %+v", p)
	}
	keys := strings.Join(bucketKeys(t, mem, "site-a/snapshots/snap-a/"), "\n")
	if strings.Contains(keys, "stale") || !strings.Contains(keys, "site-a/snapshots/snap-a/backup/"+rid+"/backup.info") {
		t.Fatalf("the snapshot's objects:\n%s", keys)
	}
	// The cluster's configuration no longer names the snapshot's repository.
	if b, err := os.ReadFile(confPath(src.c)); err != nil || strings.Contains(string(b), "repo2") {
		t.Fatalf("the cluster's configuration after the snapshot (%v):\n%s", err, b)
	}
	sqlExec(t, ctx, c, "INSERT INTO public.t SELECT generate_series(11, 20)")

	// The copy's id starts with the source's: deleting the source must not touch it.
	if err := inst.m.CopySnapshot(ctx, "snap-a", "snap-a-2"); err != nil {
		t.Fatal(err)
	}
	if err := inst.m.DeleteSnapshot(ctx, "snap-a"); err != nil {
		t.Fatal(err)
	}
	if left := bucketKeys(t, mem, "site-a/snapshots/snap-a/"); len(left) != 0 {
		t.Fatalf("a deleted snapshot left in the bucket:\n%s", strings.Join(left, "\n"))
	}
	if len(bucketKeys(t, mem, "site-a/snapshots/snap-a-2/")) == 0 {
		t.Fatal("deleting snap-a removed snap-a-2")
	}
	// The cluster is deleted: its stanza goes from the bucket, twice over (a retry after
	// a crash), and its snapshots stay.
	if err := inst.driver.Stop(ctx, src.spec); err != nil {
		t.Fatal(err)
	}
	// As a snapshot interrupted by a kill -9 leaves it: root's configuration for the
	// stanza names a snapshot's repository too. Forgetting the stanza must not reach it.
	snapRepo, err := inst.m.s3SnapshotRepo(rid, "snap-a-2")
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.m.writeStanzaConf(rid, []repo{snapRepo}); err != nil {
		t.Fatal(err)
	}
	if err := inst.m.Retire(ctx, src.c); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := inst.m.Forget(ctx, rid); err != nil {
			t.Fatalf("forget: %v", err)
		}
	}
	if left := bucketKeys(t, mem, "site-a/"+rid+"/"); len(left) != 0 {
		t.Fatalf("the deleted cluster's stanza left in the bucket:\n%s", strings.Join(left, "\n"))
	}
	// And root's files for it: its configuration (with the keys), the record of its
	// account, its working directory (the relay's record, pgBackRest's stop file).
	for _, p := range []string{inst.m.rootConfPath(rid), inst.m.ownerPath(rid), inst.m.rootWorkPath(rid), inst.m.pushPath(rid)} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s is left after the cluster was forgotten", p)
		}
	}

	dst := inst.cluster(t, "s3fromsnap")
	if err := inst.driver.PrepareVolume(ctx, dst.spec); err != nil {
		t.Fatal(err)
	}
	if err := inst.m.Restore(ctx, RestoreRequest{SourceResourceID: rid, SnapshotID: "snap-a-2", Into: dst.c,
		Rekey: rekeyTo(dst.spec.AdminPassword)}); err != nil {
		t.Fatal(err)
	}
	startRestored(t, ctx, inst, dst)
	var n int
	if err := inst.conn(t, ctx, dst).QueryRow(ctx, "SELECT count(*) FROM public.t").Scan(&n); err != nil || n != 10 {
		t.Fatalf("restored %d rows (%v), want the 10 of the snapshot's time", n, err)
	}
	if err := inst.m.DeleteSnapshot(ctx, "snap-a-2"); err != nil {
		t.Fatal(err)
	}
	if left := bucketKeys(t, mem, "site-a/snapshots/"); len(left) != 0 {
		t.Fatalf("deleted snapshots left in the bucket:\n%s", strings.Join(left, "\n"))
	}
	for _, secret := range []string{testS3Secret, inst.m.cipherPass(rid)} {
		if strings.Contains(logged.String(), secret) {
			t.Error("a secret reached the log")
		}
	}
}
