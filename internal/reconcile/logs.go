package reconcile

import (
	"context"

	"github.com/borealis-db/borealis/internal/dblog"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/store"
)

// InstanceLogDir is the host directory of the PostgreSQL log files of instance id: where
// its server's logging collector writes them, hourly (engine.Spec.LogDir). ErrNotFound when
// there is no instance.
func (r *Reconciler) InstanceLogDir(ctx context.Context, id string) (string, error) {
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
	return r.serverSpec(c, m).LogDir, nil
}

// trimLogs deletes the log files of m's server last written longer ago than the instance's
// rds.log_retention_period (values: its effective parameters), on every pass: a change of
// the parameter applies at once, as on RDS (dynamic).
func (r *Reconciler) trimLogs(c store.Cluster, m store.Instance, values params.Values) {
	dir := r.serverSpec(c, m).LogDir
	removed, err := dblog.Trim(dir, r.cfg.Now().Add(-params.LogRetentionOf(values)))
	if err != nil {
		r.log.Warn("database logs not trimmed", "instance", m.ID, "err", err)
	}
	if len(removed) > 0 {
		r.log.Info("database logs past their retention deleted", "instance", m.ID, "files", len(removed))
	}
}
