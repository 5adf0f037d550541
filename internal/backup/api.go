package backup

import (
	"context"
	"time"
)

// The Manager's operations, grouped as the package comment describes them. Bodies live in
// the files named after each group.

// Settings are the postgresql.conf parameters every server of c runs with (the engine
// writes them as managed settings): archive_mode, archive_command (pgbackrest
// archive-push as the cluster's account, naming dataDir, the server's own PGDATA),
// archive_timeout. archive_mode needs a restart to change.
func (m *Manager) Settings(c Cluster, dataDir string) map[string]string {
	return m.settings(c, dataDir)
}

// Prepare makes c's repository, its configuration and its stanza (from the volume's
// pg_control: the server need not run). Idempotent and crash-safe.
func (m *Manager) Prepare(ctx context.Context, c Cluster) error { return m.prepare(ctx, c) }

// Backup takes a full automated backup of c's running writer now and returns its set.
// ErrBusy when another backup of c runs.
func (m *Manager) Backup(ctx context.Context, c Cluster) (Set, error) { return m.backup(ctx, c) }

// Info reads c's repository (see Info).
func (m *Manager) Info(ctx context.Context, c Cluster) (Info, error) { return m.info(ctx, c) }

// Expire removes c's automated backups that ended before now - days, keeping the newest of
// those (the window's start needs it), and the WAL older than the oldest set kept. It
// returns the labels it removed.
func (m *Manager) Expire(ctx context.Context, c Cluster, days int) ([]string, error) {
	return m.expire(ctx, c, days)
}

// Due reports whether an automated backup should start now: none yet, or the newest is
// older than a day and now lies inside window ("hh24:mi-hh24:mi", UTC; "" any time).
func (m *Manager) Due(last time.Time, window string) bool { return m.due(last, window) }

// TakeSnapshot takes the manual snapshot id of c's running writer: a full, self-contained
// set in its own repository. Blocks until done; crash-safe (see the package comment).
// ErrExists when id is already complete.
func (m *Manager) TakeSnapshot(ctx context.Context, c Cluster, id string) (Progress, error) {
	return m.takeSnapshot(ctx, c, id)
}

// SnapshotStatus reports snapshot id: PhaseComplete (with Time and Size) for a complete one,
// PhaseRunning with Percent while TakeSnapshot or CopySnapshot makes it, PhaseFailed, or
// PhaseNone (never made, or interrupted by a crash).
func (m *Manager) SnapshotStatus(id string) Progress { return m.snapshotStatus(id) }

// CopySnapshot copies the complete snapshot from to the new id to. ErrNotFound, ErrExists.
func (m *Manager) CopySnapshot(ctx context.Context, from, to string) error {
	return m.copySnapshot(ctx, from, to)
}

// DeleteSnapshot removes snapshot id (complete or not). Idempotent.
func (m *Manager) DeleteSnapshot(ctx context.Context, id string) error {
	return m.deleteSnapshot(ctx, id)
}

// SnapshotSource is the resource id of the cluster snapshot id was taken from.
func (m *Manager) SnapshotSource(id string) (string, error) { return m.snapshotSource(id) }

// Restore fills req.Into.DataDir with the restored, promoted volume (see the package
// comment). ErrNoBackup, ErrNotRestorable, ErrNotFound (snapshot). Idempotent: a volume
// already in place is left alone.
func (m *Manager) Restore(ctx context.Context, req RestoreRequest) error { return m.restore(ctx, req) }

// RestoreStatus reports the restore into the cluster with resource id.
func (m *Manager) RestoreStatus(resourceID string) Progress {
	return m.ops.get("restore/" + resourceID)
}

// Retire hands the repository of the deleted cluster c to root, before its account goes.
func (m *Manager) Retire(ctx context.Context, c Cluster) error { return m.retire(ctx, c) }

// Forget removes the repository of the cluster with resource id (its automated backups).
func (m *Manager) Forget(ctx context.Context, resourceID string) error {
	return m.forget(ctx, resourceID)
}
