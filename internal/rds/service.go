// Package rds holds DB clusters and DB instances: the RDS API's validation, state changes
// and XML answers. It writes desired state to the store and wakes the reconciler; it never
// starts a process itself.
package rds

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/ec2"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// Namespace is the RDS API's XML namespace.
const Namespace = "http://rds.amazonaws.com/doc/2014-10-31/"

// Config is what the RDS API needs to know about this Borealis.
type Config struct {
	Region    string
	AccountID string
	// EndpointDomain ends every endpoint name: ID.cluster-SUFFIX.REGION.rds.DOMAIN.
	EndpointDomain string
	// EndpointSuffix is the account's random part of endpoint names, as AWS has one per
	// account and region.
	EndpointSuffix string
	// EngineVersion is the PostgreSQL version actually run (for example 15.18).
	EngineVersion string
	// Ports reserves a cluster's endpoint port on the host from CreateDBCluster on, against
	// other programs and other serves, so that CreateDBCluster refuses a port it cannot
	// have instead of failing later. nil reserves nothing.
	Ports Ports
	Now   func() time.Time
	// Network is the VPC side; nil runs without VPCs (clusters keep the groups asked for).
	Network Network
	// StorageRoom, if set, refuses new clusters when the volume has no room for one.
	StorageRoom func() error
	// DefaultStorageLimit is a cluster's storage limit in bytes when AllocatedStorage
	// does not set one (0: store.DefaultStorageLimit).
	DefaultStorageLimit int64
	// Events keeps RDS events (nil: the store).
	Events EventLog
	// Logs finds instances' PostgreSQL logs (nil: DescribeDBLogFiles is refused).
	Logs InstanceLogs
	// Snapshots makes DB cluster snapshots (snapshots.go); nil refuses them.
	Snapshots Snapshots
	// SnapshotQuota is how many manual DB cluster snapshots may exist (0: DefaultSnapshotQuota).
	SnapshotQuota int
	// Backups reads each cluster's backups (restorable times, failures); nil: serve keeps
	// none, and restores are refused.
	Backups Backups
	// SnapshotSources finds the snapshots RestoreDBClusterFromSnapshot restores (the
	// snapshot API's store); nil: none exist.
	SnapshotSources SnapshotSources
}

// Service implements the RDS actions Borealis supports.
type Service struct {
	cfg    Config
	store  *store.Store
	notify func()
	log    *slog.Logger
	events EventLog
}

// New returns the RDS service. notify wakes the reconciler after a desired-state change.
func New(cfg Config, st *store.Store, notify func(), log *slog.Logger) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultStorageLimit <= 0 {
		cfg.DefaultStorageLimit = store.DefaultStorageLimit
	}
	events := cfg.Events
	if events == nil && st != nil {
		events = st
	}
	return &Service{cfg: cfg, store: st, notify: notify, log: log, events: events}
}

// Do runs one RDS action and returns the value to encode as its Result element.
func (s *Service) Do(ctx context.Context, action string, p awsquery.Params) (any, error) {
	a, ok := actions[action]
	if !ok {
		return nil, awsquery.InvalidAction(action)
	}
	if err := memberRules.Check(action, p, a.members); err != nil {
		return nil, err
	}
	return a.run(s, ctx, p)
}

func clusterNotFound(id string) error {
	return awsquery.Errorf(http.StatusNotFound, "DBClusterNotFoundFault", "DBCluster %s not found.", id)
}

func instanceNotFound(id string) error {
	return awsquery.Errorf(http.StatusNotFound, "DBInstanceNotFound", "DBInstance %s not found.", id)
}

func invalidClusterState(format string, args ...any) error {
	return awsquery.Errorf(http.StatusBadRequest, "InvalidDBClusterStateFault", format, args...)
}

func (s *Service) createCluster(ctx context.Context, p awsquery.Params) (any, error) {
	id, err := checkIdentifier("DBClusterIdentifier", p.String("DBClusterIdentifier"))
	if err != nil {
		return nil, err
	}
	if err := checkEngine(p.String("Engine"), p.String("EngineVersion"), s.cfg.EngineVersion); err != nil {
		return nil, err
	}
	user := p.String("MasterUsername")
	if err := checkMasterUsername(user); err != nil {
		return nil, err
	}
	verifier, err := masterPasswordVerifier(p.String("MasterUserPassword"))
	if err != nil {
		return nil, err
	}
	dbName := p.String("DatabaseName")
	if dbName != "" {
		if err := checkDatabaseName(dbName); err != nil {
			return nil, err
		}
	}
	port, hasPort, err := p.Int("Port")
	if err != nil {
		return nil, err
	}
	if hasPort && (port < 1150 || port > 65535) {
		return nil, awsquery.InvalidParameterValue("Invalid port %d: the port must be between 1150 and 65535.", port)
	}
	vpc, subnetGroup, err := s.clusterVPC(ctx, p.String("DBSubnetGroupName"))
	if err != nil {
		return nil, err
	}
	sgs, err := s.securityGroups(ctx, vpc, p.List("VpcSecurityGroupIds", "VpcSecurityGroupId"))
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(p)
	if err != nil {
		return nil, err
	}
	pg := ""
	if raw := p.String("DBClusterParameterGroupName"); raw != "" {
		g, err := s.group(ctx, clusterGroups, raw)
		if err != nil {
			return nil, clusterGroupNotFound(raw)
		}
		pg = g.Name
	}
	iamAuth, _, err := p.Bool("EnableIAMDatabaseAuthentication")
	if err != nil {
		return nil, err
	}
	protect, _, err := p.Bool("DeletionProtection")
	if err != nil {
		return nil, err
	}
	copyTags, _, err := p.Bool("CopyTagsToSnapshot")
	if err != nil {
		return nil, err
	}
	storage, err := allocatedStorage(p)
	if err != nil {
		return nil, err
	}
	retention, _, window, _, err := backupMembers(p)
	if err != nil {
		return nil, err
	}
	if window == "" {
		window = defaultBackupWindow(id)
	}
	if _, err := s.store.Cluster(ctx, id); err == nil {
		return nil, clusterExists(id)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if s.cfg.StorageRoom != nil {
		if err := s.cfg.StorageRoom(); err != nil {
			return nil, awsquery.Errorf(http.StatusBadRequest, "InsufficientStorageClusterCapacity", "There is insufficient storage available for the current action: %v", err)
		}
	}
	ca, err := s.defaultCA(ctx)
	if err != nil {
		return nil, err
	}
	port, err = s.choosePort(ctx, id, port, hasPort)
	if err != nil {
		return nil, err
	}
	resourceID, err := newResourceID("cluster-")
	if err != nil {
		return nil, err
	}
	c := store.Cluster{
		ID:                     id,
		ResourceID:             resourceID,
		Engine:                 Engine,
		EngineVersion:          s.cfg.EngineVersion,
		MasterUsername:         user,
		MasterPasswordVerifier: verifier,
		DatabaseName:           dbName,
		Port:                   port,
		VpcSecurityGroupIDs:    sgs,
		VpcID:                  vpc,
		SubnetGroup:            subnetGroup,
		Endpoint:               fmt.Sprintf("%s.cluster-%s.%s.rds.%s", id, s.cfg.EndpointSuffix, s.cfg.Region, s.cfg.EndpointDomain),
		ReaderEndpoint:         fmt.Sprintf("%s.cluster-ro-%s.%s.rds.%s", id, s.cfg.EndpointSuffix, s.cfg.Region, s.cfg.EndpointDomain),
		Status:                 store.StatusCreating,
		CreatedAt:              s.cfg.Now().UTC(),
		CAIdentifier:           ca,
		ParameterGroup:         pg,
		Tags:                   tags,
		CopyTagsToSnapshot:     copyTags,
		IAMAuth:                iamAuth,
		DeletionProtection:     protect,
		AllocatedStorage:       storage,
		BackupRetentionPeriod:  retention,
		PreferredBackupWindow:  window,
	}
	if err := s.store.CreateCluster(ctx, c); err != nil {
		if s.cfg.Ports != nil {
			s.cfg.Ports.Release(port, id)
		}
		if errors.Is(err, store.ErrExists) {
			return nil, clusterExists(id)
		}
		return nil, err
	}
	s.log.Info("cluster created", "cluster", id, "port", port)
	s.notify()
	return s.clusterResult(ctx, c, nil)
}

func clusterExists(id string) error {
	return awsquery.Errorf(http.StatusBadRequest, "DBClusterAlreadyExistsFault", "DB Cluster already exists")
}

// Ports is the host's port registry (engine.Ports).
type Ports interface {
	// Reserve claims port for the cluster. A port someone else holds fails with an error
	// that has a Taken method (engine.PortTakenError), saying why.
	Reserve(port int, clusterID string) error
	Release(port int, clusterID string) error
}

func portTaken(err error) bool {
	var t interface{ Taken() bool }
	return errors.As(err, &t) && t.Taken()
}

// choosePort reserves the endpoint port: the one asked for, or else the first free one from
// 5432 up, since all endpoints share one listen address here and so need distinct ports.
func (s *Service) choosePort(ctx context.Context, id string, port int, asked bool) (int, error) {
	reserve := func(p int) error {
		if s.cfg.Ports == nil {
			return nil
		}
		return s.cfg.Ports.Reserve(p, id)
	}
	clusters, err := s.store.Clusters(ctx)
	if err != nil {
		return 0, err
	}
	used := make(map[int]string, len(clusters))
	for _, c := range clusters {
		used[c.Port] = c.ID
	}
	if asked {
		if other, ok := used[port]; ok {
			return 0, awsquery.InvalidParameterValue("Port %d is already used by the endpoint of DB cluster %s on this Borealis; choose another port.", port, other)
		}
		if err := reserve(port); portTaken(err) {
			return 0, awsquery.InvalidParameterValue("Port %d cannot be had: %v; choose another port.", port, err)
		} else if err != nil {
			return 0, err
		}
		return port, nil
	}
	for p := 5432; p <= 65535; p++ {
		if _, taken := used[p]; taken {
			continue
		}
		if err := reserve(p); err == nil {
			return p, nil
		} else if !portTaken(err) {
			return 0, err
		}
	}
	return 0, awsquery.Errorf(http.StatusBadRequest, "InsufficientDBClusterCapacityFault", "No free port is left for a new cluster endpoint.")
}

func (s *Service) describeClusters(ctx context.Context, p awsquery.Params) (any, error) {
	maxRecords, marker, err := paging(p)
	if err != nil {
		return nil, err
	}
	if _, _, err := p.Bool("IncludeShared"); err != nil {
		return nil, err
	}
	filters, err := parseFilters(p)
	if err != nil {
		return nil, err
	}
	var clusters []store.Cluster
	if raw := p.String("DBClusterIdentifier"); raw != "" {
		c, err := s.store.Cluster(ctx, strings.ToLower(raw))
		if errors.Is(err, store.ErrNotFound) {
			return nil, clusterNotFound(raw)
		} else if err != nil {
			return nil, err
		}
		clusters = []store.Cluster{c}
	} else if clusters, err = s.store.Clusters(ctx); err != nil {
		return nil, err
	}
	instances, err := s.store.Instances(ctx)
	if err != nil {
		return nil, err
	}
	byCluster := map[string][]store.Instance{}
	for _, in := range instances {
		byCluster[in.ClusterID] = append(byCluster[in.ClusterID], in)
	}
	var res describeClustersResult
	for _, c := range clusters {
		if c.ID <= marker && marker != "" {
			continue
		}
		if !filters.match("db-cluster-id", c.ID, s.clusterARN(c.ID)) || !filters.match("db-cluster-resource-id", c.ResourceID) ||
			!filters.match("engine", c.Engine) {
			continue
		}
		if len(res.DBClusters.Items) == maxRecords {
			res.Marker = res.DBClusters.Items[maxRecords-1].DBClusterIdentifier
			break
		}
		x, err := s.clusterXML(ctx, c, byCluster[c.ID])
		if err != nil {
			return nil, err
		}
		res.DBClusters.Items = append(res.DBClusters.Items, x)
	}
	return res, nil
}

func (s *Service) deleteCluster(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBClusterIdentifier")
	if err != nil {
		return nil, err
	}
	id := strings.ToLower(raw)
	skip, _, err := p.Bool("SkipFinalSnapshot")
	if err != nil {
		return nil, err
	}
	// Automated backups are the backup engine's; Aurora removes them with the cluster
	// unless DeleteAutomatedBackups is false (see deleteAutomatedBackups).
	if err := s.deleteAutomatedBackups(p); err != nil {
		return nil, err
	}
	keep, err := s.finalSnapshot(p, skip)
	if err != nil {
		return nil, err
	}
	refuse := func(c store.Cluster, members []store.Instance) error {
		if c.Status == store.StatusDeleting {
			return invalidClusterState("Cluster %s is already being deleted.", c.ID)
		}
		if keep != "" && !c.VolumeReady {
			return invalidClusterState("DBCluster %s has no data yet to keep in a final snapshot: delete it with SkipFinalSnapshot.", c.ID)
		}
		if c.DeletionProtection {
			return awsquery.InvalidParameterCombination("Cannot delete protected Cluster, please disable deletion protection and try again.")
		}
		for _, m := range members {
			if m.Status != store.StatusDeleting {
				return invalidClusterState("Cluster cannot be deleted, it still contains DB instances in non-deleting state.")
			}
		}
		return nil
	}
	var c store.Cluster
	resourceID, err := newResourceID("snapshot-")
	if err != nil {
		return nil, err
	}
	if keep == "" {
		c, err = s.store.MarkClusterDeleting(ctx, id, refuse)
	} else {
		c, _, err = s.store.MarkClusterDeletingWithSnapshot(ctx, id, s.snapshotQuota(), refuse,
			func(c store.Cluster) store.ClusterSnapshot {
				return s.newSnapshot(keep, resourceID, c, snapshotTagsOf(c, nil), true)
			})
		err = snapshotStoreErr(err, keep, func() error { return clusterNotFound(raw) })
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, clusterNotFound(raw)
	}
	if err != nil {
		return nil, err
	}
	if keep != "" {
		s.log.Info("cluster final snapshot requested", "cluster", id, "snapshot", keep)
		s.emit(ctx, rdsevent.SnapshotCreating.New(keep, s.cfg.Now()))
		s.cfg.Snapshots.Wake()
	}
	s.log.Info("cluster deleting", "cluster", id)
	s.notify()
	members, err := s.store.ClusterInstances(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.clusterResult(ctx, c, members)
}

func (s *Service) createInstance(ctx context.Context, p awsquery.Params) (any, error) {
	id, err := checkIdentifier("DBInstanceIdentifier", p.String("DBInstanceIdentifier"))
	if err != nil {
		return nil, err
	}
	class := p.String("DBInstanceClass")
	if err := checkInstanceClass(class, s.cfg.EngineVersion); err != nil {
		return nil, err
	}
	if err := checkEngine(p.String("Engine"), p.String("EngineVersion"), s.cfg.EngineVersion); err != nil {
		return nil, err
	}
	rawCluster := p.String("DBClusterIdentifier")
	if rawCluster == "" {
		return nil, awsquery.InvalidParameterCombination("An %s DB instance must belong to a DB cluster: set DBClusterIdentifier.", Engine)
	}
	for _, member := range []string{"MasterUsername", "MasterUserPassword", "DBName", "AllocatedStorage", "Port"} {
		if p.Has(member) {
			return nil, awsquery.InvalidParameterCombination("The requested DB instance will be a member of a DB cluster. %s is managed by the DB cluster.", member)
		}
	}
	tags, err := parseTags(p)
	if err != nil {
		return nil, err
	}
	tier, err := promotionTier(p)
	if err != nil {
		return nil, err
	}
	pg := ""
	if raw := p.String("DBParameterGroupName"); raw != "" {
		g, err := s.group(ctx, dbGroups, raw)
		if err != nil {
			return nil, err
		}
		pg = g.Name
	}
	ca, err := s.defaultCA(ctx)
	if err != nil {
		return nil, err
	}
	if raw := p.String("CACertificateIdentifier"); raw != "" {
		if ca, err = s.checkCA(ctx, raw); err != nil {
			return nil, err
		}
	}
	if err := s.checkTenancy(ctx, strings.ToLower(rawCluster), class); err != nil {
		return nil, err
	}
	resourceID, err := newResourceID("db-")
	if err != nil {
		return nil, err
	}
	in := store.Instance{
		ParameterGroup: pg,
		Tags:           tags,
		ID:             id,
		ClusterID:      strings.ToLower(rawCluster),
		ResourceID:     resourceID,
		Class:          class,
		Engine:         Engine,
		EngineVersion:  s.cfg.EngineVersion,
		Endpoint:       fmt.Sprintf("%s.%s.%s.rds.%s", id, s.cfg.EndpointSuffix, s.cfg.Region, s.cfg.EndpointDomain),
		Status:         store.StatusCreating,
		CreatedAt:      s.cfg.Now().UTC(),
		CAIdentifier:   ca,
		PromotionTier:  tier,
	}
	var cluster store.Cluster
	in, err = s.store.CreateInstance(ctx, in, func(c store.Cluster, members []store.Instance) (store.Instance, error) {
		cluster = c
		if c.Status == store.StatusDeleting {
			return in, invalidClusterState("The DB cluster %s is being deleted.", c.ID)
		}
		// The first instance is the writer; the next ones are readers of it.
		in.Writer = !slices.ContainsFunc(members, func(m store.Instance) bool { return m.Writer && m.Status != store.StatusDeleting })
		return in, nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, clusterNotFound(rawCluster)
	case errors.Is(err, store.ErrExists):
		return nil, awsquery.Errorf(http.StatusBadRequest, "DBInstanceAlreadyExists", "DB instance already exists")
	case err != nil:
		return nil, err
	}
	s.log.Info("instance created", "instance", id, "cluster", in.ClusterID)
	s.notify()
	return s.instanceResult(ctx, in, cluster)
}

func (s *Service) describeInstances(ctx context.Context, p awsquery.Params) (any, error) {
	maxRecords, marker, err := paging(p)
	if err != nil {
		return nil, err
	}
	filters, err := parseFilters(p)
	if err != nil {
		return nil, err
	}
	var instances []store.Instance
	if raw := p.String("DBInstanceIdentifier"); raw != "" {
		in, err := s.store.Instance(ctx, strings.ToLower(raw))
		if errors.Is(err, store.ErrNotFound) {
			return nil, instanceNotFound(raw)
		} else if err != nil {
			return nil, err
		}
		instances = []store.Instance{in}
	} else if instances, err = s.store.Instances(ctx); err != nil {
		return nil, err
	}
	clusters, err := s.store.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]store.Cluster{}
	for _, c := range clusters {
		byID[c.ID] = c
	}
	var res describeInstancesResult
	for _, in := range instances {
		if in.ID <= marker && marker != "" {
			continue
		}
		if !filters.match("db-cluster-id", in.ClusterID, s.clusterARN(in.ClusterID)) ||
			!filters.match("db-instance-id", in.ID, s.instanceARN(in.ID)) || !filters.match("dbi-resource-id", in.ResourceID) ||
			!filters.match("engine", in.Engine) {
			continue
		}
		if len(res.DBInstances.Items) == maxRecords {
			res.Marker = res.DBInstances.Items[maxRecords-1].DBInstanceIdentifier
			break
		}
		x, err := s.instanceXML(ctx, in, byID[in.ClusterID])
		if err != nil {
			return nil, err
		}
		res.DBInstances.Items = append(res.DBInstances.Items, x)
	}
	return res, nil
}

func (s *Service) deleteInstance(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBInstanceIdentifier")
	if err != nil {
		return nil, err
	}
	if _, _, err := p.Bool("SkipFinalSnapshot"); err != nil {
		return nil, err
	}
	if _, _, err := p.Bool("DeleteAutomatedBackups"); err != nil {
		return nil, err
	}
	if err := s.failoverBeforeDelete(ctx, strings.ToLower(raw)); err != nil {
		return nil, err
	}
	in, err := s.store.UpdateInstance(ctx, strings.ToLower(raw), func(in *store.Instance) error {
		if in.Status == store.StatusDeleting {
			return awsquery.Errorf(http.StatusBadRequest, "InvalidDBInstanceState", "Instance %s is already being deleted.", in.ID)
		}
		in.SetStatus(store.StatusDeleting)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, instanceNotFound(raw)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("instance deleting", "instance", in.ID)
	s.notify()
	c, err := s.store.Cluster(ctx, in.ClusterID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return s.instanceResult(ctx, in, c)
}

// paging reads MaxRecords (20 to 100, default 100, as RDS) and the opaque Marker, which
// here is the last identifier of the previous page.
func paging(p awsquery.Params) (int, string, error) { return pagingUpTo(p, 100) }

// pagingUpTo is paging for an action whose MaxRecords goes up to max.
func pagingUpTo(p awsquery.Params, max int) (int, string, error) {
	n, ok, err := p.Int("MaxRecords")
	if err != nil {
		return 0, "", err
	}
	if !ok {
		n = 100
	} else if n < 20 || n > max {
		return 0, "", awsquery.InvalidParameterValue("Invalid value %d for MaxRecords. Must be between 20 and %d", n, max)
	}
	return n, p.String("Marker"), nil
}

func (s *Service) clusterARN(id string) string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", s.cfg.Region, s.cfg.AccountID, id)
}

func (s *Service) instanceARN(id string) string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", s.cfg.Region, s.cfg.AccountID, id)
}

// hostedZoneID is a fixed stand-in for Route 53's zone of the endpoints.
const hostedZoneID = "Z2BOREALIS0RDS"

// zones are the region's availability zones, as the EC2 side declares them: a cluster
// spans them all and its instances are placed in the first.
func (s *Service) zones() []string { return ec2.AvailabilityZones(s.cfg.Region) }

func (s *Service) clusterResult(ctx context.Context, c store.Cluster, members []store.Instance) (any, error) {
	x, err := s.clusterXML(ctx, c, members)
	return clusterResult{x}, err
}

func (s *Service) instanceResult(ctx context.Context, in store.Instance, c store.Cluster) (any, error) {
	x, err := s.instanceXML(ctx, in, c)
	return instanceResult{x}, err
}

func (s *Service) clusterXML(ctx context.Context, c store.Cluster, members []store.Instance) (xmlCluster, error) {
	x := xmlCluster{
		AllocatedStorage:                 storageGiB(c.StorageLimit(s.cfg.DefaultStorageLimit)),
		AvailabilityZones:                s.zones(),
		DatabaseName:                     c.DatabaseName,
		DBClusterIdentifier:              c.ID,
		DBClusterParameterGroup:          params.GroupName(c.ParameterGroup),
		DBSubnetGroup:                    subnetGroupName(c.SubnetGroup),
		Status:                           string(c.Status),
		Endpoint:                         c.Endpoint,
		ReaderEndpoint:                   c.ReaderEndpoint,
		Engine:                           c.Engine,
		EngineVersion:                    c.EngineVersion,
		Port:                             c.Port,
		MasterUsername:                   c.MasterUsername,
		PreferredMaintenanceWindow:       "sun:05:00-sun:05:30",
		HostedZoneID:                     hostedZoneID,
		DbClusterResourceID:              c.ResourceID,
		DBClusterArn:                     s.clusterARN(c.ID),
		IAMDatabaseAuthenticationEnabled: c.IAMAuth,
		DeletionProtection:               c.DeletionProtection,
		CopyTagsToSnapshot:               c.CopyTagsToSnapshot,
		ClusterCreateTime:                c.CreatedAt,
		EngineMode:                       engineMode,
		AutoMinorVersionUpgrade:          true,
		NetworkType:                      networkType,
		StorageType:                      storageType,
		TagList:                          tagListXML(c.Tags),
	}
	for _, sg := range c.VpcSecurityGroupIDs {
		x.VpcSecurityGroups = append(x.VpcSecurityGroups, xmlVpcSGMembership{sg, "active"})
	}
	if c.Status == store.StatusResettingMaster {
		x.PendingModifiedValues = &xmlClusterPending{MasterUserPassword: "****"}
	}
	if info, ok := statusInfo("cluster", c.Status, c.StatusReason); ok {
		x.StatusInfos = &xmlClusterStatusInfos{[]xmlStatusInfo{info}}
	}
	s.backupXML(&x, c)
	sort.Slice(members, func(i, j int) bool { return members[i].ID < members[j].ID })
	for _, m := range members {
		d, err := params.ForInstance(ctx, s.store, c, m)
		if err != nil {
			return x, err
		}
		x.DBClusterMembers.Items = append(x.DBClusterMembers.Items, xmlClusterMember{
			DBInstanceIdentifier: m.ID, IsClusterWriter: m.Writer,
			DBClusterParameterGroupStatus: d.ApplyStatus(m.Started), PromotionTier: m.Tier(),
		})
	}
	return x, nil
}

func (s *Service) instanceXML(ctx context.Context, in store.Instance, c store.Cluster) (xmlInstance, error) {
	d, err := params.ForInstance(ctx, s.store, c, in)
	if err != nil {
		return xmlInstance{}, err
	}
	x := xmlInstance{
		DBInstanceIdentifier:             in.ID,
		DBInstanceClass:                  in.Class,
		Engine:                           in.Engine,
		DBInstanceStatus:                 string(in.Status),
		MasterUsername:                   c.MasterUsername,
		DBName:                           c.DatabaseName,
		AllocatedStorage:                 1,
		InstanceCreateTime:               in.CreatedAt,
		BackupRetentionPeriod:            1,
		DBParameterGroups:                []xmlParameterGroupStatus{{d.DBGroup, d.ApplyStatus(in.Started)}},
		AvailabilityZone:                 s.zones()[0],
		PreferredMaintenanceWindow:       "sun:05:00-sun:05:30",
		EngineVersion:                    in.EngineVersion,
		AutoMinorVersionUpgrade:          true,
		LicenseModel:                     licenseModel,
		StorageType:                      storageType,
		DBClusterIdentifier:              in.ClusterID,
		DbiResourceID:                    in.ResourceID,
		IAMDatabaseAuthenticationEnabled: c.IAMAuth,
		CACertificateIdentifier:          in.CA(c),
		CertificateDetails:               certificateDetails(in),
		PromotionTier:                    in.Tier(),
		DBInstanceArn:                    s.instanceARN(in.ID),
		NetworkType:                      networkType,
		TagList:                          tagListXML(in.Tags),
	}
	for _, sg := range c.VpcSecurityGroupIDs {
		x.VpcSecurityGroups = append(x.VpcSecurityGroups, xmlVpcSGMembership{sg, "active"})
	}
	if in.Status != store.StatusCreating {
		// RDS shows no endpoint until the instance has come up once.
		x.Endpoint = &xmlEndpoint{Address: in.Endpoint, Port: c.Port, HostedZoneID: hostedZoneID}
	}
	if in.PendingCAIdentifier != "" {
		x.PendingModifiedValues = &xmlPendingModifiedValues{CACertificateIdentifier: in.PendingCAIdentifier}
	}
	var infos []xmlStatusInfo
	if info, ok := statusInfo("instance", in.Status, in.StatusReason); ok {
		infos = append(infos, info)
	}
	if info, ok := replicationInfo(in); ok {
		infos = append(infos, info)
	}
	if len(infos) > 0 {
		x.StatusInfos = &xmlStatusInfos{infos}
	}
	return x, nil
}

const resourceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newResourceID returns an immutable resource id like RDS's: a prefix and 26 characters.
func newResourceID(prefix string) (string, error) {
	var b [26]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = resourceAlphabet[int(b[i])%len(resourceAlphabet)]
	}
	return prefix + string(b[:]), nil
}

// promotionTier reads PromotionTier (0 to 15, as RDS); nil when absent.
func promotionTier(p awsquery.Params) (*int, error) {
	n, ok, err := p.Int("PromotionTier")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, nil
	case n < 0 || n > 15:
		return nil, awsquery.InvalidParameterValue("Invalid value %d for PromotionTier: valid values are 0 through 15.", n)
	}
	return &n, nil
}
