package rds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// restoreMembers are what both restores read: the new cluster's settings, as
// CreateDBCluster reads them. Members Borealis does not carry out are refused.
var restoreMembers = members{
	"DBClusterIdentifier": acted, "Port": acted, "DBSubnetGroupName": acted, "VpcSecurityGroupIds": securityGroupIDs,
	"Tags": tags, "DBClusterParameterGroupName": acted, "EnableIAMDatabaseAuthentication": acted,
	"DeletionProtection": acted, "BackupRetentionPeriod": acted, "PreferredBackupWindow": acted,
	"KmsKeyId":                  createClusterMembers["KmsKeyId"],
	"EngineMode":                createClusterMembers["EngineMode"],
	"StorageType":               createClusterMembers["StorageType"],
	"NetworkType":               createClusterMembers["NetworkType"],
	"CopyTagsToSnapshot":        createClusterMembers["CopyTagsToSnapshot"],
	"EnablePerformanceInsights": createClusterMembers["EnablePerformanceInsights"],
	"MonitoringInterval":        createClusterMembers["MonitoringInterval"],
	"PubliclyAccessible":        onlyDefault("Borealis clusters are reached through their endpoints only: PubliclyAccessible must be false.", "false"),
}

// restorePITRMembers: RestoreDBClusterToPointInTime. Only full copies: a copy-on-write clone
// shares the source's pages, which Borealis cannot.
var restorePITRMembers = restoreMembers.With(members{
	"SourceDBClusterIdentifier": acted, "RestoreToTime": acted, "UseLatestRestorableTime": acted,
	"RestoreType":               acted,
	"SourceDbClusterResourceId": onlyDefault("Borealis keeps no automated backups of deleted clusters: name the source with SourceDBClusterIdentifier."),
})

// restoreTarget is the new cluster of a restore, from the request's members, with what it
// takes from its source.
func (s *Service) restoreTarget(ctx context.Context, p awsquery.Params, src store.Cluster) (store.Cluster, error) {
	id, err := checkIdentifier("DBClusterIdentifier", p.String("DBClusterIdentifier"))
	if err != nil {
		return store.Cluster{}, err
	}
	port, hasPort, err := p.Int("Port")
	if err != nil {
		return store.Cluster{}, err
	}
	if hasPort && (port < 1150 || port > 65535) {
		return store.Cluster{}, awsquery.InvalidParameterValue("Invalid port %d: the port must be between 1150 and 65535.", port)
	}
	vpc, subnetGroup, err := s.clusterVPC(ctx, p.String("DBSubnetGroupName"))
	if err != nil {
		return store.Cluster{}, err
	}
	sgs, err := s.securityGroups(ctx, vpc, p.List("VpcSecurityGroupIds", "VpcSecurityGroupId"))
	if err != nil {
		return store.Cluster{}, err
	}
	tagList, err := parseTags(p)
	if err != nil {
		return store.Cluster{}, err
	}
	pg := ""
	if raw := p.String("DBClusterParameterGroupName"); raw != "" {
		g, err := s.group(ctx, clusterGroups, raw)
		if err != nil {
			return store.Cluster{}, clusterGroupNotFound(raw)
		}
		pg = g.Name
	}
	iamAuth, _, err := p.Bool("EnableIAMDatabaseAuthentication")
	if err != nil {
		return store.Cluster{}, err
	}
	protect, _, err := p.Bool("DeletionProtection")
	if err != nil {
		return store.Cluster{}, err
	}
	copyTags, _, err := p.Bool("CopyTagsToSnapshot")
	if err != nil {
		return store.Cluster{}, err
	}
	retention, _, window, _, err := backupMembers(p)
	if err != nil {
		return store.Cluster{}, err
	}
	if window == "" {
		window = defaultBackupWindow(id)
	}
	if _, err := s.store.Cluster(ctx, id); err == nil {
		return store.Cluster{}, clusterExists(id)
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Cluster{}, err
	}
	if s.cfg.StorageRoom != nil {
		if err := s.cfg.StorageRoom(); err != nil {
			return store.Cluster{}, awsquery.Errorf(http.StatusBadRequest, "InsufficientStorageClusterCapacity", "There is insufficient storage available for the current action: %v", err)
		}
	}
	ca, err := s.defaultCA(ctx)
	if err != nil {
		return store.Cluster{}, err
	}
	resourceID, err := newResourceID("cluster-")
	if err != nil {
		return store.Cluster{}, err
	}
	// The port last: choosePort reserves it.
	port, err = s.choosePort(ctx, id, port, hasPort)
	if err != nil {
		return store.Cluster{}, err
	}
	return store.Cluster{
		ID: id, ResourceID: resourceID, Engine: Engine, EngineVersion: s.cfg.EngineVersion,
		// The roles and passwords are the source's, in the restored data; the master's
		// name and verifier are kept for a later reset.
		MasterUsername: src.MasterUsername, MasterPasswordVerifier: src.MasterPasswordVerifier,
		DatabaseName: src.DatabaseName, Port: port, VpcSecurityGroupIDs: sgs, VpcID: vpc, SubnetGroup: subnetGroup,
		Endpoint:       fmt.Sprintf("%s.cluster-%s.%s.rds.%s", id, s.cfg.EndpointSuffix, s.cfg.Region, s.cfg.EndpointDomain),
		ReaderEndpoint: fmt.Sprintf("%s.cluster-ro-%s.%s.rds.%s", id, s.cfg.EndpointSuffix, s.cfg.Region, s.cfg.EndpointDomain),
		Status:         store.StatusCreating, CreatedAt: s.cfg.Now().UTC(), CAIdentifier: ca, ParameterGroup: pg,
		Tags: tagList, CopyTagsToSnapshot: copyTags, IAMAuth: iamAuth, DeletionProtection: protect, AllocatedStorage: src.AllocatedStorage,
		BackupRetentionPeriod: retention, PreferredBackupWindow: window,
	}, nil
}

// createRestored stores the new cluster c; the reconciler fills its volume from
// c.RestoredFrom, and it is available once that is done.
func (s *Service) createRestored(ctx context.Context, c store.Cluster) (any, error) {
	if err := s.store.CreateCluster(ctx, c); err != nil {
		if s.cfg.Ports != nil {
			s.cfg.Ports.Release(c.Port, c.ID)
		}
		if errors.Is(err, store.ErrExists) {
			return nil, clusterExists(c.ID)
		}
		return nil, err
	}
	s.log.Info("cluster restore requested", "cluster", c.ID, "source", c.RestoredFrom.ResourceID,
		"snapshot", c.RestoredFrom.SnapshotID, "time", c.RestoredFrom.Time)
	s.notify()
	return s.clusterResult(ctx, c, nil)
}

func (s *Service) restoreToPointInTime(ctx context.Context, p awsquery.Params) (any, error) {
	if _, err := checkIdentifier("DBClusterIdentifier", p.String("DBClusterIdentifier")); err != nil {
		return nil, err
	}
	srcID, err := p.Required("SourceDBClusterIdentifier")
	if err != nil {
		return nil, err
	}
	switch t := p.String("RestoreType"); t {
	case "", "full-copy":
	case "copy-on-write":
		return nil, awsquery.InvalidParameterCombination("Borealis restores full copies only: RestoreType must be full-copy.")
	default:
		return nil, awsquery.InvalidParameterValue("Invalid RestoreType %s: valid values are full-copy and copy-on-write.", awsquery.Clip(t))
	}
	latest, _, err := p.Bool("UseLatestRestorableTime")
	if err != nil {
		return nil, err
	}
	var at time.Time
	if raw := p.String("RestoreToTime"); raw != "" {
		if latest {
			return nil, awsquery.InvalidParameterCombination("Cannot specify both RestoreToTime and UseLatestRestorableTime.")
		}
		if at, err = time.Parse(time.RFC3339Nano, raw); err != nil {
			return nil, awsquery.InvalidParameterValue("Invalid RestoreToTime %s: want an ISO 8601 time, e.g. 2026-01-02T15:04:05Z.", awsquery.Clip(raw))
		}
	} else if !latest {
		return nil, awsquery.InvalidParameterCombination("Either RestoreToTime or UseLatestRestorableTime must be specified.")
	}
	src, err := s.store.Cluster(ctx, strings.ToLower(srcID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, clusterNotFound(srcID)
	} else if err != nil {
		return nil, err
	}
	if src.Status == store.StatusDeleting {
		return nil, invalidClusterState("DB cluster %s is being deleted.", src.ID)
	}
	at, err = s.restorable(src, at, latest)
	if err != nil {
		return nil, err
	}
	c, err := s.restoreTarget(ctx, p, src)
	if err != nil {
		return nil, err
	}
	c.RestoredFrom = &store.RestoreSource{ResourceID: src.ResourceID, Time: at.UTC()}
	return s.createRestored(ctx, c)
}

// restorePITRResources: the new cluster and the source, as RDS authorizes the action on
// both (a caller allowed to restore need not be allowed to describe the source), plus the
// parameter and subnet groups it names; the request's tags are condition keys.
func (s *Service) restorePITRResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	res := s.restoredClusterResources(p)
	if src := p.String("SourceDBClusterIdentifier"); src != "" {
		res = append(res, s.cluster(ctx, src))
	}
	return append(res, s.restoreGroupResources(ctx, p, keys)...)
}

func (s *Service) restoreGroupResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	var res []authz.Resource
	if g := p.String("DBClusterParameterGroupName"); g != "" {
		res = append(res, s.paramGroup(ctx, clusterGroups, g))
	}
	if g := p.String("DBSubnetGroupName"); g != "" {
		res = append(res, s.subnetGroupResource(ctx, g))
	}
	requestTags(p, keys)
	return res
}

// SnapshotSource is what RestoreDBClusterFromSnapshot needs of a DB cluster snapshot.
type SnapshotSource struct {
	BackupID  string        // the backup package's id of the snapshot's data
	Source    store.Cluster // the snapshotted cluster's record as it was (secrets included)
	Available bool          // complete: restorable
}

// SnapshotSources finds a manual DB cluster snapshot by identifier (the snapshot API's
// store); store.ErrNotFound when there is none.
type SnapshotSources func(ctx context.Context, id string) (SnapshotSource, error)

// restoreSnapshotMembers: RestoreDBClusterFromSnapshot.
var restoreSnapshotMembers = restoreMembers.With(members{
	"SnapshotIdentifier": acted, "Engine": acted, "EngineVersion": acted,
	"DatabaseName":      onlyDefault("The restored cluster keeps the snapshot's databases: DatabaseName cannot be set."),
	"AvailabilityZones": onlyDefault("Borealis places the restored cluster in its subnet group's zones: AvailabilityZones cannot be set."),
})

// snapshotID is a snapshot identifier, or the identifier in a cluster-snapshot ARN.
func snapshotID(raw string) string {
	if strings.HasPrefix(raw, "arn:") {
		if i := strings.LastIndex(raw, ":cluster-snapshot:"); i >= 0 {
			return strings.ToLower(raw[i+len(":cluster-snapshot:"):])
		}
	}
	return strings.ToLower(raw)
}

func (s *Service) restoreFromSnapshot(ctx context.Context, p awsquery.Params) (any, error) {
	if _, err := checkIdentifier("DBClusterIdentifier", p.String("DBClusterIdentifier")); err != nil {
		return nil, err
	}
	raw, err := p.Required("SnapshotIdentifier")
	if err != nil {
		return nil, err
	}
	if err := checkEngine(p.String("Engine"), p.String("EngineVersion"), s.cfg.EngineVersion); err != nil {
		return nil, err
	}
	if s.cfg.SnapshotSources == nil || s.cfg.Backups == nil {
		return nil, snapshotNotFound(raw)
	}
	snap, err := s.cfg.SnapshotSources(ctx, snapshotID(raw))
	if errors.Is(err, store.ErrNotFound) {
		return nil, snapshotNotFound(raw)
	} else if err != nil {
		return nil, err
	}
	if !snap.Available {
		return nil, awsquery.Errorf(http.StatusBadRequest, "InvalidDBClusterSnapshotStateFault", "DBClusterSnapshot %s is not available.", awsquery.Clip(raw))
	}
	c, err := s.restoreTarget(ctx, p, snap.Source)
	if err != nil {
		return nil, err
	}
	c.RestoredFrom = &store.RestoreSource{ResourceID: snap.Source.ResourceID, SnapshotID: snap.BackupID}
	return s.createRestored(ctx, c)
}

// restoreSnapshotResources: the new cluster and the snapshot, plus the groups it names.
func (s *Service) restoreSnapshotResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	res := s.restoredClusterResources(p)
	if id := p.String("SnapshotIdentifier"); id != "" {
		res = append(res, s.snapshotResource(ctx, snapshotID(id))) // with its tags (rds:cluster-snapshot-tag)
	}
	return append(res, s.restoreGroupResources(ctx, p, keys)...)
}

// restoredClusterResources: the new cluster of a restore, and tagging it when the request
// gives it tags.
func (s *Service) restoredClusterResources(p awsquery.Params) []authz.Resource {
	arn := s.clusterARN(strings.ToLower(p.String("DBClusterIdentifier")))
	return append([]authz.Resource{authz.On(arn)}, tagOnCreate(arn, askedTags(p))...)
}
