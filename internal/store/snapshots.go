package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// StatusCopying is a snapshot's status while CopyDBClusterSnapshot makes it.
const StatusCopying Status = "copying"

// Snapshot types, as DescribeDBClusterSnapshots names them.
const (
	SnapshotManual    = "manual"
	SnapshotAutomated = "automated"
)

// ClusterSnapshot is a manual DB cluster snapshot: CreateDBClusterSnapshot,
// CopyDBClusterSnapshot or DeleteDBCluster's final snapshot. The backup engine makes its
// data, named by ResourceID; until that is complete its status is creating (or copying),
// never available.
type ClusterSnapshot struct {
	ID string `json:"id"` // the identifier, lower-case
	// ResourceID names the snapshot's data in the backup engine: never reused, so that a
	// name deleted and taken again never meets the old data.
	ResourceID string `json:"resource_id"`
	Type       string `json:"type"`
	// Source is the cluster's record as it was when the snapshot was asked for: what
	// Describe reports of it, and what a restore needs (secrets included: the restored
	// data's rdsadmin password and the master's verifier; never rendered).
	Source          Cluster   `json:"source"`
	Status          Status    `json:"status"`
	StatusReason    string    `json:"status_reason,omitempty"`
	PercentProgress int       `json:"percent_progress"`
	CreatedAt       time.Time `json:"created_at"` // SnapshotCreateTime: the data's moment once made
	Tags            []Tag     `json:"tags,omitempty"`
	// CopyOf is the snapshot a copy was made from (SourceDBClusterSnapshotArn), and
	// CopyFrom that snapshot's ResourceID, which the engine copies.
	CopyOf   string `json:"copy_of,omitempty"`
	CopyFrom string `json:"copy_from,omitempty"`
	// Final marks DeleteDBCluster's final snapshot: the cluster's volume is kept until it is made.
	Final bool `json:"final,omitempty"`
}

// Underway reports whether the snapshot is still being made.
func (s ClusterSnapshot) Underway() bool {
	return s.Status == StatusCreating || s.Status == StatusCopying
}

func (s *Store) clusterSnapshots() table[ClusterSnapshot] {
	return table[ClusterSnapshot]{s.db, "cluster_snapshots"}
}

// ErrQuota is returned when a new manual snapshot would exceed the quota.
var ErrQuota = errors.New("store: snapshot quota reached")

// insertSnapshot adds snap unless its name is taken (ErrExists) or quota manual
// snapshots exist already (ErrQuota; quota <= 0 sets no limit).
func insertSnapshot(ctx context.Context, tx *sql.Tx, snap ClusterSnapshot, quota int) error {
	if quota > 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM cluster_snapshots`).Scan(&n); err != nil {
			return err
		}
		if n >= quota {
			return ErrQuota
		}
	}
	doc, err := marshal(snap)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO cluster_snapshots (id, cluster_id, doc) VALUES (?, ?, ?)`, snap.ID, snap.Source.ID, doc)
	return insertErr(err)
}

// CreateClusterSnapshot adds a snapshot of cluster clusterID: check, shown the cluster's
// current record, refuses or returns the snapshot to insert (its Source filled from it),
// in the same transaction as the insert.
func (s *Store) CreateClusterSnapshot(ctx context.Context, clusterID string, quota int, check func(Cluster) (ClusterSnapshot, error)) (ClusterSnapshot, error) {
	var snap ClusterSnapshot
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		c, err := queryDoc[Cluster](ctx, tx, `SELECT doc FROM clusters WHERE id = ?`, clusterID)
		if err != nil {
			return err
		}
		if snap, err = check(c); err != nil {
			return err
		}
		return insertSnapshot(ctx, tx, snap, quota)
	})
	return snap, err
}

// CopyClusterSnapshot adds target, a copy of snapshot sourceID: check, shown the source,
// refuses or returns the copy, in the same transaction as the insert.
func (s *Store) CopyClusterSnapshot(ctx context.Context, sourceID string, quota int, check func(ClusterSnapshot) (ClusterSnapshot, error)) (ClusterSnapshot, error) {
	var snap ClusterSnapshot
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		src, err := queryDoc[ClusterSnapshot](ctx, tx, `SELECT doc FROM cluster_snapshots WHERE id = ?`, sourceID)
		if err != nil {
			return err
		}
		if snap, err = check(src); err != nil {
			return err
		}
		return insertSnapshot(ctx, tx, snap, quota)
	})
	return snap, err
}

// MarkClusterDeletingWithSnapshot is MarkClusterDeleting that also adds the cluster's final
// snapshot (made by final from the cluster's record), all in one transaction: the cluster is
// deleting only if its final snapshot exists.
func (s *Store) MarkClusterDeletingWithSnapshot(ctx context.Context, id string, quota int, refuse func(Cluster, []Instance) error,
	final func(Cluster) ClusterSnapshot) (Cluster, ClusterSnapshot, error) {
	var snap ClusterSnapshot
	c, err := s.clusters().updateTx(ctx, id, func(tx *sql.Tx, c *Cluster) error {
		members, err := instancesOf(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := refuse(*c, members); err != nil {
			return err
		}
		snap = final(*c)
		if err := insertSnapshot(ctx, tx, snap, quota); err != nil {
			return err
		}
		c.SetStatus(StatusDeleting)
		return nil
	})
	return c, snap, err
}

// InsertClusterSnapshot adds snap: ErrExists if its name is taken, ErrQuota past quota.
func (s *Store) InsertClusterSnapshot(ctx context.Context, snap ClusterSnapshot, quota int) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return insertSnapshot(ctx, tx, snap, quota) })
}

// ClusterSnapshot returns one snapshot.
func (s *Store) ClusterSnapshot(ctx context.Context, id string) (ClusterSnapshot, error) {
	return s.clusterSnapshots().get(ctx, id)
}

// ClusterSnapshots returns every snapshot, ordered by identifier.
func (s *Store) ClusterSnapshots(ctx context.Context) ([]ClusterSnapshot, error) {
	return s.clusterSnapshots().list(ctx, "")
}

// UpdateClusterSnapshot changes one snapshot in a transaction.
func (s *Store) UpdateClusterSnapshot(ctx context.Context, id string, fn func(*ClusterSnapshot) error) (ClusterSnapshot, error) {
	return s.clusterSnapshots().update(ctx, id, fn)
}

// DeleteClusterSnapshot removes a snapshot's record; its data is the engine's to release.
func (s *Store) DeleteClusterSnapshot(ctx context.Context, id string) error {
	return s.clusterSnapshots().delete(ctx, id)
}

// SnapshotsUnderway reports whether a snapshot of the cluster is still being made, so that
// its volume is not destroyed under it.
func (s *Store) SnapshotsUnderway(ctx context.Context, clusterID string) (bool, error) {
	snaps, err := s.clusterSnapshots().list(ctx, "WHERE cluster_id = ?", clusterID)
	if err != nil {
		return false, err
	}
	for _, snap := range snaps {
		if snap.Status == StatusCreating {
			return true, nil
		}
	}
	return false, nil
}

// CopiesUnderway reports whether a copy is being made from the data named resourceID.
func (s *Store) CopiesUnderway(ctx context.Context, resourceID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM cluster_snapshots WHERE json_extract(doc, '$.copy_from') = ? AND json_extract(doc, '$.status') = ?`,
		resourceID, string(StatusCopying)).Scan(&n)
	return n > 0, err
}

// AutomatedSnapshotName is the name an automated backup of cluster, begun at t, has as
// an automated snapshot, as RDS names them: rds:CLUSTER-YYYY-MM-DD-HH-MM.
func AutomatedSnapshotName(cluster string, t time.Time) string {
	return "rds:" + cluster + "-" + t.UTC().Format("2006-01-02-15-04")
}
