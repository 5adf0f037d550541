package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/borealis-db/borealis/internal/backup"
	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/store"
)

// ErrWriterStarting: the cluster's writer does not serve yet; a snapshot of it waits.
var ErrWriterStarting = errors.New("its writer does not serve yet")

// localRunner is a driver that can start a server on a volume for local work only
// (engine.Local.RunLocal).
type localRunner interface {
	RunLocal(ctx context.Context, s engine.Spec, fn func(context.Context) error) error
}

// SnapshotFrom runs take with a server that serves cluster c's current data, as the backup
// engine names it: its writer while that runs. When the writer is gone (a cluster without
// instances, or the final snapshot of a deleted one, whose deletion waits for it), take
// runs against a server started on the writer's data for it alone, listening on its unix
// socket only, archiving as every server of c does.
func (r *Reconciler) SnapshotFrom(ctx context.Context, c store.Cluster, take func(context.Context, backup.Cluster) error) error {
	members, err := r.store.ClusterInstances(ctx, c.ID)
	if err != nil {
		return err
	}
	spec := engine.Spec{}
	for _, m := range members {
		if !m.Writer {
			continue
		}
		spec = r.serverSpec(c, m)
		if r.driver.Status(m.ID).State == engine.StateRunning && r.driver.Accepting(spec) {
			return take(ctx, r.backupCluster(c, spec))
		}
		if m.Status != store.StatusDeleting {
			// It is starting (or restarting): the snapshot waits for it.
			return fmt.Errorf("snapshot of %s: %w (%s)", c.ID, ErrWriterStarting, m.ID)
		}
	}
	if spec.DataDir == "" {
		// No writer: its data is the cluster volume's (dropVolume moved it there).
		port, err := freePort()
		if err != nil {
			return err
		}
		spec = r.volumeSpec(c, port)
	}
	local, ok := r.driver.(localRunner)
	if !ok {
		return errors.New("snapshot: the driver cannot start a server without its instance")
	}
	spec.Archive = r.archiveSettings(c, spec)
	r.log.Info("snapshot of a cluster without a running writer: its data is served on a local socket meanwhile", "cluster", c.ID)
	return local.RunLocal(ctx, spec, func(ctx context.Context) error { return take(ctx, r.backupCluster(c, spec)) })
}
