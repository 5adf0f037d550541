package reconcile

import (
	"context"

	"github.com/borealis-db/borealis/internal/store"
)

// InstanceLog is the host path of the PostgreSQL log of instance id (its server's stderr,
// which the engine opens root-owned and 0600 in the cluster's volume directory, where the
// server's account cannot create or replace a file). ErrNotFound when there is no instance.
func (r *Reconciler) InstanceLog(ctx context.Context, id string) (string, error) {
	m, err := r.store.Instance(ctx, id)
	if err != nil {
		return "", err
	}
	c, err := r.store.Cluster(ctx, m.ClusterID)
	if err != nil {
		return "", err
	}
	if m.Status == store.StatusDeleting {
		return "", store.ErrNotFound
	}
	return r.serverSpec(c, m).LogFile, nil
}
