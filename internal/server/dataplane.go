package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/borealis-db/borealis/internal/store"
)

// openEngine makes the PostgreSQL driver, owner of the servers started from dataDir (they
// run on after serve and the next serve adopts them), and opens the host's port registry
// that every serve shares, where new cluster ports are reserved bindable on endpointAddrs.
func openEngine(dataDir string, endpointAddrs []string, log *slog.Logger) (*engine.Local, *engine.Ports, error) {
	ports, err := engine.OpenPorts(engine.DefaultPortDir(), dataDir, endpointAddrs)
	if err != nil {
		return nil, nil, err
	}
	driver, err := engine.NewLocal(log.With("component", "engine"), engine.Options{Owner: dataDir, Ports: ports})
	if err != nil {
		return nil, nil, err
	}
	return driver, ports, nil
}

// sweepDataPlane runs once, before the reconciler and the API: it stops the servers of
// instances the store no longer has and drops the port claims of clusters it no longer
// has, and claims again the ports of those it has. Later deletions are the reconciler's
// (the driver's Destroy releases a cluster's port).
func sweepDataPlane(ctx context.Context, dataDir string, st *store.Store, driver *engine.Local, ports *engine.Ports, log *slog.Logger) error {
	clusters, err := st.Clusters(ctx)
	if err != nil {
		return err
	}
	instances, err := st.Instances(ctx)
	if err != nil {
		return err
	}
	known := make([]string, 0, len(instances))
	for _, m := range instances {
		known = append(known, m.ID)
	}
	orphans, err := driver.StopOrphans(ctx, filepath.Join(dataDir, "clusters"), known)
	for _, o := range orphans {
		log.Warn("stopped the server of an instance that no longer exists", "instance", o.Name, "pid", o.PID, "datadir", o.DataDir)
	}
	if err != nil {
		return fmt.Errorf("stopping orphaned servers: %w", err)
	}
	held, err := ports.Held()
	if err != nil {
		return err
	}
	// A cluster's ports: its endpoint's and its servers' private ones.
	byID := make(map[string]map[int]bool, len(clusters))
	for _, c := range clusters {
		byID[c.ID] = map[int]bool{c.Port: true}
		if err := ports.Hold(c.Port, c.ID); err != nil {
			// The reconciler finds the endpoint cannot listen, and says so.
			log.Error("cluster port held elsewhere", "cluster", c.ID, "port", c.Port, "err", err)
		}
	}
	for _, m := range instances {
		if own := byID[m.ClusterID]; own != nil && m.PrivatePort != 0 {
			own[m.PrivatePort] = true
			if err := ports.Hold(m.PrivatePort, m.ClusterID); err != nil {
				// The server finds its port taken, and its status says so.
				log.Error("private port held elsewhere", "instance", m.ID, "port", m.PrivatePort, "err", err)
			}
		}
	}
	for port, id := range held {
		if !byID[id][port] {
			if err := ports.Release(port, id); err != nil {
				return err
			}
			log.Info("released the port of a cluster that no longer exists", "cluster", id, "port", port)
		}
	}
	return nil
}

// closeDriver ends the driver as serve exits: it stops every server, or, with keep
// (--keep-servers-on-exit), leaves them running for the next serve to adopt.
func closeDriver(ctx context.Context, driver *engine.Local, keep bool, log *slog.Logger) {
	if keep {
		driver.Release()
		log.Info("PostgreSQL servers left running for the next serve to adopt")
		return
	}
	if err := driver.Close(ctx); err != nil {
		log.Error("stopping PostgreSQL servers", "err", err)
	}
}
