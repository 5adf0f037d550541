package rds

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

func clusterGroupNotFound(name string) error {
	return awsquery.Errorf(http.StatusNotFound, "DBClusterParameterGroupNotFound", "DBClusterParameterGroup not found: %s", awsquery.Clip(name))
}

func (s *Service) modifyCluster(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBClusterIdentifier")
	if err != nil {
		return nil, err
	}
	if _, _, err := p.Bool("ApplyImmediately"); err != nil {
		return nil, err
	}
	pg := ""
	if name := p.String("DBClusterParameterGroupName"); name != "" {
		g, err := s.group(ctx, clusterGroups, name)
		if err != nil {
			return nil, clusterGroupNotFound(name)
		}
		pg = g.Name
	}
	iamAuth, setIAMAuth, err := p.Bool("EnableIAMDatabaseAuthentication")
	if err != nil {
		return nil, err
	}
	protect, setProtect, err := p.Bool("DeletionProtection")
	if err != nil {
		return nil, err
	}
	copyTags, setCopyTags, err := p.Bool("CopyTagsToSnapshot")
	if err != nil {
		return nil, err
	}
	verifier := ""
	if _, ok := p.Values["MasterUserPassword"]; ok {
		if verifier, err = masterPasswordVerifier(p.String("MasterUserPassword")); err != nil {
			return nil, err
		}
	}
	storage, err := allocatedStorage(p)
	if err != nil {
		return nil, err
	}
	retention, setRetention, window, setWindow, err := backupMembers(p)
	if err != nil {
		return nil, err
	}
	var sgs []string
	if asked := p.List("VpcSecurityGroupIds", "VpcSecurityGroupId"); len(asked) > 0 {
		cur, err := s.store.Cluster(ctx, strings.ToLower(raw))
		if errors.Is(err, store.ErrNotFound) {
			return nil, clusterNotFound(raw)
		} else if err != nil {
			return nil, err
		}
		if sgs, err = s.securityGroups(ctx, cur.VpcID, asked); err != nil {
			return nil, err
		}
	}
	c, err := s.store.UpdateCluster(ctx, strings.ToLower(raw), func(c *store.Cluster) error {
		// A cluster at its storage limit may have the limit raised, as RDS lets storage be
		// added to a storage-full instance.
		if c.Status != store.StatusAvailable && !(c.Status == store.StatusStorageFull && c.StorageFull != "" && onlyStorage(p)) {
			return invalidClusterState("DB cluster %s is not available for modification with status %s.", c.ID, c.Status)
		}
		if storage != 0 {
			// Applies at once: serve's storage watch compares the usage with it.
			c.AllocatedStorage = storage
		}
		if pg != "" {
			// Like RDS: the new group's values reach the instances at their next reboot.
			c.ParameterGroup = pg
		}
		if setRetention {
			// Applies at once: the next expiry keeps this many days.
			c.BackupRetentionPeriod = retention
		}
		if setWindow {
			c.PreferredBackupWindow = window
		}
		if setProtect {
			// Applies at once: it only guards DeleteDBCluster.
			c.DeletionProtection = protect
		}
		if setCopyTags {
			// Applies at once: to the snapshots made from now on.
			c.CopyTagsToSnapshot = copyTags
		}
		if sgs != nil {
			// New connections see the new groups at once; open ones are not cut.
			c.VpcSecurityGroupIDs = sgs
		}
		if setIAMAuth && iamAuth != c.IAMAuth {
			// Applies at once, by a reload of pg_hba.conf; the cluster is "modifying" until
			// every instance has it, as on RDS.
			c.IAMAuth = iamAuth
			c.SetStatus(store.StatusModifying)
		}
		if verifier != "" {
			// Applies at once, without a reboot, as on RDS: the reconciler sets the
			// password and restores the master's attributes, membership and settings,
			// then the cluster is available again. Ranks above "modifying": the
			// reconciler finishes any reload before it ends either.
			c.MasterPasswordVerifier = verifier
			c.SetStatus(store.StatusResettingMaster)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, clusterNotFound(raw)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("cluster modified", "cluster", c.ID, "parameter_group", c.ParameterGroup, "iam_database_authentication", c.IAMAuth,
		"deletion_protection", c.DeletionProtection, "master_password_reset", verifier != "")
	s.notify()
	members, err := s.store.ClusterInstances(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	return s.clusterResult(ctx, c, members)
}

func (s *Service) rebootInstance(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBInstanceIdentifier")
	if err != nil {
		return nil, err
	}
	if failover, _, err := p.Bool("ForceFailover"); err != nil {
		return nil, err
	} else if failover {
		return s.rebootWithFailover(ctx, raw)
	}
	in, err := s.store.UpdateInstance(ctx, strings.ToLower(raw), func(in *store.Instance) error {
		if !rebootable(in.Status) {
			return awsquery.Errorf(http.StatusBadRequest, "InvalidDBInstanceState", "Instance %s is not currently in the available state.", in.ID)
		}
		in.SetStatus(store.StatusRebooting)
		applyPending(in)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, instanceNotFound(raw)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("instance rebooting", "instance", in.ID)
	s.notify()
	c, err := s.store.Cluster(ctx, in.ClusterID)
	if err != nil {
		return nil, err
	}
	return s.instanceResult(ctx, in, c)
}

func (s *Service) rebootCluster(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBClusterIdentifier")
	if err != nil {
		return nil, err
	}
	c, err := s.store.Cluster(ctx, strings.ToLower(raw))
	if errors.Is(err, store.ErrNotFound) {
		return nil, clusterNotFound(raw)
	}
	if err != nil {
		return nil, err
	}
	if !rebootable(c.Status) {
		return nil, invalidClusterState("DB cluster %s is not in the available state.", c.ID)
	}
	members, err := s.store.ClusterInstances(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if !rebootable(m.Status) {
			return nil, awsquery.Errorf(http.StatusBadRequest, "InvalidDBInstanceState", "Instance %s is not currently in the available state.", m.ID)
		}
	}
	for i, m := range members {
		if members[i], err = s.store.UpdateInstance(ctx, m.ID, func(in *store.Instance) error {
			if rebootable(in.Status) {
				in.SetStatus(store.StatusRebooting)
				applyPending(in)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	s.log.Info("cluster rebooting", "cluster", c.ID, "instances", len(members))
	s.notify()
	return s.clusterResult(ctx, c, members)
}
