package reconcile

import (
	"context"
	"fmt"
	"strings"

	"github.com/borealis-db/borealis/internal/store"
)

// A reader that streams but trails the writer by more than lagLimit bytes of WAL serves
// reads that old: it is taken out of the reader endpoint (its instance endpoint still
// reaches it) and reported as RDS reports a read replica in trouble (StatusInfos "read
// replication", Status "error"), until it is back within lagRejoin. Bytes, not seconds:
// what PostgreSQL measures exactly on both sides, and what decides whether the writer
// still keeps the WAL the reader needs (wal_keep_size, 128 MB: half of it is the limit).
// The gap between the two keeps a reader near the limit from flapping in and out.
const (
	lagLimit  = 64 << 20
	lagRejoin = 16 << 20
)

var reasonLagging = fmt.Sprintf("The reader trails the writer by more than %d MB of WAL: it is out of the reader endpoint until it is back within %d MB.", lagLimit>>20, lagRejoin>>20)

// judgeLag decides from reader m's lag (bytes) whether it stays in the reader endpoint,
// applies the decision at once, and records what DescribeDBInstances reports.
func (r *Reconciler) judgeLag(ctx context.Context, c store.Cluster, m store.Instance, lag uint64) error {
	name := strings.ToLower(m.Endpoint)
	r.mu.Lock()
	sv := r.servingOf(c.ID)
	was := sv.behind[name]
	behind := lag > lagLimit || was && lag > lagRejoin
	if behind != was {
		if sv.behind == nil {
			sv.behind = map[string]bool{}
		}
		sv.behind[name] = behind
		_, up := sv.up[name]
		r.setReaders(sv, name, up && !m.Writer)
	}
	r.mu.Unlock()
	if behind != was {
		if behind {
			r.log.Warn("a reader trails the writer: out of the reader endpoint", "cluster", c.ID, "instance", m.ID, "lag_bytes", lag, "limit_bytes", lagLimit)
		} else {
			r.log.Info("a reader caught up: back in the reader endpoint", "cluster", c.ID, "instance", m.ID, "lag_bytes", lag)
		}
		r.gateway.Refresh(c.ID)
		r.refreshOwn(c.ID)
	}
	state, msg := store.ReplicationStreaming, ""
	if behind {
		state, msg = store.ReplicationError, reasonLagging
	}
	if m.Replication == state && m.ReplicationMessage == msg {
		return nil
	}
	_, err := r.store.UpdateInstance(ctx, m.ID, func(in *store.Instance) error {
		if !in.Writer {
			in.Replication, in.ReplicationMessage = state, msg
		}
		return nil
	})
	return err
}
