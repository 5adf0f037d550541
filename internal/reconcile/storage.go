package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/borealis-db/borealis/internal/store"
)

// StorageCheckInterval is how often WatchStorage measures every cluster: a cluster may
// outgrow its limit by what it writes in that time.
const StorageCheckInterval = time.Second

// storageFullReason says why a cluster is read-only; the limit is the only variable part.
func storageFullReason(limit int64) string {
	return fmt.Sprintf("The cluster reached its storage limit (%d MiB) and is read-only: drop or truncate data, or raise the limit (ModifyDBCluster AllocatedStorage).", limit>>20)
}

// WatchStorage measures each cluster's storage every interval until ctx ends, and makes a
// cluster that reached its limit (store.Cluster.StorageLimit, defaultLimit where it sets
// none) read-only and storage-full, before it fills the volume every cluster and serve
// share; once it is under its limit again (data dropped, the limit raised) it is
// read-write and available again. The servers follow through their passes (the guard's
// borealis.read_only, applied by a reload).
func (r *Reconciler) WatchStorage(ctx context.Context, defaultLimit int64, interval time.Duration) {
	g := storageGauges{
		shown: map[string]bool{},
		used: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "borealis_cluster_storage_used_bytes",
			Help: "Space a cluster's volume takes (its files but the write-ahead log), measured every second."}, []string{"cluster"}),
		limit: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "borealis_cluster_storage_limit_bytes",
			Help: "A cluster's storage limit: at it the cluster is read-only (storage-full)."}, []string{"cluster"}),
	}
	if r.cfg.Metrics != nil {
		r.cfg.Metrics.MustRegister(g.used, g.limit)
		defer r.cfg.Metrics.Unregister(g.used)
		defer r.cfg.Metrics.Unregister(g.limit)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := r.checkStorage(ctx, defaultLimit, g); err != nil && ctx.Err() == nil {
			r.log.Error("storage check", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// storageGauges are each cluster's usage and limit in /metrics, and the clusters they
// have series for (a deleted cluster's go).
type storageGauges struct {
	used, limit *prometheus.GaugeVec
	shown       map[string]bool
}

func (r *Reconciler) checkStorage(ctx context.Context, defaultLimit int64, g storageGauges) error {
	clusters, err := r.store.Clusters(ctx)
	if err != nil {
		return err
	}
	changed := false
	defer func() {
		for id := range g.shown {
			if !slices.ContainsFunc(clusters, func(c store.Cluster) bool { return c.ID == id }) {
				g.used.DeleteLabelValues(id)
				g.limit.DeleteLabelValues(id)
				delete(g.shown, id)
			}
		}
	}()
	for _, c := range clusters {
		if !c.VolumeReady || c.Status == store.StatusDeleting {
			continue
		}
		used, err := volumeUsage(r.clusterDir(c))
		if err != nil {
			r.log.Warn("storage check", "cluster", c.ID, "err", err)
			continue
		}
		limit := c.StorageLimit(defaultLimit)
		g.shown[c.ID] = true
		g.used.WithLabelValues(c.ID).Set(float64(used))
		g.limit.WithLabelValues(c.ID).Set(float64(limit))
		want := ""
		if used >= limit {
			want = storageFullReason(limit)
		}
		if want == c.StorageFull {
			continue
		}
		if _, err := r.store.UpdateCluster(ctx, c.ID, func(cur *store.Cluster) error {
			cur.StorageFull = want
			return nil
		}); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return err
		}
		if want != "" {
			r.log.Warn("cluster at its storage limit: read-only", "cluster", c.ID, "used_bytes", used, "limit_bytes", limit)
		} else {
			r.log.Info("cluster under its storage limit: read-write", "cluster", c.ID, "used_bytes", used, "limit_bytes", limit)
		}
		changed = true
	}
	if changed {
		r.Notify()
	}
	return nil
}

// volumeUsage is the space a cluster's volume takes: the blocks of every file in it (the
// databases, pg_xact and the like, the server log) but its write-ahead log, which
// max_wal_size (plus wal_keep_size, kept for readers) bounds and checkpoints recycle. Files that vanish during the walk (a
// dropped table) count nothing.
func volumeUsage(dir string) (int64, error) {
	var used int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() && d.Name() == "pg_wal" {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			used += st.Blocks * 512
		}
		return nil
	})
	return used, err
}
