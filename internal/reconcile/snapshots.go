package reconcile

import (
	"context"
	"errors"
	"fmt"

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

// SnapshotFrom runs take with the spec of a server that serves cluster c's current data:
// its writer's while that runs. When the writer is gone (a cluster without instances, or
// the final snapshot of a deleted one, whose deletion waits for it), take runs against a
// server started on the writer's data for it alone, listening on its unix socket only,
// archiving as settings(dataDir) says (the backup engine's, which the snapshot needs).
func (r *Reconciler) SnapshotFrom(ctx context.Context, c store.Cluster, settings func(dataDir string) map[string]string,
	take func(context.Context, engine.Spec) error) error {
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
			return take(ctx, spec)
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
	spec.Archive = settings(spec.DataDir)
	r.log.Info("snapshot of a cluster without a running writer: its data is served on a local socket meanwhile", "cluster", c.ID)
	return local.RunLocal(ctx, spec, func(ctx context.Context) error { return take(ctx, spec) })
}
