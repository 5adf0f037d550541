// Package snapshot makes, copies and deletes the DB cluster snapshots the RDS API asked for
// (store.ClusterSnapshot), through the backup engine. Every step is idempotent and a
// snapshot is available only once the engine says its data is complete, so that a kill -9
// at any moment converges on the next start: what was being made is made again, never
// shown half-made.
package snapshot

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// Engine is the backup engine as snapshots use it (internal/backup's snapshots, named by
// the snapshot's ResourceID).
type Engine interface {
	// Take makes snapshot id of cluster c's data and says the moment its data is of.
	// Called again for the same id after a crash, it starts over, or answers for the
	// complete one; only a complete snapshot is answered without an error.
	Take(ctx context.Context, c store.Cluster, id string) (at time.Time, err error)
	// Copy copies the complete snapshot from to the new id to (a no-op once to is complete).
	Copy(ctx context.Context, from, to string) error
	// Delete removes snapshot id, complete or not. Idempotent.
	Delete(ctx context.Context, id string) error
}

// ErrLater is what an Engine's error wraps when the step may succeed later (another backup
// of the cluster runs, its writer is starting): the snapshot stays as it is and is retried.
var ErrLater = errors.New("snapshot: not now")

// Worker carries out the snapshots' statuses: creating, copying and deleting.
type Worker struct {
	st       *store.Store
	eng      Engine
	log      *slog.Logger
	done     func() // wakes the reconciler: a cluster's deletion may wait for its final snapshot
	wake     chan struct{}
	interval time.Duration
}

// New returns a worker; Run runs it. done is called after a snapshot is made.
func New(st *store.Store, eng Engine, done func(), log *slog.Logger) *Worker {
	return &Worker{st: st, eng: eng, log: log, done: done, wake: make(chan struct{}, 1), interval: 10 * time.Second}
}

// Wake asks for a pass soon.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run makes passes until ctx ends: at once, on Wake, and every interval (a failed step is
// retried then).
func (w *Worker) Run(ctx context.Context) {
	for {
		if err := w.Pass(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("snapshot pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-time.After(w.interval):
		}
	}
}

// Pass carries out every snapshot's pending step once.
func (w *Worker) Pass(ctx context.Context) error {
	snaps, err := w.st.ClusterSnapshots(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, snap := range snaps {
		var err error
		switch snap.Status {
		case store.StatusCreating:
			err = w.take(ctx, snap)
		case store.StatusCopying:
			err = w.copy(ctx, snap)
		case store.StatusDeleting:
			err = w.delete(ctx, snap)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cluster is the snapshot's cluster as it is now, or as it was if it is gone.
func (w *Worker) cluster(ctx context.Context, snap store.ClusterSnapshot) (store.Cluster, error) {
	c, err := w.st.Cluster(ctx, snap.Source.ID)
	if errors.Is(err, store.ErrNotFound) || err == nil && c.ResourceID != snap.Source.ResourceID {
		return snap.Source, nil
	}
	return c, err
}

// finish sets what fn sets on the snapshot if it is still in status from: a delete that
// came meanwhile is not undone.
func (w *Worker) finish(ctx context.Context, id string, from store.Status, fn func(*store.ClusterSnapshot)) (bool, error) {
	changed := false
	_, err := w.st.UpdateClusterSnapshot(ctx, id, func(s *store.ClusterSnapshot) error {
		if s.Status == from {
			fn(s)
			changed = true
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return changed, err
}

func (w *Worker) take(ctx context.Context, snap store.ClusterSnapshot) error {
	c, err := w.cluster(ctx, snap)
	if err != nil {
		return err
	}
	at, err := w.eng.Take(ctx, c, snap.ResourceID)
	if err != nil {
		if ctx.Err() != nil || snap.Final || errors.Is(err, ErrLater) {
			// Retried on a later pass. A final snapshot is tried until it is made: the
			// cluster's data waits for it.
			return err
		}
		w.log.Warn("cluster snapshot failed", "snapshot", snap.ID, "cluster", c.ID, "err", err)
		_, ferr := w.finish(ctx, snap.ID, store.StatusCreating, func(s *store.ClusterSnapshot) {
			s.Status, s.StatusReason = store.StatusFailed, "the backup engine could not make the snapshot"
		})
		return errors.Join(err, ferr)
	}
	made, err := w.finish(ctx, snap.ID, store.StatusCreating, func(s *store.ClusterSnapshot) {
		s.CreatedAt, s.Status, s.PercentProgress = at.UTC(), store.StatusAvailable, 100
	})
	if err != nil || !made {
		return err
	}
	w.log.Info("cluster snapshot available", "snapshot", snap.ID, "cluster", c.ID)
	if err := w.st.AddEvent(ctx, rdsevent.SnapshotCreated.New(snap.ID, time.Now())); err != nil {
		w.log.Error("rds event", "snapshot", snap.ID, "err", err)
	}
	if w.done != nil {
		w.done()
	}
	return nil
}

func (w *Worker) copy(ctx context.Context, snap store.ClusterSnapshot) error {
	if err := w.eng.Copy(ctx, snap.CopyFrom, snap.ResourceID); err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrLater) {
			return err
		}
		w.log.Warn("cluster snapshot copy failed", "snapshot", snap.ID, "source", snap.CopyOf, "err", err)
		_, ferr := w.finish(ctx, snap.ID, store.StatusCopying, func(s *store.ClusterSnapshot) {
			s.Status, s.StatusReason = store.StatusFailed, "the backup engine could not copy the snapshot"
		})
		return errors.Join(err, ferr)
	}
	_, err := w.finish(ctx, snap.ID, store.StatusCopying, func(s *store.ClusterSnapshot) {
		s.Status, s.PercentProgress = store.StatusAvailable, 100
	})
	if err == nil {
		w.log.Info("cluster snapshot copied", "snapshot", snap.ID, "source", snap.CopyOf)
	}
	return err
}

func (w *Worker) delete(ctx context.Context, snap store.ClusterSnapshot) error {
	// A copy being made from it reads its data: it goes once the copy is done.
	if busy, err := w.st.CopiesUnderway(ctx, snap.ResourceID); err != nil || busy {
		return err
	}
	if err := w.eng.Delete(ctx, snap.ResourceID); err != nil {
		return err
	}
	if err := w.st.DeleteClusterSnapshot(ctx, snap.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.log.Info("cluster snapshot deleted", "snapshot", snap.ID)
	return nil
}
