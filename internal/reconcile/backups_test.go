package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/borealis-db/borealis/internal/backup"
	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/store"
)

// fakeRepo is a backup engine that keeps sets in memory and counts its pgBackRest runs.
type fakeRepo struct {
	mu       sync.Mutex
	now      func() time.Time
	sets     map[string][]backup.Set // resource id →
	reads    int                     // Info, and the read Expire makes
	backups  int
	failRead bool
	forget   error // what Forget answers
	// archivedKnown: LastArchived answers from the repository's directory (a local one);
	// else the writer's archiver is asked (an S3 one).
	archivedKnown bool
	archivedAhead time.Duration // how far LastArchived's file time lies ahead of the clock
	dirReads      int
	due           func(last time.Time) bool // nil: none yet, or a day old
}

func (f *fakeRepo) Settings(backup.Cluster, string) map[string]string { return nil }
func (f *fakeRepo) Prepare(context.Context, backup.Cluster) error     { return nil }
func (f *fakeRepo) Restore(context.Context, backup.RestoreRequest) error {
	return nil
}
func (f *fakeRepo) Retire(context.Context, backup.Cluster) error { return nil }
func (f *fakeRepo) LastArchived(backup.Cluster) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dirReads++
	if !f.archivedKnown {
		return time.Time{}, false
	}
	if f.archivedAhead != 0 {
		return f.now().Add(f.archivedAhead), true
	}
	return f.now().Add(-time.Second), true
}
func (f *fakeRepo) Forget(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forget
}

func (f *fakeRepo) Backup(_ context.Context, c backup.Cluster) (backup.Set, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backups++
	now := f.now()
	s := backup.Set{Label: now.Format("20060102-150405F"), Kind: backup.KindAutomated, Start: now, Stop: now.Add(time.Second), Tags: c.Tags}
	f.sets[c.ResourceID] = append(f.sets[c.ResourceID], s)
	return s, nil
}

func (f *fakeRepo) Info(_ context.Context, c backup.Cluster) (backup.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.failRead {
		return backup.Info{}, errors.New("repository unreadable")
	}
	sets := f.sets[c.ResourceID]
	info := backup.Info{Sets: append([]backup.Set(nil), sets...)}
	if n := len(sets); n > 0 {
		info.EarliestRestorable, info.LastBackup = sets[0].Stop, sets[n-1].Stop
		info.LatestRestorable = info.LastBackup
	}
	return info, nil
}

func (f *fakeRepo) Expire(context.Context, backup.Cluster, int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++ // pgBackRest's expire reads the repository's catalogue first
	return nil, nil
}

func (f *fakeRepo) Due(last time.Time, _ string) bool {
	if f.due != nil {
		return f.due(last)
	}
	return last.IsZero() || f.now().Sub(last) >= 24*time.Hour
}

func (f *fakeRepo) counts() (reads, backups int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads, f.backups
}

// unreachable is a driver whose servers cannot be reached: the archiver reads nothing.
// It counts the attempts.
type unreachable struct {
	engine.Driver
	connects *atomic.Int64
}

func (u unreachable) Connect(context.Context, engine.Spec, string) (*pgx.Conn, error) {
	u.connects.Add(1)
	return nil, errors.New("not reachable")
}

// backupRig is a reconciler with clusters whose writers are up, its clock moved by hand.
type backupRig struct {
	r        *Reconciler
	repo     *fakeRepo
	connects atomic.Int64
	writer   engine.Spec // a data directory with an empty pg_wal/archive_status
	clusters []store.Cluster
	mu       sync.Mutex
	clock    time.Time
}

func newBackupRig(t testing.TB, n int) *backupRig {
	g := &backupRig{clock: time.Date(2026, 12, 5, 6, 0, 5, 0, time.UTC)}
	now := func() time.Time { g.mu.Lock(); defer g.mu.Unlock(); return g.clock }
	g.repo = &fakeRepo{now: now, sets: map[string][]backup.Set{}}
	g.r = New(Config{DataDir: t.TempDir(), Backups: g.repo, Now: now}, nil, unreachable{connects: &g.connects}, nil, slog.New(slog.DiscardHandler))
	g.writer.DataDir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(g.writer.DataDir, "pg_wal", "archive_status"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		g.clusters = append(g.clusters, store.Cluster{ID: fmt.Sprintf("c%d", i), ResourceID: fmt.Sprintf("cluster-%d", i),
			PreferredBackupWindow: "06:00-06:30"})
	}
	return g
}

// tick moves the clock by d and runs every cluster's backup pass that is due, as the
// cluster workers do on each of their passes.
func (g *backupRig) tick(d time.Duration) {
	g.mu.Lock()
	g.clock = g.clock.Add(d)
	g.mu.Unlock()
	for _, c := range g.clusters {
		g.r.keepBackedUp(context.Background(), c, g.writer)
	}
	g.r.wg.Wait()
}

// An idle cluster's repository is read when serve first looks, after each backup, and then
// every repoReadEvery, not at each 30-second pass; a read that failed, or any failure
// shown, has it read again at the next pass, so a fixed repository is seen at once.
func TestRepositoryIsReadAfterChangesAndOtherwiseSeldom(t *testing.T) {
	g := newBackupRig(t, 1)
	g.tick(0)
	if reads, backups := g.repo.counts(); backups != 1 || reads != 3 {
		t.Fatalf("first pass: %d reads, %d backups; want the read, the creation backup, the read after it and the expiry's", reads, backups)
	}
	if v, ok := g.r.Backups("c0"); !ok || v.Earliest.IsZero() || len(v.Failures) != 0 {
		t.Fatalf("view after the first pass: %+v %v", v, ok)
	}
	before, _ := g.repo.counts()
	for elapsed := backupCheckEvery; elapsed < repoReadEvery; elapsed += backupCheckEvery {
		g.tick(backupCheckEvery)
	}
	if reads, _ := g.repo.counts(); reads != before {
		t.Fatalf("%d reads while nothing changed, before %s", reads-before, repoReadEvery)
	}
	g.tick(backupCheckEvery)
	if reads, _ := g.repo.counts(); reads != before+1 {
		t.Fatalf("%d reads at %s, want 1", reads-before, repoReadEvery)
	}
	// The repository breaks: seen at the next scheduled read, then read at every pass
	// until it works again, which is seen at once.
	g.repo.failRead = true
	for elapsed := time.Duration(0); elapsed < repoReadEvery; elapsed += backupCheckEvery {
		g.tick(backupCheckEvery)
	}
	if v, _ := g.r.Backups("c0"); len(v.Failures) != 1 || v.Failures[0] != failRepo {
		t.Fatalf("broken repository: failures %v", v.Failures)
	}
	failing, _ := g.repo.counts()
	g.tick(backupCheckEvery)
	g.repo.failRead = false
	g.tick(backupCheckEvery)
	if reads, _ := g.repo.counts(); reads != failing+2 {
		t.Fatalf("%d reads in two passes while failing, want 2", reads-failing)
	}
	if v, _ := g.r.Backups("c0"); len(v.Failures) != 0 || v.Earliest.IsZero() {
		t.Fatalf("repaired repository: %+v", v)
	}
}

// Automated snapshots are named to the minute (store.AutomatedSnapshotName): a backup that
// is due again within the minute one began in (a retry, a creation backup followed by the
// window's) waits for the next minute, so no two share a name.
func TestAutomatedBackupsNeverShareAName(t *testing.T) {
	g := newBackupRig(t, 1)
	g.repo.due = func(time.Time) bool { return true } // always due: the worst case
	for i := 0; i < 12; i++ {
		g.tick(10 * time.Second)
	}
	names := map[string]bool{}
	for _, s := range g.repo.sets["cluster-0"] {
		n := store.AutomatedSnapshotName("c0", s.Start)
		if names[n] {
			t.Fatalf("two automated backups named %s", n)
		}
		names[n] = true
	}
	if _, backups := g.repo.counts(); backups != 2 {
		t.Fatalf("%d backups in two minutes of always-due passes, want one a minute", backups)
	}
}

// An automated backup of a cluster that copies its tags to snapshots carries them; of one
// that does not, none.
func TestAutomatedBackupsCarryTheClusterTags(t *testing.T) {
	g := newBackupRig(t, 2)
	g.clusters[0].Tags = []store.Tag{{Key: "team", Value: "a"}}
	g.clusters[0].CopyTagsToSnapshot = true
	g.clusters[1].Tags = []store.Tag{{Key: "team", Value: "b"}}
	g.tick(0)
	if s := g.repo.sets["cluster-0"]; len(s) != 1 || len(s[0].Tags) != 1 || s[0].Tags[0] != (backup.Tag{Key: "team", Value: "a"}) {
		t.Fatalf("copying cluster's backup: %+v", s)
	}
	if s := g.repo.sets["cluster-1"]; len(s) != 1 || len(s[0].Tags) != 0 {
		t.Fatalf("non-copying cluster's backup: %+v", s)
	}
}

// Between repository reads, a local repository's archive directory gives the newest
// archived segment and the writer's archive_status shows nothing waiting: the writer is
// not asked. When a segment has waited too long, it is.
func TestArchiverIsAskedOnlyWhenASegmentWaits(t *testing.T) {
	g := newBackupRig(t, 1)
	g.repo.archivedKnown = true
	g.tick(0)
	for i := 0; i < 10; i++ {
		g.tick(backupCheckEvery)
	}
	if n := g.connects.Load(); n != 0 {
		t.Fatalf("the writer was asked %d times with nothing waiting", n)
	}
	if v, _ := g.r.Backups("c0"); !v.Latest.After(v.LastBackup) {
		t.Fatalf("LatestRestorableTime %v not past the backup %v: the archive directory was not read", v.Latest, v.LastBackup)
	}
	ready := filepath.Join(g.writer.DataDir, "pg_wal", "archive_status", "000000010000000000000007.ready")
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	g.tick(backupCheckEvery)
	if n := g.connects.Load(); n != 0 {
		t.Fatalf("asked at once about a segment just finished")
	}
	old := time.Now().Add(-2 * archiveWait)
	if err := os.Chtimes(ready, old, old); err != nil {
		t.Fatal(err)
	}
	g.tick(backupCheckEvery)
	if n := g.connects.Load(); n != 1 {
		t.Fatalf("asked %d times about a segment waiting %s, want 1", n, 2*archiveWait)
	}
}

// BenchmarkIdleClusterBackupChecks counts what N idle clusters cost per minute over a
// simulated day of 30-second passes with one automated backup each: repository reads
// (pgBackRest runs that read its catalogue: info, and expire's own read), connections to
// the writer for pg_stat_archiver, and directory reads. "before" is the schedule before
// (a read and a query at each pass), "now" the current one. Multiplied by what each costs
// (BenchmarkRepositoryReadCost in internal/backup), the ratio is the saving
// (bench/backupchecks.sh).
func BenchmarkIdleClusterBackupChecks(b *testing.B) {
	const clusters = 50
	for _, bc := range []struct {
		name  string
		every time.Duration
		dir   bool
	}{{"before", backupCheckEvery, false}, {"now", 0, true}} {
		b.Run(bc.name, func(b *testing.B) {
			var reads, queries, dirs float64
			for i := 0; i < b.N; i++ {
				g := newBackupRig(b, clusters)
				g.r.bk.repoEvery = bc.every
				g.repo.archivedKnown = bc.dir
				passes := int(24 * time.Hour / backupCheckEvery)
				for p := 0; p < passes; p++ {
					g.tick(backupCheckEvery)
				}
				n, _ := g.repo.counts()
				const mins = clusters * 24 * 60
				reads, queries = float64(n)/mins, float64(g.connects.Load())/mins
				dirs = 0
				if bc.dir {
					dirs = float64(g.repo.dirReads) / mins
				}
			}
			b.ReportMetric(reads, "reads/cluster-min")
			b.ReportMetric(queries, "queries/cluster-min")
			b.ReportMetric(dirs, "dirreads/cluster-min")
		})
	}
}

// A deleted cluster whose backups cannot be removed (an unreachable bucket) stays
// deleting and says why through DescribeDBClusters' StatusInfos; once removal works the
// cluster's backup state goes with it.
func TestAFailedRemovalOfBackupsIsVisible(t *testing.T) {
	g := newBackupRig(t, 1)
	c := g.clusters[0]
	g.repo.forget = errors.New("bucket unreachable")
	if err := g.r.retireBackups(context.Background(), c); err == nil {
		t.Fatal("retireBackups succeeded while Forget fails")
	}
	v, ok := g.r.Backups(c.ID)
	if !ok || len(v.Failures) != 1 || v.Failures[0] != failRemove {
		t.Fatalf("view while removal fails: %+v, %v; want the failure %q", v, ok, failRemove)
	}
	g.repo.forget = nil
	if err := g.r.retireBackups(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if v, ok := g.r.Backups(c.ID); ok {
		t.Fatalf("view after removal: %+v; want none", v)
	}
}

// The account can set its repository's file times: a WAL file dated in the future does not
// make LatestRestorableTime later than now.
func TestLatestRestorableTimeIsNeverInTheFuture(t *testing.T) {
	g := newBackupRig(t, 1)
	g.repo.archivedKnown, g.repo.archivedAhead = true, 24*time.Hour
	g.tick(0)
	v, ok := g.r.Backups("c0")
	if !ok || v.Latest.IsZero() {
		t.Fatalf("view: %+v %v", v, ok)
	}
	if now := g.r.cfg.Now(); v.Latest.After(now) || v.LastArchived.After(now) {
		t.Fatalf("LatestRestorableTime %v, LastArchived %v: after now (%v)", v.Latest, v.LastArchived, now)
	}
}
