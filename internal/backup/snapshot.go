package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// snapshotRecord is kept beside a complete snapshot's repository.
type snapshotRecord struct {
	Source string    `json:"source"` // the cluster's resource id: stanza and cipher pass
	Label  string    `json:"label"`  // the set
	Time   time.Time `json:"time"`   // consistent as of
	Size   int64     `json:"size"`
}

func (m *Manager) takeSnapshot(ctx context.Context, c Cluster, id string) (Progress, error) {
	if err := c.check(); err != nil {
		return Progress{}, err
	}
	if err := checkID("snapshot id", id); err != nil {
		return Progress{}, err
	}
	defer m.locks.lock("snapshot/" + id)()
	if _, err := m.readRecord(id); err == nil {
		return Progress{}, ErrExists
	}
	defer m.locks.lock(c.ResourceID)()
	key := "snapshot/" + id
	m.ops.set(key, Progress{Phase: PhaseRunning})
	p, err := m.takeSnapshotLocked(ctx, c, id, key)
	if err != nil {
		m.ops.set(key, Progress{Phase: PhaseFailed, Err: err})
		return Progress{}, err
	}
	m.ops.drop(key)
	return p, nil
}

func (m *Manager) takeSnapshotLocked(ctx context.Context, c Cluster, id, key string) (Progress, error) {
	a, err := lookupAccount(c.OSUser)
	if err != nil {
		return Progress{}, err
	}
	partial := m.partialSnapshotPath(id)
	if err := os.RemoveAll(partial); err != nil {
		return Progress{}, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(partial) // a no-op once renamed into place
	// While the snapshot is taken, archive_command pushes to its repository too (repo2),
	// so that the set's own WAL lands there: the set is then self-contained.
	var snap repo
	if m.o.S3 == nil {
		if err := ownedDir(partial, a, 0o700); err != nil {
			return Progress{}, err
		}
		snap = repo{path: partial, pass: m.cipherPass(c.ResourceID)}
	} else {
		// In a bucket the set is made where it stays; until the record is sealed in
		// partial (root's, local) it is not complete, and what an interrupted attempt
		// left there goes first.
		if err := m.s3Remove(ctx, snapshotKey(id)); err != nil {
			return Progress{}, err
		}
		defer m.dropUnsealed(ctx, id)
		var err error
		if snap, err = m.s3SnapshotRepo(c.ResourceID, id); err != nil {
			return Progress{}, err
		}
		if err := os.Mkdir(partial, 0o700); err != nil {
			return Progress{}, fmt.Errorf("backup: %w", err)
		}
	}
	if err := m.writeConf(c, a, []repo{snap}); err != nil {
		return Progress{}, err
	}
	defer func() {
		if err := m.writeConf(c, a, nil); err != nil {
			m.log.Error("restoring the backup configuration", "cluster", c.ResourceID, "err", err)
		}
	}()
	// With S3, as root (the account holds no key) reading the data directory through the
	// account's PostgreSQL-side remote, as an automated backup does.
	conf, as, pgRemote := m.repoConf(c, a)
	inv := invocation{as: as, conf: conf, stanza: c.ResourceID}
	inv.command, inv.args = "stanza-create", append(pgRemote, "--no-online", "--pg1-path="+c.DataDir)
	if _, err := m.run(ctx, inv); err != nil {
		return Progress{}, err
	}
	done := make(chan struct{})
	go m.watch(ctx, conf, as, c.ResourceID, key, done)
	inv.command, inv.password = "backup", c.AdminPassword
	inv.args = append(append(pgRemote, connArgs(c)...), "--repo=2", "--type=full", "--archive-copy", "--repo2-bundle=y",
		"--annotation="+kindAnnotation+"="+string(KindSnapshot), "--annotation=borealis-snapshot="+id)
	_, err = m.run(ctx, inv)
	close(done)
	if err != nil {
		var re *runError
		if errors.As(err, &re) && re.code() == lockAcquireError {
			return Progress{}, ErrBusy
		}
		return Progress{}, err
	}
	in, err := m.readInfo(ctx, conf, c.ResourceID, as, "--repo=2")
	if err != nil {
		return Progress{}, err
	}
	sets := setsOf(in, nil)
	if len(sets) != 1 {
		return Progress{}, fmt.Errorf("backup: snapshot %s: its repository holds %d sets, want 1", id, len(sets))
	}
	if m.asRoot() {
		// Every object is one a copy and a restore will take: a remote the account forged
		// can make pgBackRest name one with "..", and such a snapshot is never complete.
		if _, err := m.snapshotObjects(id).files(ctx, ""); err != nil {
			return Progress{}, fmt.Errorf("backup: snapshot %s: %w", id, err)
		}
		// Nor one whose restore would write outside the data directory (manifest.go).
		if err := m.checkSetManifest(ctx, snap, c.ResourceID, sets[0].Label); err != nil {
			return Progress{}, fmt.Errorf("backup: snapshot %s: %w", id, err)
		}
	}
	rec := snapshotRecord{Source: c.ResourceID, Label: sets[0].Label, Time: sets[0].Stop, Size: sets[0].Size}
	if err := m.writeConf(c, a, nil); err != nil {
		return Progress{}, err
	}
	if m.asRoot() {
		// A relay push begun with the configuration naming the snapshot's repository ends
		// before the seal: nothing reaches a complete snapshot.
		if err := m.pushes.waitHolder(ctx, c.ResourceID); err != nil {
			return Progress{}, err
		}
	}
	return m.seal(partial, id, rec)
}

// seal makes a partial snapshot complete: its record written, the whole handed to root (the
// cluster's account can no longer change it), then renamed into place.
func (m *Manager) seal(partial, id string, rec snapshotRecord) (Progress, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return Progress{}, err
	}
	if err := writeFileAs(filepath.Join(partial, snapshotMeta), b, 0, 0, 0o600); err != nil {
		return Progress{}, err
	}
	if os.Geteuid() == 0 {
		if err := chownTree(partial, 0, 0); err != nil {
			return Progress{}, err
		}
	}
	if err := os.Rename(partial, m.snapshotPath(id)); err != nil {
		return Progress{}, fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(filepath.Dir(partial)); err != nil {
		return Progress{}, fmt.Errorf("backup: %w", err)
	}
	m.log.Info("snapshot complete", "snapshot", id, "source", rec.Source, "set", rec.Label)
	return Progress{Phase: PhaseComplete, Percent: 100, Time: rec.Time, Size: rec.Size}, nil
}

// watch copies a running backup's progress into the op table until done.
func (m *Manager) watch(ctx context.Context, conf string, as account, stanza, key string, done <-chan struct{}) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		in, err := m.readInfo(ctx, conf, stanza, as, "--repo=2")
		if err != nil {
			continue
		}
		if in.Status.Lock.Backup.Held {
			m.ops.set(key, Progress{Phase: PhaseRunning, Percent: in.percent()})
		}
	}
}

func (m *Manager) readRecord(id string) (snapshotRecord, error) {
	b, err := os.ReadFile(filepath.Join(m.snapshotPath(id), snapshotMeta))
	if errors.Is(err, fs.ErrNotExist) {
		return snapshotRecord{}, ErrNotFound
	}
	if err != nil {
		return snapshotRecord{}, fmt.Errorf("backup: %w", err)
	}
	var rec snapshotRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return snapshotRecord{}, fmt.Errorf("backup: snapshot %s: %w", id, err)
	}
	return rec, nil
}

func (m *Manager) snapshotStatus(id string) Progress {
	if p := m.ops.get("snapshot/" + id); p.Phase != PhaseNone {
		return p
	}
	rec, err := m.readRecord(id)
	if err != nil {
		return Progress{}
	}
	return Progress{Phase: PhaseComplete, Percent: 100, Time: rec.Time, Size: rec.Size}
}

func (m *Manager) snapshotSource(id string) (string, error) {
	if err := checkID("snapshot id", id); err != nil {
		return "", err
	}
	rec, err := m.readRecord(id)
	return rec.Source, err
}

func (m *Manager) copySnapshot(ctx context.Context, from, to string) error {
	if err := errors.Join(checkID("snapshot id", from), checkID("snapshot id", to)); err != nil {
		return err
	}
	if from == to {
		return ErrExists
	}
	defer m.locks.lock("snapshot/" + to)()
	rec, err := m.readRecord(from)
	if err != nil {
		return err
	}
	if _, err := m.readRecord(to); err == nil {
		return ErrExists
	}
	key := "snapshot/" + to
	m.ops.set(key, Progress{Phase: PhaseRunning})
	partial := m.partialSnapshotPath(to)
	err = func() error {
		if err := os.RemoveAll(partial); err != nil {
			return err
		}
		if m.o.S3 != nil {
			// The bucket's copy first (what an interrupted one left goes), then the record.
			if err := m.s3Remove(ctx, snapshotKey(to)); err != nil {
				return err
			}
			if err := m.s3Copy(ctx, snapshotKey(from), snapshotKey(to)); err != nil {
				return err
			}
			if err := os.Mkdir(partial, 0o700); err != nil {
				return err
			}
		} else if err := copyTree(ctx, m.snapshotPath(from), partial, -1, -1); err != nil {
			return err
		}
		_, err := m.seal(partial, to, rec)
		return err
	}()
	if err != nil {
		os.RemoveAll(partial)
		if m.o.S3 != nil {
			m.dropUnsealed(ctx, to)
		}
		m.ops.set(key, Progress{Phase: PhaseFailed, Err: err})
		return fmt.Errorf("backup: copying snapshot %s to %s: %w", from, to, err)
	}
	m.ops.drop(key)
	return nil
}

func (m *Manager) deleteSnapshot(ctx context.Context, id string) error {
	if err := checkID("snapshot id", id); err != nil {
		return err
	}
	defer m.locks.lock("snapshot/" + id)()
	m.ops.drop("snapshot/" + id)
	// The record first: a crash half-way leaves no complete-looking snapshot.
	if err := os.Remove(filepath.Join(m.snapshotPath(id), snapshotMeta)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	if m.o.S3 != nil {
		if err := m.s3Remove(ctx, snapshotKey(id)); err != nil {
			return err
		}
	}
	return errors.Join(os.RemoveAll(m.snapshotPath(id)), os.RemoveAll(m.partialSnapshotPath(id)))
}

// copyTree copies the directories and regular files under src to dst (which must not
// exist), following no link and copying nothing else; uid/gid -1 keep the copier's own.
// It never interprets what it copies, so a tree written by a cluster's account is safe to
// copy as root.
func copyTree(ctx context.Context, src, dst string, uid, gid int) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := os.Mkdir(out, 0o700); err != nil {
				return err
			}
		case d.Type().IsRegular():
			if err := copyFile(p, out); err != nil {
				return err
			}
		default:
			return nil // links, devices, sockets: never in a repository we wrote
		}
		if uid >= 0 {
			return os.Lchown(out, uid, gid)
		}
		return nil
	})
}

func copyFile(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(dst, fi.ModTime(), fi.ModTime())
	}
	return err
}
