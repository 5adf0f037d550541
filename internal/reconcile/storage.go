package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

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
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := r.checkStorage(ctx, defaultLimit); err != nil && ctx.Err() == nil {
			r.log.Error("storage check", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Reconciler) checkStorage(ctx context.Context, defaultLimit int64) error {
	clusters, err := r.store.Clusters(ctx)
	if err != nil {
		return err
	}
	changed := false
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
// max_wal_size bounds and checkpoints recycle. Files that vanish during the walk (a
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
