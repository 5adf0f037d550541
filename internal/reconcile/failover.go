package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// A failover moves the writer in the store first (FailoverDBCluster, DeleteDBInstance of
// the writer, or autoFailover below), in one transaction; the reconciler then carries it
// out, idempotently, from what it finds:
//  1. the new writer's server, still a standby, is the writer's: every other member's
//     server still running read-write (the old writer) is stopped first, which ends its
//     sessions and, a fast shutdown, sends the standbys its last WAL;
//  2. the new writer is promoted, and the cluster endpoint routes to it (setRoute);
//  3. the old writer, now a reader, finds its volume no standby's and is copied afresh
//     from the new writer (CreateReplica), then streams from it.
// What a client can lose: with asynchronous replication, transactions the old writer
// committed but had not sent to the promoted reader when its server was killed (not after
// a fast shutdown, which sends everything first). The choice of the most caught-up reader
// of the lowest tier keeps that window to the replication lag.

// reasonRejoining is the status reason of a former writer while it becomes a reader.
const reasonRejoining = "The instance is becoming a reader of the cluster's new writer."

// takeOver completes a failover to m, the writer, whose server runs: it stops the old
// writer's server, then promotes m's (reconcileInstance then routes the cluster endpoint
// to it and ends the cluster's failing-over).
func (r *Reconciler) takeOver(ctx context.Context, c store.Cluster, m store.Instance, spec engine.Spec, members []store.Instance) error {
	if r.driver.Standby(spec) {
		upTo := uint64(0) // where the old writer's WAL ends
		for _, o := range members {
			if o.ID == m.ID {
				continue
			}
			os := r.serverSpec(c, o)
			if r.driver.Standby(os) {
				continue
			}
			// Never two writers: the old one stops before the new one takes writes. A fast
			// shutdown ends its sessions and sends the standbys its WAL to the end first.
			r.unserve(c.ID, o)
			if err := r.driver.Stop(ctx, os); err != nil {
				return fmt.Errorf("stop the old writer %s: %w", o.ID, err)
			}
			if lsn, ok := r.driver.EndOfWAL(ctx, os); ok && lsn > upTo {
				upTo = lsn
			}
			if o.Status == store.StatusAvailable || o.Status == store.StatusFailed || o.Status == store.StatusRebooting {
				if _, err := r.mark(ctx, o, store.StatusRebooting, reasonRejoining); err != nil {
					return err
				}
			}
		}
		if err := r.driver.Promote(ctx, spec, upTo); err != nil {
			return fmt.Errorf("promote: %w", err)
		}
		r.log.Info("failover: the new writer is promoted", "cluster", c.ID, "writer", m.ID)
		if err := r.rebaseAhead(ctx, c, m, spec, members); err != nil {
			return err
		}
	}
	return nil
}

// autoFailover moves the writer to the best available reader when the writer's server is
// down and its restart failed (the pass found it waiting, not running): the most caught
// up of the lowest promotion tier. It reports whether it moved the writer.
func (r *Reconciler) autoFailover(ctx context.Context, c store.Cluster, members []store.Instance) (bool, error) {
	w := writerOf(members)
	if w == nil || c.Status == store.StatusDeleting || c.Status == store.StatusFailingOver {
		return false, nil
	}
	if st := r.driver.Status(w.ID).State; st == engine.StateRunning || st == engine.StateStarting || st == engine.StateStopping {
		return false, nil
	}
	target := r.mostCaughtUp(ctx, c, store.FailoverCandidates(members))
	if target == "" {
		return false, nil
	}
	_, err := r.store.MoveWriter(ctx, c.ID, func(cur store.Cluster, now []store.Instance) (string, error) {
		if nw := writerOf(now); nw == nil || nw.ID != w.ID {
			return "", errMoved
		}
		for _, m := range store.FailoverCandidates(now) {
			if m.ID == target {
				return target, nil
			}
		}
		return "", errMoved
	})
	if errors.Is(err, errMoved) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r.log.Warn("failover: the writer's server is down and did not come back; a reader takes over",
		"cluster", c.ID, "old_writer", w.ID, "writer", target)
	r.emit(ctx, rdsevent.FailoverStarted, c.ID, target)
	return true, nil
}

var errMoved = errors.New("the writer moved meanwhile")

// mostCaughtUp picks, among the candidates of the lowest tier, the reader that replayed
// the most WAL; "" when none answers.
func (r *Reconciler) mostCaughtUp(ctx context.Context, c store.Cluster, candidates []store.Instance) string {
	best, bestLSN := "", uint64(0)
	for _, m := range candidates {
		if m.Tier() != candidates[0].Tier() {
			break
		}
		lsn, err := r.replayLSN(ctx, r.serverSpec(c, m))
		if err != nil {
			r.log.Warn("failover candidate does not answer", "instance", m.ID, "err", err)
			continue
		}
		if best == "" || lsn > bestLSN {
			best, bestLSN = m.ID, lsn
		}
	}
	return best
}

// replayLSN is how far the standby of s has replayed the WAL.
func (r *Reconciler) replayLSN(ctx context.Context, s engine.Spec) (uint64, error) {
	conn, err := r.driver.Connect(ctx, s, engine.Admin)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var text string
	if err := conn.QueryRow(ctx, "SELECT coalesce(pg_catalog.pg_last_wal_replay_lsn(), '0/0')::text").Scan(&text); err != nil {
		return 0, err
	}
	return engine.ParseLSN(text)
}

// measureLag sets each serving reader's replica lag in bytes, against the writer's current
// WAL position; a server that does not answer keeps its last value. A reader that lost its
// source is copied afresh (rebaseLost).
func (r *Reconciler) measureLag(ctx context.Context, c store.Cluster, members []store.Instance) error {
	w := writerOf(members)
	if w == nil || len(members) < 2 {
		return nil
	}
	ws := r.serverSpec(c, *w)
	if !r.driver.Accepting(ws) || r.driver.Standby(ws) {
		// No source to stream from: the readers' count starts over once there is one.
		for _, m := range members {
			r.forgetLost(m.ID)
		}
		return nil
	}
	conn, err := r.driver.Connect(ctx, ws, engine.Admin)
	if err != nil {
		return nil
	}
	var text string
	err = conn.QueryRow(ctx, "SELECT pg_catalog.pg_current_wal_lsn()::text").Scan(&text)
	conn.Close(context.Background())
	head, perr := engine.ParseLSN(text)
	if err != nil || perr != nil {
		return nil
	}
	var errs []error
	for _, m := range members {
		if m.Writer || m.Status == store.StatusDeleting {
			r.forgetLost(m.ID)
			continue
		}
		s := r.serverSpec(c, m)
		if !r.driver.Accepting(s) {
			continue
		}
		lsn, err := r.replayLSN(ctx, s)
		if err != nil {
			continue
		}
		lag := float64(0)
		if head > lsn {
			lag = float64(head - lsn)
		}
		r.metrics.lag.WithLabelValues(c.ID, m.ID).Set(lag)
		if err := r.judgeLag(ctx, c, m, uint64(lag)); err != nil {
			errs = append(errs, err)
		}
		if err := r.rebaseLost(ctx, c, m, s, *w, ws); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// A reader whose WAL receiver does not stream cannot follow the writer: say the WAL it
// needs next was recycled by the writer (no replication slots, so after a few failovers
// in a row it may be gone), and it would serve ever older reads while available. After
// lostPasses passes in a row without streaming, spanning lostFor at least (a server just
// started takes a moment to connect, and passes can follow each other closely), it is taken
// out of the reader endpoint and copied afresh from the writer.
const (
	lostPasses = 5
	lostFor    = 30 * time.Second
	reasonLost = "The reader lost its source and is being copied afresh from the writer."
)

// lostSource counts the passes in a row that found a reader's WAL receiver not streaming.
type lostSource struct {
	passes int
	since  time.Time
}

// rebaseLost checks that reader m, whose server s accepts connections, streams from the
// writer w (server ws); when it has not for long enough it is copied afresh.
func (r *Reconciler) rebaseLost(ctx context.Context, c store.Cluster, m store.Instance, s engine.Spec, w store.Instance, ws engine.Spec) error {
	streaming, err := r.streaming(ctx, s)
	if err != nil {
		return nil // a server that does not answer is not counted either way
	}
	now := r.cfg.Now()
	r.mu.Lock()
	l := r.lost[m.ID]
	if streaming {
		delete(r.lost, m.ID)
	} else {
		if l.passes == 0 {
			l.since = now
		}
		l.passes++
		r.lost[m.ID] = l
	}
	r.mu.Unlock()
	if streaming || l.passes < lostPasses || now.Sub(l.since) < lostFor {
		return nil
	}
	r.log.Warn("a reader does not stream from the writer; it is copied afresh",
		"cluster", c.ID, "instance", m.ID, "passes", l.passes)
	r.unserve(c.ID, m)
	if m.Status == store.StatusAvailable {
		var err error
		if m, err = r.mark(ctx, m, store.StatusRebooting, reasonLost); err != nil {
			return err
		}
		r.emit(ctx, rdsevent.ReplicationStopped, m.ID)
	}
	if m.Status == store.StatusDeleting {
		return nil // DeleteDBInstance meanwhile: no copy for a reader on its way out
	}
	primary, err := r.primary(c, m, &w)
	if err != nil {
		return err
	}
	s.Primary = primary
	if err := r.driver.Rebase(ctx, s, ws); err != nil {
		return fmt.Errorf("copy %s afresh: %w", m.ID, err)
	}
	r.forgetLost(m.ID)
	r.emit(ctx, rdsevent.ReplicationResumed, m.ID)
	return nil
}

func (r *Reconciler) forgetLost(id string) {
	r.mu.Lock()
	delete(r.lost, id)
	r.mu.Unlock()
}

// streaming says whether the WAL receiver of the standby s streams from its primary.
func (r *Reconciler) streaming(ctx context.Context, s engine.Spec) (bool, error) {
	conn, err := r.driver.Connect(ctx, s, engine.Admin)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var ok bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_wal_receiver WHERE status = 'streaming')").Scan(&ok)
	return ok, err
}

// rebaseAhead copies afresh, from the new writer m, every running reader that replayed WAL
// past the point where m's timeline began (WAL of the old writer's that m never got, after
// a crash): such a standby cannot follow m, and would otherwise serve ever older reads.
func (r *Reconciler) rebaseAhead(ctx context.Context, c store.Cluster, m store.Instance, spec engine.Spec, members []store.Instance) error {
	fork, ok := r.driver.TimelineStart(ctx, spec)
	if !ok {
		return nil
	}
	for _, o := range members {
		os := r.serverSpec(c, o)
		if o.ID == m.ID || o.Status == store.StatusDeleting || !r.driver.Standby(os) || r.driver.Status(o.ID).State != engine.StateRunning {
			continue
		}
		lsn, err := r.replayLSN(ctx, os)
		if err != nil || lsn <= fork {
			continue
		}
		r.log.Warn("failover: a reader replayed WAL the new writer never had; it is copied afresh",
			"cluster", c.ID, "instance", o.ID, "replayed", engine.FormatLSN(lsn), "timeline_start", engine.FormatLSN(fork))
		r.unserve(c.ID, o)
		if o.Status == store.StatusAvailable {
			if _, err := r.mark(ctx, o, store.StatusRebooting, reasonRejoining); err != nil {
				return err
			}
		}
		os.Primary = &engine.Primary{SocketDir: spec.SocketDir, Port: spec.Port}
		if err := r.driver.Rebase(ctx, os, spec); err != nil {
			return fmt.Errorf("copy %s afresh: %w", o.ID, err)
		}
	}
	return nil
}
