package reconcile

import (
	"context"

	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// EventLog keeps RDS events (the store); the reconciler reports there what it did and why
// a server is down, as RDS does in DescribeEvents.
type EventLog interface {
	AddEvent(ctx context.Context, e rdsevent.Event) error
}

// emit records an event of kind k about source id. A failure is logged only: RDS emits
// events on a best effort basis, and the change they report has happened.
func (r *Reconciler) emit(ctx context.Context, k rdsevent.Kind, id string, args ...any) {
	if r.cfg.Events == nil {
		return
	}
	e := k.New(id, r.cfg.Now(), args...)
	if err := r.cfg.Events.AddEvent(ctx, e); err != nil {
		r.log.Error("rds event", "source", id, "message", e.Message, "err", err)
	}
}

// failureKind is the event of an instance put into a failure status.
func failureKind(s store.Status) rdsevent.Kind {
	switch s {
	case store.StatusIncompatibleParameters:
		return rdsevent.IncompatibleParams
	case store.StatusIncompatibleNetwork:
		return rdsevent.IncompatibleNetwork
	case store.StatusStorageFull:
		return rdsevent.StorageExhausted
	}
	return rdsevent.InstanceFailed
}

// settledKind is the event of an instance whose server serves after from: started says a
// start (not a reload) brought it there, first that it is the instance's first server (ok
// false: none to report).
func settledKind(from, to store.Status, started, first bool) (rdsevent.Kind, bool) {
	switch {
	case from == to:
		return rdsevent.Kind{}, false
	case to == store.StatusStorageFull:
		return rdsevent.StorageExhausted, true
	case to != store.StatusAvailable:
		return rdsevent.Kind{}, false
	case from == store.StatusCreating, first && started:
		return rdsevent.InstanceCreated, true
	case from == store.StatusStorageFull:
		return rdsevent.StorageRecovered, true
	case started && (from == store.StatusRebooting || from.Unhealthy()):
		return rdsevent.InstanceRestarted, true
	}
	return rdsevent.Kind{}, false
}

// createFailed records a cluster whose volume could not be made: the cluster and its
// writers still creating leave creating for status, with reason, and each change is an
// event (once, not at every retry).
func (r *Reconciler) createFailed(ctx context.Context, c store.Cluster, members []store.Instance, status store.Status, reason string) {
	if r.setClusterStatus(ctx, c.ID, func(cur store.Cluster) bool {
		return cur.Status == store.StatusCreating || (cur.Status.Unhealthy() && !cur.VolumeReady)
	}, status, reason) {
		r.emit(ctx, rdsevent.ClusterCreateFailed, c.ID, reason)
	}
	for _, m := range members {
		if !m.Writer || !(m.Status == store.StatusCreating || m.Status.Unhealthy()) {
			continue
		}
		from, fromReason := m.Status, m.StatusReason
		if m, err := r.mark(ctx, m, status, reason); err == nil && m.Status == status && (from != status || fromReason != reason) {
			r.emit(ctx, failureKind(status), m.ID, reason)
		}
	}
}
