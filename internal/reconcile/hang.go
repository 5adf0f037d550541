package reconcile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/store"
)

// Automatic failover does not wait on a writer that cannot come back soon while a reader
// could take over: a writer whose data directory is gone (its server may still run on
// files it holds open, but can serve nothing new) is stopped at once, and a writer's
// restart after it ended is given restartBudget to become ready, then stopped. Either way
// the pass finds it waiting and autoFailover moves the writer to the best reader. Without
// a reader to take over (for the restart, one not too far behind: lag.go), the restart runs
// as long as the engine allows (its own bound).
const restartBudget = 10 * time.Second

// errRestartBudget ends a writer's start that took longer than restartBudget.
var errRestartBudget = errors.New("the writer did not become ready in time while a reader could take over")

const (
	reasonVolumeGone = "The writer's data directory is gone; a reader takes over."
	reasonSlowStart  = "The writer did not become ready in time after it ended; a reader takes over."
)

// volumeGone reports whether the data directory of s is missing (its PG_VERSION, the file
// every PostgreSQL data directory has).
func volumeGone(s engine.Spec) bool {
	_, err := os.Stat(filepath.Join(s.DataDir, "PG_VERSION"))
	return errors.Is(err, fs.ErrNotExist)
}

// canTakeOver reports whether some failover candidate of members other than m accepts
// connections now; with caughtUp, one of the tier autoFailover chooses from that is not
// out of the reader endpoint for its lag (lag.go): failing over to a reader far behind
// loses what it lacks, which waiting would not.
func (r *Reconciler) canTakeOver(c store.Cluster, m store.Instance, members []store.Instance, caughtUp bool) bool {
	candidates := store.FailoverCandidates(members)
	for _, o := range candidates {
		if caughtUp && o.Tier() != candidates[0].Tier() {
			break // mostCaughtUp chooses from the lowest tier alone
		}
		if o.ID == m.ID || caughtUp && r.farBehind(c.ID, o) {
			continue
		}
		if r.driver.Accepting(r.serverSpec(c, o)) {
			return true
		}
	}
	return false
}

// farBehind reports whether reader o was last judged too far behind the writer, by this
// serve or (before it measured) an earlier one.
func (r *Reconciler) farBehind(clusterID string, o store.Instance) bool {
	if o.Replication == store.ReplicationError {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sv := r.serving[clusterID]
	return sv != nil && sv.behind[strings.ToLower(o.Endpoint)]
}

// dropGoneWriter stops the server of writer m whose data directory is gone, when a reader
// can take over, and marks it rebooting (as RDS shows a writer being failed over, on its
// way to rejoin as a reader): the pass then fails over. It reports whether it did.
func (r *Reconciler) dropGoneWriter(ctx context.Context, c store.Cluster, m store.Instance, spec engine.Spec, members []store.Instance) (bool, error) {
	if !m.Writer || !volumeGone(spec) || !r.canTakeOver(c, m, members, false) {
		return false, nil
	}
	r.log.Error("the writer's data directory is gone; its server is stopped and a reader takes over", "cluster", c.ID, "instance", m.ID, "datadir", spec.DataDir)
	r.unserve(c.ID, m)
	if err := r.driver.Stop(ctx, spec); err != nil {
		return false, err
	}
	if _, err := r.store.UpdateInstance(ctx, m.ID, func(in *store.Instance) error {
		if in.Status != store.StatusDeleting {
			in.Status, in.StatusReason = store.StatusRebooting, reasonVolumeGone
		}
		return nil
	}); err != nil {
		return false, err
	}
	return true, nil
}

// startBudget bounds the start of writer m after its server ended (not a first start, not
// a reboot asked for) by restartBudget when a reader can take over.
func (r *Reconciler) startBudget(ctx context.Context, c store.Cluster, m store.Instance, members []store.Instance, f facts) (context.Context, context.CancelFunc) {
	if !m.Writer || f.Running || m.Started == nil || !r.canTakeOver(c, m, members, true) {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, restartBudget, errRestartBudget)
}

// overBudget reports whether ctx ended for restartBudget, not because serve stops.
func overBudget(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errRestartBudget)
}
