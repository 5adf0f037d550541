package rds

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// failoverCluster moves the cluster's writer to a reader: the target, else the first of
// store.FailoverCandidates. The store says so at once (the cluster turns failing-over);
// the reconciler then stops the old writer's server, promotes the new one's, moves the
// cluster endpoint to it, and makes the old writer a reader of the new one.
func (s *Service) failoverCluster(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBClusterIdentifier")
	if err != nil {
		return nil, err
	}
	target := strings.ToLower(p.String("TargetDBInstanceIdentifier"))
	id := strings.ToLower(raw)
	chosen := ""
	c, err := s.store.MoveWriter(ctx, id, func(c store.Cluster, members []store.Instance) (string, error) {
		var err error
		chosen, err = failoverTarget(c, members, target, p.String("TargetDBInstanceIdentifier"))
		return chosen, err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, clusterNotFound(raw)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("cluster failing over", "cluster", c.ID, "writer", chosen)
	s.emit(ctx, rdsevent.FailoverStarted.New(c.ID, s.cfg.Now(), chosen))
	s.notify()
	members, err := s.store.ClusterInstances(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	return s.clusterResult(ctx, c, members)
}

// failoverTarget is the reader a failover the API asks for promotes (FailoverDBCluster, and
// RebootDBInstance with ForceFailover): target (rawTarget as the caller spelled it), else
// the first of store.FailoverCandidates. It refuses what RDS refuses.
func failoverTarget(c store.Cluster, members []store.Instance, target, rawTarget string) (string, error) {
	if c.Status != store.StatusAvailable {
		return "", invalidClusterState("DB cluster %s is not in the available state.", c.ID)
	}
	if target == "" {
		candidates := store.FailoverCandidates(members)
		if len(candidates) == 0 {
			return "", invalidClusterState("DB cluster %s has no available reader to fail over to.", c.ID)
		}
		return candidates[0].ID, nil
	}
	for _, m := range members {
		switch {
		case m.ID != target:
			continue
		case m.Writer:
			return "", invalidClusterState("DB instance %s is already the writer of DB cluster %s.", m.ID, c.ID)
		case m.Status != store.StatusAvailable:
			return "", awsquery.Errorf(http.StatusBadRequest, "InvalidDBInstanceState", "DB instance %s is not in the available state.", m.ID)
		}
		return m.ID, nil
	}
	return "", awsquery.InvalidParameterValue("DB instance %s is not a member of DB cluster %s.", rawTarget, c.ID)
}

// rebootWithFailover is RebootDBInstance with ForceFailover on the writer of a cluster with
// an available reader: a failover, as FailoverDBCluster without a target makes (the old
// writer's server stops and comes back as a reader). On a reader, or with no available
// reader, RDS refuses the combination.
func (s *Service) rebootWithFailover(ctx context.Context, raw string) (any, error) {
	id := strings.ToLower(raw)
	in, err := s.store.Instance(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, instanceNotFound(raw)
	}
	if err != nil {
		return nil, err
	}
	chosen := ""
	c, err := s.store.MoveWriter(ctx, in.ClusterID, func(c store.Cluster, members []store.Instance) (string, error) {
		for _, m := range members {
			switch {
			case m.ID != id:
				continue
			case !m.Writer:
				return "", awsquery.InvalidParameterCombination("ForceFailover applies to the writer instance of a DB cluster; %s is a reader.", m.ID)
			case !rebootable(m.Status):
				return "", awsquery.Errorf(http.StatusBadRequest, "InvalidDBInstanceState", "Instance %s is not currently in the available state.", m.ID)
			case len(store.FailoverCandidates(members)) == 0:
				return "", awsquery.InvalidParameterCombination("ForceFailover needs an available reader instance in DB cluster %s.", c.ID)
			}
			var err error
			chosen, err = failoverTarget(c, members, "", "")
			return chosen, err
		}
		return "", store.ErrNotFound
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, instanceNotFound(raw)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("instance rebooting with a failover", "instance", id, "cluster", c.ID, "writer", chosen)
	s.emit(ctx, rdsevent.FailoverStarted.New(c.ID, s.cfg.Now(), chosen))
	s.notify()
	if in, err = s.store.Instance(ctx, id); err != nil {
		return nil, err
	}
	return s.instanceResult(ctx, in, c)
}

// failoverBeforeDelete moves the writer to the first failover candidate when the instance
// DeleteDBInstance deletes is its cluster's writer and an available reader exists, as RDS
// does: the cluster keeps a writer.
func (s *Service) failoverBeforeDelete(ctx context.Context, id string) error {
	in, err := s.store.Instance(ctx, id)
	if err != nil || !in.Writer || in.Status == store.StatusDeleting {
		return nil // the delete itself says what is wrong
	}
	moved := ""
	_, err = s.store.MoveWriter(ctx, in.ClusterID, func(c store.Cluster, members []store.Instance) (string, error) {
		candidates := store.FailoverCandidates(members)
		if c.Status == store.StatusDeleting || len(candidates) == 0 {
			return "", errNoFailover
		}
		moved = candidates[0].ID
		return moved, nil
	})
	switch {
	case errors.Is(err, errNoFailover), errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	s.log.Info("cluster failing over before its writer is deleted", "cluster", in.ClusterID, "writer", moved, "deleted", id)
	return nil
}

var errNoFailover = errors.New("no failover")
