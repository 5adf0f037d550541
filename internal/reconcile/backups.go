package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/borealis-db/borealis/internal/backup"
	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// Backups is the continuous backup of every cluster (backup.Manager).
type Backups interface {
	Settings(c backup.Cluster, dataDir string) map[string]string
	Prepare(ctx context.Context, c backup.Cluster) error
	Backup(ctx context.Context, c backup.Cluster) (backup.Set, error)
	Info(ctx context.Context, c backup.Cluster) (backup.Info, error)
	LastArchived(c backup.Cluster) (time.Time, bool)
	Expire(ctx context.Context, c backup.Cluster, days int) ([]string, error)
	Due(last time.Time, window string) bool
	Restore(ctx context.Context, req backup.RestoreRequest) error
	Retire(ctx context.Context, c backup.Cluster) error
	Forget(ctx context.Context, resourceID string) error
}

// backupCheckEvery is how often a cluster's backups are looked at: a backup considered,
// the newest archived segment and the segments waiting to be archived read from their
// directories (LatestRestorableTime, archiving failures). repoReadEvery is how often the repository itself is read (`pgbackrest info`, a process
// that decrypts the repository's catalogue) when nothing changed it: only Borealis' own
// backups and expiries change it, and each is followed by a read. expireEvery is how often
// retention is applied (and after each backup).
const (
	backupCheckEvery = 30 * time.Second
	repoReadEvery    = 10 * time.Minute
	expireEvery      = time.Hour
)

// BackupView is what DescribeDBClusters and /metrics say about a cluster's backups: the
// restorable window (zero when unknown), the last backup, and what fails, if anything.
type BackupView struct {
	Earliest, Latest time.Time
	LastBackup       time.Time
	LastArchived     time.Time
	// Failures say what fails now (none when backups and archiving work): no secret and
	// no pgBackRest text, which may quote paths; the log has the details.
	Failures []string
}

// backupState is one cluster's backup worker's, in memory: serve rebuilds it from the
// repository after a restart.
type backupState struct {
	running  bool
	prepared bool
	checked  time.Time
	expired  time.Time // when retention was last applied
	repo     repoRead
	view     BackupView
}

// repoRead is the repository as last read, and when; a zero at has it read at the next pass.
type repoRead struct {
	info backup.Info
	at   time.Time
}

type backupStates struct {
	mu sync.Mutex
	m  map[string]*backupState // cluster id →
	// repoEvery overrides repoReadEvery (0: that); the benchmark's baseline reads at
	// every pass, as Borealis did before.
	repoEvery time.Duration
}

func (b *backupStates) readEvery() time.Duration {
	if b.repoEvery > 0 {
		return b.repoEvery
	}
	return repoReadEvery
}

// Backup failures, each said once.
const (
	failBackup    = "automated backup failed"
	failArchive   = "WAL archiving is failing"
	failRepoFull  = "the backup repository is full"
	failPrepare   = "the backup repository cannot be set up"
	failRepo      = "the backup repository cannot be read"
	failRetention = "expiring old backups failed"
	failRemove    = "removing the deleted cluster's backups failed"
)

// backupCluster is c's side of the backup package, with its writer's server spec.
func (r *Reconciler) backupCluster(c store.Cluster, spec engine.Spec) backup.Cluster {
	return backup.Cluster{ResourceID: c.ResourceID, OSUser: spec.OSUser, VolumeDir: r.clusterDir(c),
		DataDir: spec.DataDir, SocketDir: spec.SocketDir, Port: spec.Port, AdminPassword: c.AdminPassword}
}

// archiveSettings are the settings every server of c runs with (spec is that server's).
func (r *Reconciler) archiveSettings(c store.Cluster, spec engine.Spec) map[string]string {
	if r.cfg.Backups == nil {
		return nil
	}
	return r.cfg.Backups.Settings(r.backupCluster(c, spec), spec.DataDir)
}

// Backups reports cluster id's backups as last seen; false before they were read.
func (r *Reconciler) Backups(id string) (BackupView, bool) {
	r.bk.mu.Lock()
	defer r.bk.mu.Unlock()
	st := r.bk.m[id]
	if st == nil || st.checked.IsZero() {
		return BackupView{}, false
	}
	return st.view, true
}

// BackupSets are the sets in cluster id's repository as last read (every backup and
// expiry is followed by a read); false when there is no read to answer from.
func (r *Reconciler) BackupSets(id string) ([]backup.Set, bool) {
	r.bk.mu.Lock()
	defer r.bk.mu.Unlock()
	st := r.bk.m[id]
	if st == nil || st.repo.at.IsZero() {
		return nil, false
	}
	return slices.Clone(st.repo.info.Sets), true
}

// keepBackedUp starts cluster c's backup pass unless one runs or ran recently: it runs
// beside the cluster's worker, whose passes a backup of minutes must not hold up.
func (r *Reconciler) keepBackedUp(ctx context.Context, c store.Cluster, writer engine.Spec) {
	if r.cfg.Backups == nil {
		return
	}
	now := r.cfg.Now()
	r.bk.mu.Lock()
	if r.bk.m == nil {
		r.bk.m = map[string]*backupState{}
	}
	st := r.bk.m[c.ID]
	if st == nil {
		st = &backupState{}
		r.bk.m[c.ID] = st
	}
	if st.running || (!st.checked.IsZero() && now.Sub(st.checked) < backupCheckEvery) {
		r.bk.mu.Unlock()
		return
	}
	st.running = true
	prepared, expire, repo := st.prepared, now.Sub(st.expired) >= expireEvery, st.repo
	if len(st.view.Failures) > 0 || now.Sub(repo.at) >= r.bk.readEvery() {
		repo.at = time.Time{} // read it again: something failed, or it is time
	}
	r.bk.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		view, prepared, expired, repo := r.backupPass(ctx, c, writer, prepared, expire, repo)
		r.bk.mu.Lock()
		st.running, st.prepared, st.checked, st.view, st.repo = false, prepared, r.cfg.Now(), view, repo
		if expired {
			st.expired = st.checked
		}
		r.bk.mu.Unlock()
		r.metrics.backups(c.ID, view)
	}()
}

// backupPass sets up c's repository (once per serve), takes the automated backup that is
// due, expires what the retention period no longer covers, sees how far archiving got,
// and reads the repository when repo is not read (zero at) or a backup or an expiry
// changed it. It returns the repository as it knows it now.
func (r *Reconciler) backupPass(ctx context.Context, c store.Cluster, writer engine.Spec, prepared, expire bool, repo repoRead) (BackupView, bool, bool, repoRead) {
	b := r.cfg.Backups
	bc := r.backupCluster(c, writer)
	if c.CopyTagsToSnapshot {
		bc.Tags = backupTags(c.Tags)
	}
	var view BackupView
	fail := func(what string, err error) {
		if ctx.Err() != nil {
			return // serve is stopping: pgBackRest was stopped, nothing failed
		}
		if strings.Contains(err.Error(), "No space left on device") {
			what = failRepoFull
		}
		if !slices.Contains(view.Failures, what) {
			view.Failures = append(view.Failures, what)
		}
		r.log.Error("backup", "cluster", c.ID, "failure", what, "err", err)
	}
	if !prepared {
		if err := b.Prepare(ctx, bc); err != nil {
			fail(failPrepare, err)
			return view, false, false, repoRead{}
		}
	}
	// read reads the repository; a failed read is read again at the next pass.
	read := func() bool {
		info, err := b.Info(ctx, bc)
		if err != nil {
			repo.at = time.Time{}
			return false
		}
		repo = repoRead{info, r.cfg.Now()}
		return true
	}
	if repo.at.IsZero() {
		info, err := b.Info(ctx, bc)
		if err != nil {
			fail(failRepo, err)
			if _, err := r.archiver(ctx, writer); err != nil {
				fail(failArchive, err)
			}
			return view, true, false, repoRead{}
		}
		repo = repoRead{info, r.cfg.Now()}
	}
	now := r.cfg.Now()
	if b.Due(repo.info.LastBackup, c.PreferredBackupWindow) && !automatedNameTaken(repo.info, now) {
		// Named by when it begins (store.AutomatedSnapshotName), as RDS names them.
		r.emit(ctx, rdsevent.AutomatedCreating, store.AutomatedSnapshotName(c.ID, now))
		if set, err := b.Backup(ctx, bc); err != nil {
			fail(failBackup, err)
		} else {
			r.emit(ctx, rdsevent.AutomatedCreated, store.AutomatedSnapshotName(c.ID, set.Start))
			expire = true
			if !read() {
				// Known without a read: the next pass neither takes it again nor names
				// another backup like it.
				repo.info.Sets = append(repo.info.Sets, set)
				repo.info.LastBackup = set.Stop
			}
		}
	}
	expired := false
	if expire {
		if gone, err := b.Expire(ctx, bc, c.RetentionDays()); err != nil {
			fail(failRetention, err)
		} else {
			expired = true
			if len(gone) > 0 {
				read()
			}
		}
	}
	info := repo.info
	view.Earliest, view.Latest, view.LastBackup, view.LastArchived = info.EarliestRestorable, info.LatestRestorable, info.LastBackup, info.LastArchived
	// Between reads of the repository, its archive directory (with S3, the relay's record)
	// says how far the WAL in it goes. The writer's archiver is asked (a connection and a
	// query) only when that cannot be read or a segment has waited too long: then it says
	// whether archiving fails, and how far archive-push got.
	archived, known := b.LastArchived(bc)
	if !known || archiveWaiting(writer.DataDir, time.Now()) {
		last, err := r.archiver(ctx, writer)
		if err != nil {
			fail(failArchive, err)
		}
		if last.After(archived) {
			archived = last
		}
	}
	if archived.After(view.LastArchived) {
		view.LastArchived = archived
	}
	if !view.Earliest.IsZero() && view.LastArchived.After(view.Latest) {
		view.Latest = view.LastArchived
	}
	// File times and catalogues are the account's to write: nothing restorable is from
	// the future.
	n := r.cfg.Now()
	view.LastArchived, view.Latest = minTime(view.LastArchived, n), minTime(view.Latest, n)
	return view, true, expired, repo
}

// archiveWait is how long a finished WAL segment may wait for archive-push before the
// writer's archiver is asked whether archiving fails: pushes take seconds when they work.
const archiveWait = time.Minute

// archiveWaiting reports whether a segment of the server at dataDir has waited for
// archiving longer than archiveWait (its .ready file in pg_wal/archive_status is that old),
// or the directory cannot be read (then the archiver is asked, as if one had).
func archiveWaiting(dataDir string, now time.Time) bool {
	dir := filepath.Join(dataDir, "pg_wal", "archive_status")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".ready") {
			continue
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > archiveWait {
			return true
		}
	}
	return false
}

// automatedNameTaken reports whether an automated backup begun now could be named like
// one in the repository (store.AutomatedSnapshotName is to the minute, as RDS's names):
// one began this minute (a retry, or the creation backup), or, the clock having stepped
// back, later. The backup then waits for the next minute. pgBackRest's labels, from the
// same clock, only grow, so names made this way never meet.
func automatedNameTaken(info backup.Info, now time.Time) bool {
	this := now.UTC().Truncate(time.Minute)
	for _, s := range info.Sets {
		if s.Kind == backup.KindAutomated && !s.Start.UTC().Truncate(time.Minute).Before(this) {
			return true
		}
	}
	return false
}

// backupTags are a cluster's tags as its automated backups carry them.
func backupTags(tags []store.Tag) []backup.Tag {
	out := make([]backup.Tag, len(tags))
	for i, t := range tags {
		out[i] = backup.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// archiver reads the writer's pg_stat_archiver: when its archive_command (pgBackRest's
// archive-push) last succeeded, zero when unknown; and an error when archiving fails (its
// last failure is newer than its last success).
func (r *Reconciler) archiver(ctx context.Context, writer engine.Spec) (time.Time, error) {
	conn, err := r.driver.Connect(ctx, writer, "postgres")
	if err != nil {
		return time.Time{}, nil // the writer is not reachable now: its own status says so
	}
	defer conn.Close(context.Background())
	var failed, archived *time.Time
	var wal *string
	if err := conn.QueryRow(ctx, "SELECT last_failed_time, last_archived_time, last_failed_wal FROM pg_catalog.pg_stat_archiver").
		Scan(&failed, &archived, &wal); err != nil {
		return time.Time{}, nil
	}
	var last time.Time
	if archived != nil {
		last = archived.UTC()
	}
	if failed != nil && (archived == nil || failed.After(*archived)) {
		return last, fmt.Errorf("archive_command failed for %s at %v", deref(wal), failed.UTC())
	}
	return last, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// forgetBackups drops a deleted cluster's state.
func (r *Reconciler) forgetBackups(id string) {
	r.bk.mu.Lock()
	delete(r.bk.m, id)
	r.bk.mu.Unlock()
	r.metrics.forgetCluster(id)
}

// backupMetrics are the gauges /metrics shows per cluster.
type backupMetrics struct {
	lastBackup *prometheus.GaugeVec
	archiveLag *prometheus.GaugeVec
	failing    *prometheus.GaugeVec
}

func newBackupMetrics() backupMetrics {
	return backupMetrics{
		lastBackup: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "borealis_backup_last_success_timestamp_seconds",
			Help: "When the newest automated backup of a cluster completed."}, []string{"cluster"}),
		archiveLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "borealis_backup_archive_lag_seconds",
			Help: "How long ago the newest WAL segment of a cluster reached its backup repository, at the last check."}, []string{"cluster"}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "borealis_backup_failing",
			Help: "1 while a cluster's backups or WAL archiving fail, with what fails; 0 otherwise."}, []string{"cluster", "failure"}),
	}
}

func (m *metrics) backups(cluster string, v BackupView) {
	if !v.LastBackup.IsZero() {
		m.bk.lastBackup.WithLabelValues(cluster).Set(float64(v.LastBackup.UnixNano()) / 1e9)
	}
	if !v.LastArchived.IsZero() {
		m.bk.archiveLag.WithLabelValues(cluster).Set(time.Since(v.LastArchived).Seconds())
	}
	m.bk.failing.DeletePartialMatch(prometheus.Labels{"cluster": cluster})
	for _, f := range v.Failures {
		m.bk.failing.WithLabelValues(cluster, f).Set(1)
	}
	if len(v.Failures) == 0 {
		m.bk.failing.WithLabelValues(cluster, "").Set(0)
	}
}

func (m *metrics) forgetCluster(cluster string) {
	l := prometheus.Labels{"cluster": cluster}
	m.bk.lastBackup.DeletePartialMatch(l)
	m.bk.archiveLag.DeletePartialMatch(l)
	m.bk.failing.DeletePartialMatch(l)
}

// restoreVolume fills the volume of the restored cluster c from its source (instead of
// initdb): the account and volume directory first, then the backup package's restore,
// rekeyed with c's own rdsadmin password. Idempotent: Restore leaves a volume in place.
func (r *Reconciler) restoreVolume(ctx context.Context, c store.Cluster, spec engine.Spec) error {
	if r.cfg.Backups == nil {
		return fmt.Errorf("cluster %s is a restore, but serve runs without backups", c.ID)
	}
	if err := r.driver.PrepareVolume(ctx, spec); err != nil {
		return err
	}
	from := c.RestoredFrom
	admin := c.AdminPassword
	return r.cfg.Backups.Restore(ctx, backup.RestoreRequest{
		SourceResourceID: from.ResourceID, SnapshotID: from.SnapshotID, Time: from.Time, Latest: from.Latest,
		Into: r.backupCluster(c, spec),
		Rekey: func(ctx context.Context, conn *pgx.Conn) error {
			return engine.Rekey(ctx, conn, admin)
		},
	})
}

// retireBackups hands a deleted cluster's repository to root before its account goes, then
// removes it: RDS deletes automated backups with their cluster (DeleteAutomatedBackups'
// default, the only choice Borealis offers). Snapshots are kept apart and stay.
func (r *Reconciler) retireBackups(ctx context.Context, c store.Cluster) error {
	if r.cfg.Backups == nil {
		return nil
	}
	bc := r.backupCluster(c, r.volumeSpec(c, 0))
	if err := r.cfg.Backups.Retire(ctx, bc); err != nil {
		return err
	}
	if err := r.cfg.Backups.Forget(ctx, c.ResourceID); err != nil {
		// Retried at every pass; meanwhile the deleting cluster says why it stays.
		r.backupsFailing(c.ID, failRemove)
		return err
	}
	r.forgetBackups(c.ID)
	return nil
}

// backupsFailing has cluster id's view say only what (its backups are no longer taken).
func (r *Reconciler) backupsFailing(id, what string) {
	r.bk.mu.Lock()
	if r.bk.m == nil {
		r.bk.m = map[string]*backupState{}
	}
	st := r.bk.m[id]
	if st == nil {
		st = &backupState{}
		r.bk.m[id] = st
	}
	st.checked, st.view = r.cfg.Now(), BackupView{Failures: []string{what}}
	view := st.view
	r.bk.mu.Unlock()
	r.metrics.backups(id, view)
}

func minTime(a, b time.Time) time.Time {
	if a.After(b) {
		return b
	}
	return a
}
