package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// Status is the lifecycle status of a cluster or instance, as the RDS API reports it: the
// API sets the ones a call starts, the reconciler the ones it reaches or observes. Every
// status is declared here, so that a misspelt one does not compile.
type Status string

const (
	StatusCreating  Status = "creating"
	StatusAvailable Status = "available"
	StatusDeleting  Status = "deleting"
	StatusRebooting Status = "rebooting"
	StatusModifying Status = "modifying"
	// StatusResettingMaster: ModifyDBCluster set a new master password verifier that the
	// writer's server is to get, with the master's attributes restored (RDS's
	// "resetting-master-credentials").
	StatusResettingMaster Status = "resetting-master-credentials"
	// StatusFailingOver: the cluster's writer moved to a reader (FailoverDBCluster, the
	// writer's server lost, its instance deleted) until that server is promoted.
	StatusFailingOver Status = "failing-over"

	// The statuses the reconciler observes: a server that cannot start (or does not accept
	// connections) is never reported available. StatusReason says why.
	StatusFailed                 Status = "failed"
	StatusStorageFull            Status = "storage-full"
	StatusIncompatibleParameters Status = "incompatible-parameters"
	StatusIncompatibleNetwork    Status = "incompatible-network" // a port it needs is taken
)

// Unhealthy reports whether s is one the reconciler sets because the server cannot serve:
// it ends, without a reboot, once the server starts and accepts connections.
func (s Status) Unhealthy() bool {
	switch s {
	case StatusFailed, StatusStorageFull, StatusIncompatibleParameters, StatusIncompatibleNetwork:
		return true
	}
	return false
}

// Settled reports whether nothing is under way: the status stays until something changes.
func (s Status) Settled() bool { return s == StatusAvailable || s.Unhealthy() }

// AccessKey is an IAM access key. The secret is kept because SigV4 verification needs it,
// as AWS keeps it; the state file is 0600.
type AccessKey struct {
	ID        string    `json:"id"`
	Secret    string    `json:"secret"`
	Principal string    `json:"principal"` // "root" for the account's root user
	Status    string    `json:"status"`    // Active | Inactive
	CreatedAt time.Time `json:"created_at"`
}

// Cluster is a DB cluster: what the API asked for and the status the reconciler reports.
type Cluster struct {
	ID             string `json:"id"`          // the identifier, lower-case
	ResourceID     string `json:"resource_id"` // cluster-XXXX, immutable
	Engine         string `json:"engine"`
	EngineVersion  string `json:"engine_version"`
	MasterUsername string `json:"master_username"`
	// MasterPasswordVerifier is the master's password as PostgreSQL stores it: a
	// SCRAM-SHA-256 verifier (or, in clusters made before Borealis computed those, the md5
	// one), never the plaintext.
	MasterPasswordVerifier string   `json:"master_password_verifier"`
	DatabaseName           string   `json:"database_name,omitempty"`
	Port                   int      `json:"port"`
	VpcSecurityGroupIDs    []string `json:"vpc_security_group_ids,omitempty"`
	VpcID                  string   `json:"vpc_id,omitempty"`
	// IAMAuth is IAMDatabaseAuthenticationEnabled: members of rds_iam log in with tokens.
	IAMAuth        bool   `json:"iam_database_authentication,omitempty"`
	SubnetGroup    string `json:"subnet_group,omitempty"` // "" is the default group
	Endpoint       string `json:"endpoint"`
	ReaderEndpoint string `json:"reader_endpoint"`
	Status         Status `json:"status"`
	// StatusReason says why Status is not available when the reconciler set it so (the
	// writer's server cannot start, say); "" otherwise. No secret ever goes in it.
	StatusReason string    `json:"status_reason,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	// Secrets the data plane needs; never rendered in an API response. CertPEM/KeyPEM serve
	// the bootstrap server on the volume only: each instance's server has its own
	// certificate (Instance.CertPEM), from the instance's CA.
	AdminPassword string `json:"admin_password"`
	CertPEM       []byte `json:"cert_pem,omitempty"`
	KeyPEM        []byte `json:"key_pem,omitempty"`
	CAIdentifier  string `json:"ca_identifier"`
	// VolumeReady is set once the cluster volume is initialised and bootstrapped.
	VolumeReady bool `json:"volume_ready"`
	// ParameterGroup is the DB cluster parameter group's name.
	ParameterGroup string `json:"parameter_group"`
	Tags           []Tag  `json:"tags,omitempty"`
	// CopyTagsToSnapshot copies Tags to the cluster's snapshots as they are made (manual
	// ones asked without tags of their own, the final one, automated backups).
	CopyTagsToSnapshot bool `json:"copy_tags_to_snapshot,omitempty"`

	// DeletionProtection refuses DeleteDBCluster while set.
	DeletionProtection bool `json:"deletion_protection,omitempty"`

	// AllocatedStorage is the cluster's storage limit in GiB (CreateDBCluster and
	// ModifyDBCluster AllocatedStorage); 0 is serve's default limit (StorageLimit).
	AllocatedStorage int `json:"allocated_storage,omitempty"`
	// StorageFull, when set, says why the cluster is read-only: it reached its storage
	// limit. Serve's storage watch sets and clears it; the servers follow.
	StorageFull string `json:"storage_full,omitempty"`

	// Backups (issue 16). BackupRetentionPeriod is how many days of automated backups are
	// kept (0 is 1, the default); PreferredBackupWindow the daily UTC window they start in,
	// "hh24:mi-hh24:mi".
	BackupRetentionPeriod int    `json:"backup_retention_period,omitempty"`
	PreferredBackupWindow string `json:"preferred_backup_window,omitempty"`
	// RestoredFrom, on a cluster made by a restore, is what its volume is restored from
	// (instead of initdb); nil for a cluster made empty.
	RestoredFrom *RestoreSource `json:"restored_from,omitempty"`
}

// RestoreSource is what a restored cluster's volume comes from: the continuous backup of
// the cluster with resource id ResourceID at Time (or its latest restorable time), or the
// snapshot SnapshotID (the backup package's id for it) taken from that cluster.
type RestoreSource struct {
	ResourceID string    `json:"resource_id"`
	SnapshotID string    `json:"snapshot_id,omitempty"`
	Time       time.Time `json:"time,omitempty"`
	Latest     bool      `json:"latest,omitempty"`
}

// RetentionDays is how many days of automated backups the cluster keeps.
func (c Cluster) RetentionDays() int {
	if c.BackupRetentionPeriod < 1 {
		return 1
	}
	return c.BackupRetentionPeriod
}

// DefaultStorageLimit is a cluster's storage limit when neither AllocatedStorage nor
// serve's --default-storage-limit sets one: 20 GiB, RDS's default allocated storage.
const DefaultStorageLimit = 20 << 30

// StorageLimit is the cluster's storage limit in bytes, def where it has none of its own.
func (c Cluster) StorageLimit(def int64) int64 {
	if c.AllocatedStorage > 0 {
		return int64(c.AllocatedStorage) << 30
	}
	return def
}

// Tag is a resource tag: RDS resources and IAM entities alike.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Instance is a DB instance of a cluster: one PostgreSQL server.
type Instance struct {
	ID            string `json:"id"`
	ClusterID     string `json:"cluster_id"`
	ResourceID    string `json:"resource_id"` // db-XXXX
	Class         string `json:"class"`
	Engine        string `json:"engine"`
	EngineVersion string `json:"engine_version"`
	Endpoint      string `json:"endpoint"`
	Status        Status `json:"status"`
	// StatusReason says why the reconciler set Status (a server that cannot start, one
	// restarted after it ended unexpectedly); "" when the API set it or it is available.
	// RebootRequested tells the two apart. No secret ever goes in it.
	StatusReason string    `json:"status_reason,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	// PrivatePort is the loopback port PostgreSQL listens on; the gateway splices to it.
	PrivatePort int `json:"private_port"`
	// Writer marks the instance that runs the cluster volume read-write; the others are
	// readers, hot standbys streaming from it.
	Writer bool `json:"writer"`
	// Volume is the directory of the instance's data directory in the cluster's volume
	// directory: "" for the cluster volume itself (data, which the first writer
	// bootstrapped), the instance's own for a reader made from a copy of the writer.
	Volume string `json:"volume,omitempty"`
	// PromotionTier orders the readers for failover (0 first, up to 15); nil is RDS's
	// default, 1 (see Tier).
	PromotionTier *int `json:"promotion_tier,omitempty"`
	// ParameterGroup is the DB parameter group's name.
	ParameterGroup string `json:"parameter_group"`
	Tags           []Tag  `json:"tags,omitempty"`
	// Started records what the server was last started with, so that the API can tell
	// which parameter changes wait for a reboot.
	Started *StartedParams `json:"started,omitempty"`
	// CAIdentifier is the CA the instance's server certificate is to come from ("" on
	// instances made before there was a choice: the cluster's CAIdentifier then).
	// PendingCAIdentifier waits for the next reboot (ModifyDBInstance without
	// ApplyImmediately), as on RDS.
	CAIdentifier        string `json:"ca_identifier,omitempty"`
	PendingCAIdentifier string `json:"pending_ca_identifier,omitempty"`
	// CertPEM and KeyPEM are the certificate the instance's server presents, issued by
	// CertCA; the reconciler writes them after the server has loaded them.
	CertPEM []byte `json:"cert_pem,omitempty"`
	KeyPEM  []byte `json:"key_pem,omitempty"`
	CertCA  string `json:"cert_ca,omitempty"`
	// Replication is a reader's replication as RDS reports a read replica's (StatusInfos,
	// StatusType "read replication"): ReplicationStreaming, or ReplicationError with
	// ReplicationMessage saying why; "" for the writer, or before it was first measured.
	Replication        string `json:"replication,omitempty"`
	ReplicationMessage string `json:"replication_message,omitempty"`
}

// The values of Instance.Replication: RDS's for a read replica.
const (
	ReplicationStreaming = "replicating"
	ReplicationError     = "error"
)

// RebootRequested reports whether a reboot the API asked for waits to be carried out: the
// reconciler's own "rebooting" (a server restarted after it ended) always has a reason.
func (in Instance) RebootRequested() bool {
	return in.Status == StatusRebooting && in.StatusReason == ""
}

// DefaultPromotionTier is RDS's promotion tier for an instance made without one.
const DefaultPromotionTier = 1

// Tier is the instance's promotion tier.
func (in Instance) Tier() int {
	if in.PromotionTier == nil {
		return DefaultPromotionTier
	}
	return *in.PromotionTier
}

// FailoverCandidates are the readers among members a failover may promote (available
// ones), in RDS's order: the lowest promotion tier first (then by identifier; the
// reconciler prefers the most caught up within a tier).
func FailoverCandidates(members []Instance) []Instance {
	var out []Instance
	for _, m := range members {
		if !m.Writer && m.Status == StatusAvailable {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b Instance) int {
		if a.Tier() != b.Tier() {
			return a.Tier() - b.Tier()
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// MoveWriter makes the member choose names the writer of its cluster, every other member
// a reader of it, and the cluster failing-over, in one transaction: there is never a
// moment with two writers or none. choose sees the cluster and its members and may refuse.
func (s *Store) MoveWriter(ctx context.Context, clusterID string, choose func(Cluster, []Instance) (string, error)) (Cluster, error) {
	return s.clusters().updateTx(ctx, clusterID, func(tx *sql.Tx, c *Cluster) error {
		members, err := instancesOf(ctx, tx, clusterID)
		if err != nil {
			return err
		}
		target, err := choose(*c, members)
		if err != nil {
			return err
		}
		found := false
		for _, m := range members {
			if m.ID == target {
				found = true
			}
			if m.Writer == (m.ID == target) {
				continue
			}
			m.Writer = m.ID == target
			m.Replication, m.ReplicationMessage = "", "" // measured anew in its new role
			doc, err := marshal(m)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE instances SET doc = ? WHERE id = ?`, doc, m.ID); err != nil {
				return err
			}
		}
		if !found {
			return ErrNotFound
		}
		if c.Status != StatusDeleting {
			c.Status, c.StatusReason = StatusFailingOver, ""
		}
		return nil
	})
}

// CA returns the CA the instance's certificate is to come from.
func (in Instance) CA(c Cluster) string {
	switch {
	case in.CAIdentifier != "":
		return in.CAIdentifier
	case c.CAIdentifier != "":
		return c.CAIdentifier
	}
	return LegacyCAIdentifier
}

// StartedParams is the parameter state a server was started with.
type StartedParams struct {
	ClusterGroup string            `json:"cluster_group"`
	DBGroup      string            `json:"db_group"`
	Values       map[string]string `json:"values"`
}

// Parameter group kinds.
const (
	ClusterParamGroup = "cluster"
	DBParamGroup      = "db"
)

// ParameterGroup is a custom DB cluster or DB parameter group. The default groups are not
// stored: they hold the engine defaults and cannot change.
type ParameterGroup struct {
	Name        string            `json:"name"`
	Kind        string            `json:"kind"` // ClusterParamGroup | DBParamGroup
	Family      string            `json:"family"`
	Description string            `json:"description"`
	Values      map[string]string `json:"values,omitempty"`
	// ApplyMethods holds each set parameter's ApplyMethod (immediate | pending-reboot).
	ApplyMethods map[string]string `json:"apply_methods,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	Tags         []Tag             `json:"tags,omitempty"`
}

func paramGroupKey(kind, name string) string { return kind + "/" + name }

func (s *Store) paramGroups() table[ParameterGroup] {
	return table[ParameterGroup]{s.db, "param_groups"}
}

// CreateParameterGroup inserts a new group; ErrExists when the name is taken for its kind.
func (s *Store) CreateParameterGroup(ctx context.Context, g ParameterGroup) error {
	doc, err := marshal(g)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO param_groups (id, doc) VALUES (?, ?)`, paramGroupKey(g.Kind, g.Name), doc)
	return insertErr(err)
}

func (s *Store) ParameterGroup(ctx context.Context, kind, name string) (ParameterGroup, error) {
	return s.paramGroups().get(ctx, paramGroupKey(kind, name))
}

func (s *Store) ParameterGroups(ctx context.Context, kind string) ([]ParameterGroup, error) {
	return s.paramGroups().list(ctx, "WHERE id LIKE ?", kind+"/%")
}

func (s *Store) UpdateParameterGroup(ctx context.Context, kind, name string, fn func(*ParameterGroup) error) (ParameterGroup, error) {
	return s.paramGroups().update(ctx, paramGroupKey(kind, name), fn)
}

// DeleteParameterGroup removes a group unless inUse, run in the same transaction with the
// names of the clusters and instances using it, objects.
func (s *Store) DeleteParameterGroup(ctx context.Context, kind, name string, inUse func(users []string) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	table, field := "clusters", "$.parameter_group"
	if kind == DBParamGroup {
		table = "instances"
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM `+table+` WHERE json_extract(doc, ?) = ? ORDER BY id`, field, name)
	if err != nil {
		return err
	}
	var users []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		users = append(users, id)
	}
	rows.Close()
	if err := inUse(users); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM param_groups WHERE id = ?`, paramGroupKey(kind, name))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return tx.Commit()
}

func (s *Store) accessKeys() table[AccessKey] { return table[AccessKey]{s.db, "access_keys"} }
func (s *Store) clusters() table[Cluster]     { return table[Cluster]{s.db, "clusters"} }
func (s *Store) instances() table[Instance]   { return table[Instance]{s.db, "instances"} }

// PutAccessKey inserts a new access key.
func (s *Store) PutAccessKey(ctx context.Context, k AccessKey) error {
	doc, err := marshal(k)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO access_keys (id, doc) VALUES (?, ?)`, k.ID, doc)
	return insertErr(err)
}

// AccessKey returns one access key.
func (s *Store) AccessKey(ctx context.Context, id string) (AccessKey, error) {
	return s.accessKeys().get(ctx, id)
}

// CreateCluster inserts a new cluster; ErrExists when the identifier is taken.
func (s *Store) CreateCluster(ctx context.Context, c Cluster) error {
	doc, err := marshal(c)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO clusters (id, doc) VALUES (?, ?)`, c.ID, doc)
	return insertErr(err)
}

func (s *Store) Cluster(ctx context.Context, id string) (Cluster, error) {
	return s.clusters().get(ctx, id)
}

func (s *Store) Clusters(ctx context.Context) ([]Cluster, error) { return s.clusters().list(ctx, "") }

// ClusterByResourceID finds a cluster by its DbClusterResourceId, which IAM database
// authentication's dbuser ARNs name.
func (s *Store) ClusterByResourceID(ctx context.Context, resourceID string) (Cluster, error) {
	return queryDoc[Cluster](ctx, s.db, `SELECT doc FROM clusters WHERE json_extract(doc, '$.resource_id') = ?`, resourceID)
}

func (s *Store) UpdateCluster(ctx context.Context, id string, fn func(*Cluster) error) (Cluster, error) {
	return s.clusters().update(ctx, id, fn)
}

func (s *Store) DeleteCluster(ctx context.Context, id string) error {
	return s.clusters().delete(ctx, id)
}

// CreateInstance inserts a new instance; ErrExists when the identifier is taken. The check
// fn runs in the same transaction with the cluster's current record and its instances, so
// that a concurrent DeleteDBCluster cannot slip between the check and the insert.
func (s *Store) CreateInstance(ctx context.Context, in Instance, check func(Cluster, []Instance) (Instance, error)) (Instance, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return in, err
	}
	defer tx.Rollback()
	var cdoc string
	if err := tx.QueryRowContext(ctx, `SELECT doc FROM clusters WHERE id = ?`, in.ClusterID).Scan(&cdoc); err != nil {
		return in, notFound(err)
	}
	c, err := decode[Cluster](cdoc)
	if err != nil {
		return in, err
	}
	members, err := instancesOf(ctx, tx, in.ClusterID)
	if err != nil {
		return in, err
	}
	if in, err = check(c, members); err != nil {
		return in, err
	}
	doc, err := marshal(in)
	if err != nil {
		return in, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO instances (id, cluster_id, doc) VALUES (?, ?, ?)`, in.ID, in.ClusterID, doc); err != nil {
		return in, insertErr(err)
	}
	return in, tx.Commit()
}

func (s *Store) Instance(ctx context.Context, id string) (Instance, error) {
	return s.instances().get(ctx, id)
}

func (s *Store) Instances(ctx context.Context) ([]Instance, error) {
	return s.instances().list(ctx, "")
}

func (s *Store) ClusterInstances(ctx context.Context, clusterID string) ([]Instance, error) {
	return s.instances().list(ctx, "WHERE cluster_id = ?", clusterID)
}

func (s *Store) UpdateInstance(ctx context.Context, id string, fn func(*Instance) error) (Instance, error) {
	return s.instances().update(ctx, id, fn)
}

func (s *Store) DeleteInstance(ctx context.Context, id string) error {
	return s.instances().delete(ctx, id)
}

// MarkClusterDeleting sets a cluster's status to deleting unless refuse, shown the cluster
// and its instances, objects: check and change are one transaction, so no instance can be
// added in between.
func (s *Store) MarkClusterDeleting(ctx context.Context, id string, refuse func(Cluster, []Instance) error) (Cluster, error) {
	return s.clusters().updateTx(ctx, id, func(tx *sql.Tx, c *Cluster) error {
		members, err := instancesOf(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := refuse(*c, members); err != nil {
			return err
		}
		c.SetStatus(StatusDeleting)
		return nil
	})
}

func instancesOf(ctx context.Context, tx *sql.Tx, clusterID string) ([]Instance, error) {
	return queryDocs[Instance](ctx, tx, `SELECT doc FROM instances WHERE cluster_id = ? ORDER BY id`, clusterID)
}

func decode[T any](doc string) (T, error) {
	var v T
	err := json.Unmarshal([]byte(doc), &v)
	return v, err
}

func insertErr(err error) error {
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return ErrExists
	}
	return err
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// SubnetGroup is a DB subnet group: the VPC subnets a cluster may be placed in. The
// default group ("default", the default VPC's default subnets) is not stored.
type SubnetGroup struct {
	Name        string      `json:"name"` // lower-case
	Description string      `json:"description"`
	VpcID       string      `json:"vpc_id"`
	Subnets     []SubnetRef `json:"subnets"`
	Tags        []Tag       `json:"tags,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
}

// SubnetRef is a subnet of a DB subnet group.
type SubnetRef struct {
	ID               string `json:"id"`
	AvailabilityZone string `json:"availability_zone"`
}

func (s *Store) subnetGroups() table[SubnetGroup] { return table[SubnetGroup]{s.db, "subnet_groups"} }

// CreateSubnetGroup inserts a DB subnet group; ErrExists when the name is taken.
func (s *Store) CreateSubnetGroup(ctx context.Context, g SubnetGroup) error {
	doc, err := marshal(g)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO subnet_groups (id, doc) VALUES (?, ?)`, g.Name, doc)
	return insertErr(err)
}

func (s *Store) SubnetGroup(ctx context.Context, name string) (SubnetGroup, error) {
	return s.subnetGroups().get(ctx, name)
}

func (s *Store) SubnetGroups(ctx context.Context) ([]SubnetGroup, error) {
	return s.subnetGroups().list(ctx, "")
}

// DeleteSubnetGroup removes a DB subnet group unless inUse, shown the clusters placed in
// it (in the same transaction), objects.
func (s *Store) DeleteSubnetGroup(ctx context.Context, name string, inUse func(clusters []string) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		users, err := queryStrings(ctx, tx, `SELECT id FROM clusters WHERE json_extract(doc, '$.subnet_group') = ? ORDER BY id`, name)
		if err != nil {
			return err
		}
		if err := inUse(users); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM subnet_groups WHERE id = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}
