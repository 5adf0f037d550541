package rds

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/store"
)

const testARN = "arn:aws:rds:us-east-1:123456789012:"

func clusterCopiesTags(t *testing.T, s *Service, id string) bool {
	t.Helper()
	out, err := s.Do(context.Background(), "DescribeDBClusters", query("DBClusterIdentifier", id))
	if err != nil {
		t.Fatal(err)
	}
	return out.(describeClustersResult).DBClusters.Items[0].CopyTagsToSnapshot
}

func snapshotTagsNow(t *testing.T, s *Service, id string) []store.Tag {
	t.Helper()
	snap, err := s.store.ClusterSnapshot(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return snap.Tags
}

func tagList(kv ...string) []store.Tag {
	var out []store.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, store.Tag{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

// CopyTagsToSnapshot is accepted where Aurora takes it (CreateDBCluster, ModifyDBCluster,
// both restores), kept, and shown by DescribeDBClusters; a DB instance's, which Aurora
// ignores, is refused rather than ignored.
func TestCopyTagsToSnapshotIsKeptAndShown(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	if _, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("c1", "CopyTagsToSnapshot", "true")...)); err != nil {
		t.Fatal(err)
	}
	if !clusterCopiesTags(t, s, "c1") {
		t.Fatal("CreateDBCluster CopyTagsToSnapshot true: DescribeDBClusters says false")
	}
	newCluster(t, s, "c2")
	if clusterCopiesTags(t, s, "c2") {
		t.Fatal("the default is not to copy")
	}
	setStatus(t, s, "c1", store.StatusAvailable)
	if _, err := s.Do(ctx, "ModifyDBCluster", query("DBClusterIdentifier", "c1", "CopyTagsToSnapshot", "yes")); code(err) != "InvalidParameterValue" {
		t.Fatalf("a bad boolean: %v", err)
	}
	if !clusterCopiesTags(t, s, "c1") {
		t.Fatal("a refused modify changed CopyTagsToSnapshot")
	}
	if _, err := s.Do(ctx, "ModifyDBCluster", query("DBClusterIdentifier", "c1", "CopyTagsToSnapshot", "false")); err != nil {
		t.Fatal(err)
	}
	if clusterCopiesTags(t, s, "c1") {
		t.Fatal("ModifyDBCluster CopyTagsToSnapshot false: still true")
	}
	// Both restores.
	src, _ := s.store.Cluster(ctx, "c1")
	s.cfg.Backups = func(string) (BackupView, bool) {
		return BackupView{Earliest: time.Now().Add(-time.Hour), Latest: time.Now()}, true
	}
	s.cfg.SnapshotSources = func(context.Context, string) (SnapshotSource, error) {
		return SnapshotSource{BackupID: "snapshot-x", Source: src, Available: true}, nil
	}
	if _, err := s.Do(ctx, "RestoreDBClusterToPointInTime", query("DBClusterIdentifier", "r1", "SourceDBClusterIdentifier", "c1",
		"UseLatestRestorableTime", "true", "CopyTagsToSnapshot", "true")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Do(ctx, "RestoreDBClusterFromSnapshot", query("DBClusterIdentifier", "r2", "SnapshotIdentifier", "s",
		"Engine", "aurora-postgresql", "CopyTagsToSnapshot", "true")); err != nil {
		t.Fatal(err)
	}
	if !clusterCopiesTags(t, s, "r1") || !clusterCopiesTags(t, s, "r2") {
		t.Fatal("a restore's CopyTagsToSnapshot was not kept")
	}
	if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1", "CopyTagsToSnapshot", "true")); code(err) != "InvalidParameterCombination" {
		t.Fatalf("an instance's CopyTagsToSnapshot: %v", err)
	}
}

// With CopyTagsToSnapshot, a snapshot gets the cluster's tags as they are when it is asked
// for: a manual one asked without Tags and the final one. A request's own Tags replace
// them, as RDS documents, so the snapshot never holds more than 50. Without
// CopyTagsToSnapshot, snapshots get none of the cluster's.
func TestSnapshotsCopyTheClusterTags(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	s.cfg.Snapshots = &fakeBackups{}
	kv := []string{"CopyTagsToSnapshot", "true"}
	for i := 1; i <= 50; i++ {
		kv = append(kv, fmt.Sprintf("Tags.Tag.%d.Key", i), fmt.Sprintf("k%02d", i), fmt.Sprintf("Tags.Tag.%d.Value", i), "v")
	}
	if _, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("full", kv...)...)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("plain", "Tags.Tag.1.Key", "team", "Tags.Tag.1.Value", "a")...)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"full", "plain"} {
		setStatus(t, s, c, store.StatusAvailable)
	}
	c, _ := s.store.Cluster(ctx, "full")
	withSnapshot(t, s, "full", "copied")
	if got := snapshotTagsNow(t, s, "copied"); !slices.Equal(got, c.Tags) {
		t.Fatalf("snapshot tags %v, want the cluster's 50", got)
	}
	if _, err := s.Do(ctx, "CreateDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "own", "DBClusterIdentifier", "full",
		"Tags.Tag.1.Key", "mine", "Tags.Tag.1.Value", "x")); err != nil {
		t.Fatal(err)
	}
	if got := snapshotTagsNow(t, s, "own"); !slices.Equal(got, tagList("mine", "x")) {
		t.Fatalf("a snapshot asked with tags got %v, want only its own", got)
	}
	withSnapshot(t, s, "plain", "untagged")
	if got := snapshotTagsNow(t, s, "untagged"); len(got) != 0 {
		t.Fatalf("a cluster that does not copy its tags gave its snapshot %v", got)
	}
	// A later change to the cluster's tags leaves the snapshot's alone.
	if _, err := s.Do(ctx, "RemoveTagsFromResource", query("ResourceName", testARN+"cluster:full", "TagKeys.member.1", "k01")); err != nil {
		t.Fatal(err)
	}
	if got := snapshotTagsNow(t, s, "copied"); len(got) != 50 {
		t.Fatalf("the snapshot followed its cluster's tags: %d", len(got))
	}
	// Copying a 50-tag snapshot with its tags and one more is over the limit: refused,
	// nothing made; the same copy with a tag it already has is not.
	if _, err := s.Do(ctx, "CopyDBClusterSnapshot", query("SourceDBClusterSnapshotIdentifier", "copied", "TargetDBClusterSnapshotIdentifier", "over",
		"CopyTags", "true", "Tags.Tag.1.Key", "extra", "Tags.Tag.1.Value", "x")); code(err) != "TagQuotaPerResourceExceeded" {
		t.Fatalf("51 tags on a copy: %v", err)
	}
	if _, err := s.store.ClusterSnapshot(ctx, "over"); err == nil {
		t.Fatal("the refused copy exists")
	}
	if _, err := s.Do(ctx, "CopyDBClusterSnapshot", query("SourceDBClusterSnapshotIdentifier", "copied", "TargetDBClusterSnapshotIdentifier", "same",
		"CopyTags", "true", "Tags.Tag.1.Key", "k01", "Tags.Tag.1.Value", "new")); err != nil {
		t.Fatal(err)
	}
	if got := snapshotTagsNow(t, s, "same"); len(got) != 50 || got[0] != (store.Tag{Key: "k01", Value: "new"}) {
		t.Fatalf("copy tags %v", got[:1])
	}
	// The final snapshot copies the tags the cluster has when it is deleted.
	if _, err := s.store.UpdateCluster(ctx, "full", func(c *store.Cluster) error { c.VolumeReady = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Do(ctx, "DeleteDBCluster", query("DBClusterIdentifier", "full", "FinalDBSnapshotIdentifier", "last")); err != nil {
		t.Fatal(err)
	}
	if got := snapshotTagsNow(t, s, "last"); len(got) != 49 || slices.Contains(got, store.Tag{Key: "k01", Value: "v"}) {
		t.Fatalf("final snapshot tags: %d", len(got))
	}
}

// Tags set on a new resource are rds:AddTagsToResource as well as the create, as RDS
// documents for tagging on creation; tags copied to a snapshot (CopyTagsToSnapshot,
// CopyTags) count as set: a user who may not tag, or may not set a tag, cannot get it on
// a snapshot by having it copied. The attack: a user denied rds:AddTagsToResource takes a
// snapshot of a cluster that copies its tags.
func TestCopiedTagsAreAuthorizedAsTagging(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	s.cfg.Snapshots = &fakeBackups{}
	if _, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("copies", "CopyTagsToSnapshot", "true",
		"Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "admin")...)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("keeps", "Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "admin")...)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"copies", "keeps"} {
		setStatus(t, s, c, store.StatusAvailable)
	}
	withSnapshot(t, s, "keeps", "tagged")
	if _, err := s.Do(ctx, "AddTagsToResource", query("ResourceName", testARN+"cluster-snapshot:tagged", "Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "admin")); err != nil {
		t.Fatal(err)
	}
	noTagging := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:*","Resource":"*"},
	 {"Effect":"Deny","Action":"rds:AddTagsToResource","Resource":"*"}]}`
	// May tag only with owner=alice.
	ownTags := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:*","Resource":"*"},
	 {"Effect":"Deny","Action":"rds:AddTagsToResource","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestTag/owner":"alice"}}}]}`
	for _, c := range []struct {
		action string
		kv     []string
		want   map[string]policy.Decision // policy → decision
	}{
		{"CreateDBClusterSnapshot", []string{"DBClusterIdentifier", "copies", "DBClusterSnapshotIdentifier", "n"},
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.ExplicitDeny}},
		{"CreateDBClusterSnapshot", []string{"DBClusterIdentifier", "copies", "DBClusterSnapshotIdentifier", "n", "Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "alice"},
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.Allow}},
		{"CreateDBClusterSnapshot", []string{"DBClusterIdentifier", "keeps", "DBClusterSnapshotIdentifier", "n"},
			map[string]policy.Decision{noTagging: policy.Allow, ownTags: policy.Allow}},
		{"DeleteDBCluster", []string{"DBClusterIdentifier", "copies", "FinalDBSnapshotIdentifier", "f"},
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.ExplicitDeny}},
		{"DeleteDBCluster", []string{"DBClusterIdentifier", "keeps", "FinalDBSnapshotIdentifier", "f"},
			map[string]policy.Decision{noTagging: policy.Allow, ownTags: policy.Allow}},
		{"CopyDBClusterSnapshot", []string{"SourceDBClusterSnapshotIdentifier", "tagged", "TargetDBClusterSnapshotIdentifier", "x", "CopyTags", "true"},
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.ExplicitDeny}},
		// The request's owner=alice replaces the copied owner=admin.
		{"CopyDBClusterSnapshot", []string{"SourceDBClusterSnapshotIdentifier", "tagged", "TargetDBClusterSnapshotIdentifier", "x", "CopyTags", "true",
			"Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "alice"},
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.Allow}},
		{"CopyDBClusterSnapshot", []string{"SourceDBClusterSnapshotIdentifier", "tagged", "TargetDBClusterSnapshotIdentifier", "x"},
			map[string]policy.Decision{noTagging: policy.Allow, ownTags: policy.Allow}},
		// Every create with Tags, as documented.
		{"CreateDBCluster", clusterQuery("n", "Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "admin"),
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.ExplicitDeny}},
		{"CreateDBCluster", clusterQuery("n", "Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "alice"),
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.Allow}},
		{"CreateDBCluster", clusterQuery("n"), map[string]policy.Decision{noTagging: policy.Allow, ownTags: policy.Allow}},
		{"CreateDBInstance", []string{"DBInstanceIdentifier", "i", "DBClusterIdentifier", "keeps", "Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "admin"},
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.ExplicitDeny}},
		{"RestoreDBClusterFromSnapshot", []string{"DBClusterIdentifier", "r", "SnapshotIdentifier", "tagged", "Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "admin"},
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.ExplicitDeny}},
		{"RestoreDBClusterToPointInTime", []string{"DBClusterIdentifier", "r", "SourceDBClusterIdentifier", "keeps", "Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "admin"},
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.ExplicitDeny}},
		{"CreateDBSubnetGroup", []string{"DBSubnetGroupName", "g", "Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "admin"},
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.ExplicitDeny}},
		{"CreateDBClusterParameterGroup", []string{"DBClusterParameterGroupName", "g", "Tags.Tag.1.Key", "owner", "Tags.Tag.1.Value", "admin"},
			map[string]policy.Decision{noTagging: policy.ExplicitDeny, ownTags: policy.ExplicitDeny}},
	} {
		for doc, want := range c.want {
			name := map[string]string{noTagging: "no tagging", ownTags: "owner=alice only"}[doc]
			if got := decide(t, s, doc, c.action, query(c.kv...)); got != want {
				t.Errorf("%s (%s) %v: %v, want %v", c.action, name, c.kv, got, want)
			}
		}
	}
}

// An automated snapshot carries the tags its backup was taken with: DescribeDBClusterSnapshots
// and ListTagsForResource show them, IAM decides on them, and they cannot be changed.
func TestAutomatedSnapshotTags(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	c, _ := s.store.Cluster(ctx, "c1")
	const auto = "rds:c1-2026-12-05-06-15"
	s.cfg.Snapshots = &fakeBackups{auto: []store.ClusterSnapshot{{ID: auto, Type: store.SnapshotAutomated, Source: c,
		Status: store.StatusAvailable, Tags: tagList("env", "prod")}}}
	d := describeSnapshots(t, s, "DBClusterSnapshotIdentifier", auto, "SnapshotType", "automated")
	if len(d.Items) != 1 || len(d.Items[0].Tags) != 1 || d.Items[0].Tags[0] != (xmlTag{"env", "prod"}) {
		t.Fatalf("described %+v", d.Items)
	}
	out, err := s.Do(ctx, "ListTagsForResource", query("ResourceName", testARN+"cluster-snapshot:"+auto))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(out); got != "{{[{env prod}]}}" {
		t.Fatalf("listed %s", got)
	}
	if _, err := s.Do(ctx, "AddTagsToResource", query("ResourceName", testARN+"cluster-snapshot:"+auto, "Tags.Tag.1.Key", "env", "Tags.Tag.1.Value", "dev")); err == nil {
		t.Fatal("an automated snapshot's tags were changed")
	} else {
		wantError(t, err, "InvalidDBClusterSnapshotStateFault", http.StatusBadRequest)
	}
	if _, err := s.Do(ctx, "ListTagsForResource", query("ResourceName", testARN+"cluster-snapshot:rds:c1-2020-01-01-00-00")); code(err) != "DBClusterSnapshotNotFoundFault" {
		t.Fatalf("an automated snapshot that does not exist: %v", err)
	}
	notProd := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:*","Resource":"*"},
	 {"Effect":"Deny","Action":"rds:*","Resource":"*","Condition":{"StringEquals":{"rds:cluster-snapshot-tag/env":"prod"}}}]}`
	if got := decide(t, s, notProd, "DescribeDBClusterSnapshots", query("DBClusterSnapshotIdentifier", auto, "SnapshotType", "automated")); got != policy.ExplicitDeny {
		t.Fatalf("describe of a prod-tagged automated snapshot: %v", got)
	}
	if got := decide(t, s, notProd, "ListTagsForResource", query("ResourceName", testARN+"cluster-snapshot:"+auto)); got != policy.ExplicitDeny {
		t.Fatalf("listing a prod-tagged automated snapshot's tags: %v", got)
	}
}

// No manual snapshot can take an automated snapshot's name (rds:...): not by create, copy
// or a final snapshot, whatever the case; so none shadows one, and deleting by that name
// never reaches a manual snapshot.
func TestNoSnapshotTakesAnAutomatedName(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	s.cfg.Snapshots = &fakeBackups{}
	newCluster(t, s, "c1")
	setStatus(t, s, "c1", store.StatusAvailable)
	withSnapshot(t, s, "c1", "src")
	for _, name := range []string{"rds:c1-2026-12-05-06-15", "RDS:c1-2026-12-05-06-15", "rds-c1:x"} {
		for _, req := range []struct{ action, param string }{
			{"CreateDBClusterSnapshot", "DBClusterSnapshotIdentifier"},
			{"CopyDBClusterSnapshot", "TargetDBClusterSnapshotIdentifier"},
			{"DeleteDBCluster", "FinalDBSnapshotIdentifier"},
		} {
			kv := []string{req.param, name, "DBClusterIdentifier", "c1"}
			if req.action == "CopyDBClusterSnapshot" {
				kv = []string{req.param, name, "SourceDBClusterSnapshotIdentifier", "src"}
			}
			if _, err := s.Do(ctx, req.action, query(kv...)); code(err) != "InvalidParameterValue" {
				t.Errorf("%s %s: %v, want InvalidParameterValue", req.action, name, err)
			}
		}
	}
	if snaps, _ := s.store.ClusterSnapshots(ctx); len(snaps) != 1 {
		t.Fatalf("snapshots %v", snaps)
	}
	if c, _ := s.store.Cluster(ctx, "c1"); c.Status != store.StatusAvailable {
		t.Fatalf("cluster %s", c.Status)
	}
}
