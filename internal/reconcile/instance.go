package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// errWaiting says that an instance's server is down and waits for its next start: its
// status says why, and the pass is not an error.
var errWaiting = errors.New("server not running; waiting for the next start")

// reconcileInstance gathers the facts about m, decides, and carries the decision out.
func (r *Reconciler) reconcileInstance(ctx context.Context, c store.Cluster, m store.Instance, members []store.Instance, admission admission) error {
	writer := writerOf(members)
	if decide(facts{Instance: m}).Action == actDelete {
		// Before the facts that cost (a port, a certificate): none matters to a deletion.
		return r.deleteInstance(ctx, c, m)
	}
	if m.PrivatePort == 0 {
		port, err := r.privatePort(c.ID)
		if err != nil {
			return err
		}
		if m, err = r.store.UpdateInstance(ctx, m.ID, func(in *store.Instance) error {
			if in.PrivatePort == 0 {
				in.Volume = volumeOf(*in) // a new reader gets a copy of its own
				in.PrivatePort = port
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if o := volumeLeaving(m, members); o != "" {
		r.log.Info("waiting for the instance being deleted to leave the volume", "instance", m.ID, "leaving", o)
		return errWaiting
	}
	// Only the endpoint reaches the server: its private port is fenced before it listens.
	r.gateway.FenceServer(c.ID, m.ID, m.PrivatePort, r.driver.Status(m.ID).PID)
	d, err := params.ForInstance(ctx, r.store, c, m)
	if err != nil {
		return err
	}
	r.trimLogs(c, m, d.Values)
	m, reissued, err := r.ensureCert(ctx, c, m)
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	primary, err := r.primary(c, m, writer)
	if err != nil {
		return err
	}
	// A (re)start applies every parameter, static ones included.
	spec := r.instanceSpec(c, m, d.Values, primary)
	if gone, err := r.dropGoneWriter(ctx, c, m, spec, members); err != nil || gone {
		if err == nil {
			err = errWaiting
		}
		return err
	}
	state := r.driver.Status(m.ID).State
	if primary != nil && state != engine.StateRunning {
		if err := r.ensureReplica(ctx, c, spec, *writer); err != nil {
			return err
		}
	}
	if m.Writer && state == engine.StateRunning && r.driver.Standby(spec) {
		// A failover: before anything else is applied (a reload would stop its streaming
		// from the old writer), the old writer stops and this server is promoted.
		if err := r.takeOver(ctx, c, m, spec, members); err != nil {
			return err
		}
		r.setRoute(c, m, d.Now(m.Started), admission) // the cluster endpoint follows at once
	}
	running := state == engine.StateRunning
	f := facts{
		Instance:    m,
		Running:     running,
		Ended:       state == engine.StateCrashed,
		Accepting:   running && r.driver.Accepting(spec),
		Pending:     reissued || r.appliedChanged(m.ID, d.Now(m.Started), c, primary),
		Spec:        startKey(d.Values, c, m),
		StorageFull: c.StorageFull,
		Now:         r.cfg.Now(),
	}
	r.mu.Lock()
	if !running {
		r.backoff[m.ID] = r.backoff[m.ID].ended(f.Now)
	}
	f.Backoff = r.backoff[m.ID]
	r.mu.Unlock()
	dec := decide(f)
	if dec.Status != "" {
		if m, err = r.mark(ctx, m, dec.Status, dec.Reason); err != nil {
			return err
		}
	}
	up := f.Accepting // the server accepts connections once the action is done
	switch dec.Action {
	case actWait:
		return errWaiting
	case actStart, actRestart:
		sctx, cancel := r.startBudget(ctx, c, m, members, f)
		m, err = r.start(sctx, c, m, d, spec, f, admission)
		cancel()
		if err != nil {
			return err
		}
		up = true
	case actReload:
		// Dynamic parameters and a new certificate take effect on reload: PostgreSQL rereads
		// its certificate on SIGHUP and open sessions keep theirs.
		now := d.Now(m.Started)
		paramsChanged := r.appliedChanged(m.ID, now, c, primary) && !reissued
		if err := r.driver.Reload(ctx, r.instanceSpec(c, m, now, primary)); err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		r.setApplied(m.ID, now, c, primary)
		if paramsChanged {
			r.emit(ctx, rdsevent.InstanceParamsApplied, m.ID)
		}
		r.log.Info("instance reloaded", "instance", m.ID, "cluster", c.ID, "new_certificate", reissued)
		if m, err = r.settle(ctx, c, m, nil); err != nil {
			return err
		}
	case actSettle:
		// Nothing was left to apply (say, the CA asked for is the one already served), or
		// the server accepts connections again.
		if m, err = r.settle(ctx, c, m, nil); err != nil {
			return err
		}
	}
	if up && c.Status == store.StatusResettingMaster && m.Writer {
		// Idempotent: after a crash half-way the store still says resetting, and this runs
		// again. Open sessions are not touched.
		spec := r.serverSpec(c, m)
		if err := r.driver.ResetMaster(ctx, spec, c.MasterUsername, c.MasterPasswordVerifier); err != nil {
			return fmt.Errorf("reset master user: %w", err)
		}
		r.log.Info("master user reset", "instance", m.ID, "cluster", c.ID, "master_username", c.MasterUsername)
	}
	if m.Writer && up {
		if err := r.takeOver(ctx, c, m, spec, members); err != nil {
			return err
		}
		if !r.driver.Standby(spec) {
			r.keepBackedUp(ctx, c, spec)
		}
	}
	r.setRoute(c, m, d.Now(m.Started), admission)
	if m.Writer && up && c.Status == store.StatusFailingOver && !r.driver.Standby(spec) {
		// The failover is done once the cluster endpoint reaches the promoted server.
		if r.setClusterStatus(ctx, c.ID, func(cur store.Cluster) bool { return cur.Status == store.StatusFailingOver }, store.StatusAvailable, "") {
			r.emit(ctx, rdsevent.FailoverCompleted, c.ID, m.ID)
		}
	}
	r.gateway.FenceServer(c.ID, m.ID, m.PrivatePort, r.driver.Status(m.ID).PID) // its account may bind the port
	if !up {
		return errWaiting
	}
	return nil
}

// start carries out actStart and actRestart: the server runs with spec and m is settled,
// or the failure is recorded in m's status and backoff and errWaiting returned.
func (r *Reconciler) start(ctx context.Context, c store.Cluster, m store.Instance, d params.Desired, spec engine.Spec, f facts, admission admission) (store.Instance, error) {
	logOff := logSize(spec.LogFile)
	var err error
	if f.Running {
		err = r.driver.Restart(ctx, spec)
	} else {
		err = r.driver.Start(ctx, spec)
	}
	if err != nil {
		slow := overBudget(ctx)
		if ctx.Err() != nil && !slow {
			return m, err // serve is stopping: nothing was learnt about the server
		}
		if slow {
			err = fmt.Errorf("%w: %w", errRestartBudget, err)
		}
		return m, r.startFailed(context.WithoutCancel(ctx), c, m, spec, f, logOff, err)
	}
	r.mu.Lock()
	r.backoff[m.ID] = r.backoff[m.ID].started(f.Spec, f.Now)
	r.mu.Unlock()
	r.metrics.started(c.ID, m.ID)
	r.setApplied(m.ID, d.Values, c, spec.Primary)
	r.log.Info("instance running", "instance", m.ID, "cluster", c.ID, "rebooted", f.Running, "previous_status", m.Status)
	started := &store.StartedParams{ClusterGroup: d.ClusterGroup, DBGroup: d.DBGroup, Values: d.Values}
	// Route first: a client that sees "available" must reach the server.
	r.setRoute(c, m, d.Now(started), admission)
	return r.settle(ctx, c, m, started)
}

// startFailed records a failed start: the status and reason that fit, the next attempt
// further away, the metrics.
func (r *Reconciler) startFailed(ctx context.Context, c store.Cluster, m store.Instance, spec engine.Spec, f facts, logOff int64, cause error) error {
	status, reason := classifyStart(cause, logSince(spec.LogFile, logOff), volumeFree(r.clusterDir(c)))
	if errors.Is(cause, errRestartBudget) {
		status, reason = store.StatusRebooting, reasonSlowStart // failed over at once (hang.go)
	}
	r.mu.Lock()
	b := r.backoff[m.ID].failed(f.Spec, f.Now)
	r.backoff[m.ID] = b
	r.mu.Unlock()
	r.metrics.failed(c.ID, m.ID, b, status, reason, f.Now)
	r.log.Error("instance cannot start", "instance", m.ID, "cluster", c.ID, "status", status, "reason", reason,
		"failures", b.Failures, "retry_in", b.Next.Sub(f.Now), "err", cause)
	changed := false
	if _, err := r.store.UpdateInstance(ctx, m.ID, func(in *store.Instance) error {
		if in.Status != store.StatusDeleting {
			changed = in.Status != status || in.StatusReason != reason
			in.Status, in.StatusReason = status, reason
		}
		return nil
	}); err != nil {
		return err
	}
	if changed { // once per failure, not per retry
		r.emit(ctx, failureKind(status), m.ID, reason)
	}
	return errWaiting
}

// mark sets m's status and reason, unless the API changed the status since the pass read
// it (a DeleteDBInstance or a reboot asked for meanwhile wins).
func (r *Reconciler) mark(ctx context.Context, m store.Instance, status store.Status, reason string) (store.Instance, error) {
	from := m.Status
	m, err := r.store.UpdateInstance(ctx, m.ID, func(in *store.Instance) error {
		if in.Status == from {
			in.Status, in.StatusReason = status, reason
		}
		return nil
	})
	if err == nil && m.Status == status {
		r.log.Info("instance status", "instance", m.ID, "status", status, "reason", reason)
	}
	return m, err
}

// startKey identifies what a start of m's server runs with: a change to it (a parameter
// fixed, a new certificate) is tried at once, whatever the backoff.
func startKey(v params.Values, c store.Cluster, m store.Instance) string {
	return fingerprint(v) + strconv.FormatBool(c.IAMAuth) + m.CertCA + strconv.Itoa(m.PrivatePort)
}

// followWriter makes the cluster's status follow its writer's (see clusterFollow).
func (r *Reconciler) followWriter(ctx context.Context, id string) error {
	members, err := r.store.ClusterInstances(ctx, id)
	if err != nil {
		return err
	}
	var writer *store.Instance
	for i := range members {
		if members[i].Writer && members[i].Status != store.StatusDeleting {
			writer = &members[i]
		}
	}
	return r.setClusterStatusFn(ctx, id, func(cur store.Cluster) (store.Status, string, bool) {
		return clusterFollow(cur, writer)
	})
}

// setClusterStatus sets the cluster's status and reason when when says so of its current
// record.
func (r *Reconciler) setClusterStatus(ctx context.Context, id string, when func(store.Cluster) bool, status store.Status, reason string) (changed bool) {
	if err := r.setClusterStatusFn(ctx, id, func(cur store.Cluster) (store.Status, string, bool) {
		ok := when(cur)
		changed = ok && (cur.Status != status || cur.StatusReason != reason)
		return status, reason, ok
	}); err != nil {
		r.log.Error("cluster status", "cluster", id, "err", err)
		return false
	}
	return changed
}

func (r *Reconciler) setClusterStatusFn(ctx context.Context, id string, fn func(store.Cluster) (store.Status, string, bool)) error {
	var changed *store.Cluster
	_, err := r.store.UpdateCluster(ctx, id, func(cur *store.Cluster) error {
		if status, reason, ok := fn(*cur); ok {
			cur.Status, cur.StatusReason = status, reason
			changed = cur
		}
		return nil
	})
	if changed != nil && err == nil {
		r.log.Info("cluster status", "cluster", id, "status", changed.Status, "reason", changed.StatusReason)
	}
	return err
}
