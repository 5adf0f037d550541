// Package backup keeps every cluster's continuous backup with pgBackRest (never a backup
// tool of Borealis' own): WAL archiving from the writer, full backups, Borealis-decided
// retention, manual snapshots, and restores into a new cluster's volume. Like the engine,
// it never reads the store: every call carries what it needs (a Cluster).
//
// The contract, as the reconciler and the snapshot API use it:
//
//   - Repositories. One pgBackRest repository and stanza per cluster, named by the
//     cluster's resource id (Cluster.ResourceID, "cluster-..."): ROOT/<resource id>/ under
//     Options.Root (DATA_DIR/backups by default, `serve --backup-repo`). The directory is
//     owned by the cluster's own OS account (Cluster.OSUser), 0700: archive_command and
//     backups run as that account, so a compromised server reads and writes its own
//     cluster's backups and no other's. Every repository is encrypted (aes-256-cbc) with
//     a cipher pass derived from the installation key (Options.KeyFile, 0600, made on the
//     first start, never logged, never leaving the data directory) and the resource id:
//     HMAC-SHA256(key, "borealis backup "+resource id). The pgBackRest configuration that
//     carries it is VolumeDir/pgbackrest.conf, root's, 0640 to the cluster's group: the
//     account reads it, cannot change it, and no other account reads it.
//
//   - S3 (Options.S3). The bucket's keys reach every repository in it, so no account holds
//     them: pgBackRest runs as root with a root-only configuration per cluster (root.go);
//     archive_command hands WAL to serve over a unix socket (ListenRelay, RelayMain; the
//     peer's uid decides the stanza); backups read the data directory through pgBackRest's
//     PostgreSQL-side remote run as the account, snapshots too; restores (from a snapshot
//     too) stage what they need from the bucket, still encrypted, into the new cluster's
//     staging directory.
//
//   - Setup. Prepare(c) makes the repository, the configuration and the stanza; call it
//     once the cluster volume exists (after engine Create), before the writer starts with
//     Settings(c) (archive_mode, archive_command, archive_timeout), which every server of
//     the cluster runs with, readers included: the reader promoted by a failover archives
//     to the same stanza on its new timeline. Idempotent and crash-safe.
//
//   - Automated backups. Backup(c) takes a full backup of the running writer now (at
//     creation, then once a day inside PreferredBackupWindow: Due says when). Expire(c, days)
//     removes the automated backups older than the retention window (decided with
//     Options.Now, so a test expires without sleeping), keeping the newest one that starts
//     the window, and the WAL before it. Info(c) reads the repository: the sets, the
//     earliest and latest restorable times (zero when unknown: omit them), the last
//     archived WAL and the archive's failure, for DescribeDBClusters, status and /metrics.
//
//   - Snapshots (manual). TakeSnapshot(c, id) takes a full, self-contained backup set (its
//     WAL included) into a repository of its own, ROOT/snapshots/<id>/, outside automated
//     retention; once complete it is root's (the cluster's account can no longer touch
//     it) and it survives the cluster's deletion. SnapshotStatus(id) is its state and
//     percent done; CopySnapshot(from, to) copies a complete one to a new id;
//     DeleteSnapshot(id) removes it. A snapshot interrupted by a crash is never reported
//     complete; taking it again starts afresh. Snapshot ids are the caller's (the
//     snapshot's resource id), letters, digits and '-'. With S3 a snapshot's repository
//     is the bucket's PREFIX/snapshots/<id>/ and its record, local, says it is complete
//     (s3repo.go).
//
//   - Restore of a NEW cluster. Restore(req) fills req.Into.DataDir, a volume that does
//     not exist yet, from the source cluster's repository at a time (req.Time) or at the
//     latest restorable time (req.Latest), or from a snapshot (req.SnapshotID): pgBackRest
//     restore runs as the NEW cluster's account (req.Into.OSUser, which must exist), on a
//     private copy of the backup set and WAL it needs, then PostgreSQL replays to the
//     target and promotes; req.Rekey then gives Borealis' internal roles the new cluster's
//     secrets, and the volume is moved into place with the engine's marker, so that the
//     engine's Create finds it made. Until then nothing is at DataDir: a crash half-way
//     leaves a staging directory that the next Restore wipes. RestoreStatus says how far
//     it got.
//
//   - Deletion. Retire(c) hands the repository of a deleted cluster to root before its
//     account is removed (a later account given the same uid must not own it); Forget(id)
//     removes it when its automated backups are no longer kept (with S3, pgBackRest's
//     stanza-delete in the bucket, then root's files for the cluster; idempotent, so a
//     caller retries it until it succeeds).
package backup

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options configure the Manager for one installation.
type Options struct {
	// Root holds the local repositories: ROOT/<resource id>/ and ROOT/snapshots/<id>/.
	// Required unless S3 is set (then ROOT holds only Borealis' bookkeeping).
	Root string
	// KeyFile is the installation key (32 random bytes, hex, 0600), made when missing.
	KeyFile string
	// S3 keeps the repositories in an S3-compatible bucket instead of Root.
	S3 *S3
	// Binary is the pgbackrest program; "" finds it on PATH.
	Binary string
	// ArchiveTimeout bounds how far LatestRestorableTime trails the last write: a WAL
	// segment is archived at least this often while the cluster writes. 0: 60s.
	ArchiveTimeout time.Duration
	// PGBinDir holds postgres (for the recovery of a restore); "" is /usr/lib/postgresql/15/bin.
	PGBinDir string
	// Now is the clock retention is decided by; nil is time.Now.
	Now func() time.Time
	// RelayCommand is the program (and its first arguments) archive_command runs, as the
	// cluster's account, to hand a WAL segment to serve when S3 is set: `borealis
	// backup-relay` (RelayMain). Required with S3 when Borealis runs as root.
	RelayCommand []string
}

// S3 is an S3-compatible repository (documented in docs/backups.md). The credentials
// file holds "access_key_id=..." and "secret_access_key=..." lines and must be 0600.
type S3 struct {
	Endpoint        string // host[:port]
	Bucket          string
	Region          string
	Prefix          string // path in the bucket; repositories go below it
	URIStyle        string // "host" (default) or "path"
	CredentialsFile string
	CAFile          string // optional: the endpoint's CA bundle
	NoVerifyTLS     bool
}

// Cluster is what the Manager needs of one cluster.
type Cluster struct {
	// ResourceID names the stanza, the repository and the cipher pass. Never reused.
	ResourceID string
	// OSUser is the cluster's own account (engine.TenantUser); "" runs pgBackRest as
	// Borealis' own user (tests without root).
	OSUser string
	// VolumeDir is the cluster's volume directory (DATA_DIR/clusters/<resource id>),
	// where its pgBackRest configuration and working directory live.
	VolumeDir string
	// The running writer, for backups (pgBackRest reads DataDir and connects to the
	// socket as rdsadmin with AdminPassword, never logged).
	DataDir       string
	SocketDir     string
	Port          int
	AdminPassword string
	// Tags are what an automated backup taken now carries (Set.Tags).
	Tags []Tag
}

// Kind tells automated backups from snapshots.
type Kind string

const (
	KindAutomated Kind = "automated"
	KindSnapshot  Kind = "manual"
)

// Set is one backup set in a repository.
type Set struct {
	Label string // pgBackRest's label, e.g. 20261205-061500F
	Kind  Kind
	Start time.Time // the backup began (its data is consistent from Stop on)
	Stop  time.Time
	// Size is the database's size; RepoSize what the set takes in the repository.
	Size, RepoSize int64
	// ArchiveStart, ArchiveStop are the WAL segments the set needs to be consistent.
	ArchiveStart, ArchiveStop string
	// Tags are the tags the set was taken with (Cluster.Tags).
	Tags []Tag
}

// Info is what a cluster's repository says now.
type Info struct {
	Sets []Set // automated backups, oldest first
	// EarliestRestorable is the end of the oldest backup; LatestRestorable the last
	// archived WAL's. Zero when unknown (no backup yet): omit them in answers.
	EarliestRestorable, LatestRestorable time.Time
	// LastBackup is when the newest backup completed; zero without one.
	LastBackup time.Time
	// LastArchived is when the newest WAL segment reached the repository.
	LastArchived time.Time
	// Running is true while a backup of the stanza holds its lock; Percent is its progress.
	Running bool
	Percent int
}

// Restore request sources and targets.
type RestoreRequest struct {
	// Source is the cluster whose repository (PITR) or snapshot is restored: its
	// ResourceID names the repository and cipher pass. The source may be deleted.
	SourceResourceID string
	// SnapshotID restores a snapshot's set (consistent point, no WAL after it); ""
	// restores from the source's continuous backup to Time, or to the latest
	// restorable time when Latest.
	SnapshotID string
	Time       time.Time
	Latest     bool
	// Into is the new cluster: OSUser must exist; DataDir must not (see Restore).
	Into Cluster
	// Rekey runs on the restored, promoted server as a superuser, before it stops:
	// it gives rdsadmin and Borealis' other internal roles the new cluster's secrets.
	Rekey func(ctx context.Context, conn *pgx.Conn) error
}

// Phase is how far a snapshot or restore got.
type Phase string

const (
	PhaseNone     Phase = ""         // never started, or forgotten after a crash
	PhaseRunning  Phase = "running"  // in progress: Percent says how far
	PhaseComplete Phase = "complete" // done, usable
	PhaseFailed   Phase = "failed"   // ended with Err; taking or restoring again retries
)

// Progress of one snapshot or restore.
type Progress struct {
	Phase   Phase
	Percent int // 0-100
	Err     error
	// Time is when a complete snapshot's data is from; Size its database size.
	Time time.Time
	Size int64
}

// Errors callers tell apart.
var (
	ErrNoBackup      = errors.New("backup: no backup to restore from")
	ErrNotRestorable = errors.New("backup: time outside the restorable window")
	ErrNotFound      = errors.New("backup: no such snapshot")
	ErrExists        = errors.New("backup: snapshot already exists")
	ErrBusy          = errors.New("backup: another backup of this cluster is running")
)

// Manager runs pgBackRest for every cluster of one installation. Safe for concurrent
// use; operations on one cluster are serialised.
type Manager struct {
	log        *slog.Logger
	o          Options
	key        []byte
	bin        string
	ops        *opTable
	locks      *keyedMutex
	pushes     *tryLocks // the archive relay's, per stanza
	relayConns *uidCounts
}
