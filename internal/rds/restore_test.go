package rds

import (
	"context"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/store"
)

// A point-in-time restore is checked against the source's restorable window and makes a new
// cluster, creating, from the source at that time: the request's port, the source's master.
func TestRestoreToPointInTimeMakesANewClusterInsideTheWindow(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	start := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	s.cfg.Backups = func(id string) (BackupView, bool) {
		return BackupView{Earliest: start, Latest: start.Add(time.Hour)}, id == "c1"
	}
	for _, at := range []string{"2026-12-05T05:59:59Z", "2026-12-05T07:00:01Z"} {
		if _, err := s.Do(ctx, "RestoreDBClusterToPointInTime", query("DBClusterIdentifier", "r1", "SourceDBClusterIdentifier", "c1",
			"RestoreToTime", at)); code(err) != "InvalidRestoreFault" {
			t.Errorf("restore to %s: %v, want InvalidRestoreFault", at, err)
		}
	}
	if _, err := s.Do(ctx, "RestoreDBClusterToPointInTime", query("DBClusterIdentifier", "r1", "SourceDBClusterIdentifier", "nope",
		"UseLatestRestorableTime", "true")); code(err) != "DBClusterNotFoundFault" {
		t.Errorf("unknown source: %v", err)
	}
	if _, err := s.Do(ctx, "RestoreDBClusterToPointInTime", query("DBClusterIdentifier", "r1", "SourceDBClusterIdentifier", "c1",
		"RestoreToTime", "2026-12-05T06:30:00Z", "Port", "6001", "BackupRetentionPeriod", "14")); err != nil {
		t.Fatal(err)
	}
	src, _ := s.store.Cluster(ctx, "c1")
	r, err := s.store.Cluster(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	want := store.RestoreSource{ResourceID: src.ResourceID, Time: start.Add(30 * time.Minute)}
	if r.RestoredFrom == nil || *r.RestoredFrom != want || r.Status != store.StatusCreating || r.Port != 6001 ||
		r.MasterUsername != src.MasterUsername || r.RetentionDays() != 14 || r.ResourceID == src.ResourceID {
		t.Fatalf("restored cluster %+v from %+v", r, r.RestoredFrom)
	}
}

// A restore from a snapshot takes the snapshot's source record and names its data.
func TestRestoreFromSnapshot(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	src, _ := s.store.Cluster(ctx, "c1")
	s.cfg.Backups = func(string) (BackupView, bool) { return BackupView{}, false }
	s.cfg.SnapshotSources = func(_ context.Context, id string) (SnapshotSource, error) {
		switch id {
		case "snap1":
			return SnapshotSource{BackupID: "snapshot-abc", Source: src, Available: true}, nil
		case "busy":
			return SnapshotSource{BackupID: "snapshot-def", Source: src}, nil
		}
		return SnapshotSource{}, store.ErrNotFound
	}
	for id, want := range map[string]string{"nope": "DBClusterSnapshotNotFoundFault", "busy": "InvalidDBClusterSnapshotStateFault"} {
		if _, err := s.Do(ctx, "RestoreDBClusterFromSnapshot", query("DBClusterIdentifier", "r1", "SnapshotIdentifier", id,
			"Engine", Engine)); code(err) != want {
			t.Errorf("snapshot %s: %v, want %s", id, err, want)
		}
	}
	if _, err := s.Do(ctx, "RestoreDBClusterFromSnapshot", query("DBClusterIdentifier", "r1",
		"SnapshotIdentifier", "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:snap1", "Engine", Engine)); err != nil {
		t.Fatal(err)
	}
	r, err := s.store.Cluster(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if r.RestoredFrom == nil || r.RestoredFrom.SnapshotID != "snapshot-abc" || r.RestoredFrom.ResourceID != src.ResourceID {
		t.Fatalf("restored from %+v", r.RestoredFrom)
	}
}

// A restore is authorized on the new cluster and on its source (cluster or
// cluster-snapshot), not on DescribeDBClusters: a user allowed to restore from dev-* into
// scratch-* may, and one whose policy names only the new cluster may not read prod-* by
// restoring it.
func TestRestoreIsAuthorizedOnTheSourceAndTheNewCluster(t *testing.T) {
	s := newTestService(t)
	const restorer = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
	 "Action":["rds:RestoreDBClusterToPointInTime","rds:RestoreDBClusterFromSnapshot"],
	 "Resource":["arn:aws:rds:us-east-1:123456789012:cluster:scratch-*","arn:aws:rds:us-east-1:123456789012:cluster:dev-*",
	  "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:dev-*"]}]}`
	for _, tc := range []struct {
		action string
		p      awsquery.Params
		want   policy.Decision
	}{
		{"RestoreDBClusterToPointInTime", query("DBClusterIdentifier", "scratch-1", "SourceDBClusterIdentifier", "DEV-A", "UseLatestRestorableTime", "true"), policy.Allow},
		{"RestoreDBClusterToPointInTime", query("DBClusterIdentifier", "scratch-1", "SourceDBClusterIdentifier", "prod-a", "UseLatestRestorableTime", "true"), policy.ImplicitDeny},
		{"RestoreDBClusterToPointInTime", query("DBClusterIdentifier", "prod-b", "SourceDBClusterIdentifier", "dev-a", "UseLatestRestorableTime", "true"), policy.ImplicitDeny},
		{"RestoreDBClusterFromSnapshot", query("DBClusterIdentifier", "scratch-1", "SnapshotIdentifier", "dev-snap", "Engine", Engine), policy.Allow},
		{"RestoreDBClusterFromSnapshot", query("DBClusterIdentifier", "scratch-1", "SnapshotIdentifier", "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:prod-snap", "Engine", Engine), policy.ImplicitDeny},
	} {
		if got := decide(t, s, restorer, tc.action, tc.p); got != tc.want {
			t.Errorf("%s %v: %v, want %v", tc.action, tc.p.Values, got, tc.want)
		}
	}
}
