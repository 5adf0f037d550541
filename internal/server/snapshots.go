package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/borealis-db/borealis/internal/backup"
	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/rds"
	"github.com/borealis-db/borealis/internal/reconcile"
	"github.com/borealis-db/borealis/internal/snapshot"
	"github.com/borealis-db/borealis/internal/store"
)

// snapshots joins DB cluster snapshots to the backup manager: the snapshot worker's
// engine (snapshot.Engine) and the RDS API's view of automated backups (rds.Backups).
type snapshots struct {
	st      *store.Store
	m       *backup.Manager
	rec     *reconcile.Reconciler
	dataDir string
	log     *slog.Logger
	worker  *snapshot.Worker

	// sets caches each repository's automated sets briefly: reading one runs pgBackRest,
	// and the console's Snapshots page asks every few seconds.
	mu   sync.Mutex
	sets map[string]cachedSets // resource id →
}

type cachedSets struct {
	at   time.Time
	sets []backup.Set
}

// setsFresh is how long a repository's sets are answered from the cache.
const setsFresh = 5 * time.Second

func newSnapshots(st *store.Store, m *backup.Manager, rec *reconcile.Reconciler, dataDir string, log *slog.Logger) *snapshots {
	s := &snapshots{st: st, m: m, rec: rec, dataDir: dataDir, log: log, sets: map[string]cachedSets{}}
	s.worker = snapshot.New(st, s, rec.Notify, log)
	return s
}

// Wake asks the worker for a pass: a snapshot is to be made, copied or deleted.
func (s *snapshots) Wake() { s.worker.Wake() }

// Progress is how far the engine got with snapshot id (0 when it is not at work on it).
func (s *snapshots) Progress(id string) int {
	if p := s.m.SnapshotStatus(id); p.Phase == backup.PhaseRunning {
		return min(p.Percent, 99)
	}
	return 0
}

// Source is a manual snapshot as RestoreDBClusterFromSnapshot needs it: its data's id in
// the backup manager, the snapshotted cluster's record, whether it is complete.
func (s *snapshots) Source(ctx context.Context, id string) (rds.SnapshotSource, error) {
	snap, err := s.st.ClusterSnapshot(ctx, id)
	if err != nil {
		return rds.SnapshotSource{}, err
	}
	return rds.SnapshotSource{BackupID: snap.ResourceID, Source: snap.Source, Available: snap.Status == store.StatusAvailable}, nil
}

// repoCluster is what the manager needs to read cluster c's repository.
func (s *snapshots) repoCluster(c store.Cluster) backup.Cluster {
	return backup.Cluster{ResourceID: c.ResourceID, OSUser: engine.TenantUser(c.ResourceID),
		VolumeDir: filepath.Join(s.dataDir, "clusters", c.ResourceID)}
}

// Automated lists each cluster's automated backups as automated snapshots. A deleted
// cluster's go with it (Aurora's default, DeleteAutomatedBackups true).
func (s *snapshots) Automated(ctx context.Context) ([]store.ClusterSnapshot, error) {
	clusters, err := s.st.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.ClusterSnapshot
	for _, c := range clusters {
		if !c.VolumeReady {
			continue
		}
		sets, err := s.automatedSets(ctx, c)
		if err != nil {
			// A repository not made yet holds no backup; the failure is the backups' to report.
			s.log.Debug("automated snapshots: repository unreadable", "cluster", c.ID, "err", err)
			continue
		}
		out = append(out, automatedSnapshots(c, sets)...)
	}
	return out, nil
}

// automatedSnapshots are c's automated backups as snapshots, each with the tags it was
// taken with. Names are to the minute and the reconciler never begins two backups in one
// minute; should a repository still hold two (made before it kept to that), the later
// ones are told apart by "-2", "-3", ... in the order they began, never by sharing a name.
func automatedSnapshots(c store.Cluster, sets []backup.Set) []store.ClusterSnapshot {
	var out []store.ClusterSnapshot
	seen := map[string]int{}
	sets = slices.Clone(sets)
	slices.SortStableFunc(sets, func(a, b backup.Set) int { return a.Start.Compare(b.Start) })
	for _, set := range sets {
		if set.Kind != backup.KindAutomated {
			continue
		}
		name := store.AutomatedSnapshotName(c.ID, set.Start)
		if seen[name]++; seen[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, seen[name])
		}
		var tags []store.Tag
		for _, t := range set.Tags {
			tags = append(tags, store.Tag{Key: t.Key, Value: t.Value})
		}
		out = append(out, store.ClusterSnapshot{ID: name, ResourceID: set.Label, Type: store.SnapshotAutomated, Source: c,
			Status: store.StatusAvailable, PercentProgress: 100, CreatedAt: set.Stop.UTC(), Tags: tags})
	}
	return out
}

// automatedSets are the sets in c's repository, read at most setsFresh ago.
func (s *snapshots) automatedSets(ctx context.Context, c store.Cluster) ([]backup.Set, error) {
	now := time.Now()
	s.mu.Lock()
	cached, ok := s.sets[c.ResourceID]
	for id, e := range s.sets {
		if now.Sub(e.at) > setsFresh {
			delete(s.sets, id) // also forgets deleted clusters
		}
	}
	s.mu.Unlock()
	if ok && now.Sub(cached.at) <= setsFresh {
		return cached.sets, nil
	}
	if sets, ok := s.rec.BackupSets(c.ID); ok {
		return sets, nil // the reconciler's read: no pgBackRest run of its own
	}
	info, err := s.m.Info(ctx, s.repoCluster(c))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.sets[c.ResourceID] = cachedSets{at: now, sets: info.Sets}
	s.mu.Unlock()
	return info.Sets, nil
}

// Take makes snapshot id of c from its running writer, or from its data served locally
// when no writer runs (see reconcile.SnapshotFrom).
func (s *snapshots) Take(ctx context.Context, c store.Cluster, id string) (time.Time, error) {
	if p := s.m.SnapshotStatus(id); p.Phase == backup.PhaseComplete {
		return p.Time, nil // made before a crash left the record creating
	}
	var at time.Time
	err := s.rec.SnapshotFrom(ctx, c, func(ctx context.Context, bc backup.Cluster) error {
		p, err := s.m.TakeSnapshot(ctx, bc, id)
		switch {
		case errors.Is(err, backup.ErrExists):
			p, err = s.m.SnapshotStatus(id), nil
		case errors.Is(err, backup.ErrBusy):
			err = fmt.Errorf("%w: %w", snapshot.ErrLater, err)
		}
		at = p.Time
		return err
	})
	if errors.Is(err, reconcile.ErrWriterStarting) {
		err = fmt.Errorf("%w: %w", snapshot.ErrLater, err)
	}
	return at, err
}

// Copy copies snapshot from to to; a copy complete already is done.
func (s *snapshots) Copy(ctx context.Context, from, to string) error {
	if err := s.m.CopySnapshot(ctx, from, to); err != nil && !errors.Is(err, backup.ErrExists) {
		return err
	}
	return nil
}

// Delete removes snapshot id's data.
func (s *snapshots) Delete(ctx context.Context, id string) error { return s.m.DeleteSnapshot(ctx, id) }
