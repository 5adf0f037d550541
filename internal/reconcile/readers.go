package reconcile

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/store"
)

// A reader is a hot standby of its cluster's writer, on a copy of the writer's data in a
// data directory of its own beside the cluster volume (the same volume directory and OS
// account: the cluster is one tenant on the host).

// readerVolume names the data directory of a reader's own copy (Instance.Volume): by its
// resource id, which no later instance of the same name shares.
func readerVolume(m store.Instance) string { return "data-" + m.ResourceID }

// serverSpec is where and as whom the server of m runs, without its settings.
func (r *Reconciler) serverSpec(c store.Cluster, m store.Instance) engine.Spec {
	spec := r.volumeSpec(c, m.PrivatePort)
	spec.Name = m.ID
	if m.Volume != "" {
		dir := r.clusterDir(c)
		spec.DataDir = filepath.Join(dir, m.Volume)
		spec.LogFile = filepath.Join(dir, m.Volume+".log")
	}
	return spec
}

// writerOf is the cluster's writer among members, nil when it has none.
func writerOf(members []store.Instance) *store.Instance {
	for i := range members {
		if members[i].Writer && members[i].Status != store.StatusDeleting {
			return &members[i]
		}
	}
	return nil
}

func boolOrder(b bool) int {
	if b {
		return 1
	}
	return 0
}

// primary is where reader m streams from: the writer's private address. A reader without
// a writer to stream from waits (errWaiting); the writer itself has none (nil).
func (r *Reconciler) primary(c store.Cluster, m store.Instance, writer *store.Instance) (*engine.Primary, error) {
	if m.Writer {
		return nil, nil
	}
	if writer == nil || writer.PrivatePort == 0 {
		return nil, errWaiting
	}
	return &engine.Primary{Addr: r.volumeSpec(c, 0).ListenAddr, Port: writer.PrivatePort}, nil
}

// ensureReplica makes the reader volume of spec from a fresh base backup of the writer,
// once the writer accepts connections (until then the reader waits, creating).
func (r *Reconciler) ensureReplica(ctx context.Context, c store.Cluster, spec engine.Spec, writer store.Instance) error {
	src := r.serverSpec(c, writer)
	if !r.driver.Accepting(src) {
		return errWaiting
	}
	if err := r.driver.CreateReplica(ctx, spec, src); err != nil {
		return fmt.Errorf("reader volume: %w", err)
	}
	return nil
}
