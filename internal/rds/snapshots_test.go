package rds

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/store"
)

// fakeBackups stands in for the backup engine: it lists the automated snapshots it is given.
type fakeBackups struct {
	auto  []store.ClusterSnapshot
	wakes int
}

func (f *fakeBackups) Automated(context.Context) ([]store.ClusterSnapshot, error) { return f.auto, nil }
func (f *fakeBackups) Wake()                                                      { f.wakes++ }
func (f *fakeBackups) Progress(string) int                                        { return 0 }

// withSnapshot gives s a backup engine (if it has none) and an available manual snapshot
// id of cluster, as the snapshot worker leaves it.
func withSnapshot(t *testing.T, s *Service, cluster, id string) {
	t.Helper()
	if s.cfg.Snapshots == nil {
		s.cfg.Snapshots = &fakeBackups{}
	}
	ctx := context.Background()
	if _, err := s.Do(ctx, "CreateDBClusterSnapshot", query("DBClusterSnapshotIdentifier", id, "DBClusterIdentifier", cluster)); err != nil {
		t.Fatal(err)
	}
	madeSnapshot(t, s, id)
}

// madeSnapshot does what the worker does once the engine made the snapshot.
func madeSnapshot(t *testing.T, s *Service, id string) {
	t.Helper()
	if _, err := s.store.UpdateClusterSnapshot(context.Background(), id, func(snap *store.ClusterSnapshot) error {
		snap.Status, snap.PercentProgress = store.StatusAvailable, 100
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

type describedSnapshots struct {
	Marker string `xml:"Marker"`
	Items  []struct {
		ID, Cluster, Status, Type, Engine, EngineVersion, MasterUsername, Arn, SourceArn, ResourceID string
		Progress, Port, Storage                                                                      int
		Created, ClusterCreated                                                                      string
		IAM, Encrypted                                                                               bool
		Tags                                                                                         []xmlTag
	}
}

func describeSnapshots(t *testing.T, s *Service, kv ...string) describedSnapshots {
	t.Helper()
	out, err := s.Do(context.Background(), "DescribeDBClusterSnapshots", query(kv...))
	if err != nil {
		t.Fatal(err)
	}
	r := out.(describeSnapshotsResult)
	d := describedSnapshots{Marker: r.Marker}
	for _, x := range r.DBClusterSnapshots.Items {
		var created string
		if x.SnapshotCreateTime != nil {
			created = x.SnapshotCreateTime.Format(time.RFC3339)
		}
		d.Items = append(d.Items, struct {
			ID, Cluster, Status, Type, Engine, EngineVersion, MasterUsername, Arn, SourceArn, ResourceID string
			Progress, Port, Storage                                                                      int
			Created, ClusterCreated                                                                      string
			IAM, Encrypted                                                                               bool
			Tags                                                                                         []xmlTag
		}{x.DBClusterSnapshotIdentifier, x.DBClusterIdentifier, x.Status, x.SnapshotType, x.Engine, x.EngineVersion, x.MasterUsername,
			x.DBClusterSnapshotArn, x.SourceDBClusterSnapshotArn, x.DbClusterResourceID, x.PercentProgress, x.Port, x.AllocatedStorage,
			created, x.ClusterCreateTime.Format(time.RFC3339), x.IAMDatabaseAuthenticationEnabled, x.StorageEncrypted, x.TagList.Items})
	}
	return d
}

// A snapshot is creating (0%) until the engine made it, then available (100%), and says
// what its cluster was: engine, version, port, master user, resource id, creation time.
func TestCreateDBClusterSnapshot(t *testing.T) {
	s := newTestService(t)
	b := &fakeBackups{}
	s.cfg.Snapshots = b
	ctx := context.Background()
	newCluster(t, s, "c1")
	if _, err := s.Do(ctx, "CreateDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "s1", "DBClusterIdentifier", "c1")); err != nil {
		wantError(t, err, "InvalidDBClusterStateFault", http.StatusBadRequest)
	} else {
		t.Fatal("a snapshot of a creating cluster was accepted")
	}
	setStatus(t, s, "c1", store.StatusAvailable)
	out, err := s.Do(ctx, "CreateDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "My-Snap", "DBClusterIdentifier", "C1",
		"Tags.Tag.1.Key", "team", "Tags.Tag.1.Value", "a"))
	if err != nil {
		t.Fatal(err)
	}
	if b.wakes != 1 {
		t.Fatalf("the worker was woken %d times", b.wakes)
	}
	x := out.(snapshotResult).DBClusterSnapshot
	c, _ := s.store.Cluster(ctx, "c1")
	if x.DBClusterSnapshotIdentifier != "my-snap" || x.Status != "creating" || x.PercentProgress != 0 || x.SnapshotType != "manual" ||
		x.DBClusterIdentifier != "c1" || x.Engine != Engine || x.EngineVersion != "15.4" || x.Port != c.Port || x.MasterUsername != c.MasterUsername ||
		x.DbClusterResourceID != c.ResourceID || !x.ClusterCreateTime.Equal(c.CreatedAt) || x.StorageEncrypted ||
		x.DBClusterSnapshotArn != "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:my-snap" || len(x.TagList.Items) != 1 {
		t.Fatalf("%+v", x)
	}
	body, err := xml.Marshal(out)
	if err != nil || strings.Contains(string(body), c.MasterPasswordVerifier) || strings.Contains(string(body), "AdminPassword") {
		t.Fatalf("%v %s", err, body)
	}
	for _, kv := range [][]string{
		{"DBClusterSnapshotIdentifier", "my-snap", "DBClusterIdentifier", "c1"},
		{"DBClusterSnapshotIdentifier", "MY-SNAP", "DBClusterIdentifier", "c1"},
	} {
		_, err := s.Do(ctx, "CreateDBClusterSnapshot", query(kv...))
		wantError(t, err, "DBClusterSnapshotAlreadyExistsFault", http.StatusBadRequest)
	}
	_, err = s.Do(ctx, "CreateDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "s2", "DBClusterIdentifier", "nope"))
	wantError(t, err, "DBClusterNotFoundFault", http.StatusNotFound)
	for _, bad := range []string{"1abc", "a--b", "a-", "a_b", strings.Repeat("a", 64), "rds:c1-2024"} {
		_, err := s.Do(ctx, "CreateDBClusterSnapshot", query("DBClusterSnapshotIdentifier", bad, "DBClusterIdentifier", "c1"))
		wantError(t, err, "InvalidParameterValue", http.StatusBadRequest)
	}
	_, err = s.Do(ctx, "CreateDBClusterSnapshot", query("DBClusterIdentifier", "c1"))
	wantError(t, err, "MissingParameter", http.StatusBadRequest)

	madeSnapshot(t, s, "my-snap")
	d := describeSnapshots(t, s)
	if len(d.Items) != 1 || d.Items[0].Status != "available" || d.Items[0].Progress != 100 {
		t.Fatalf("%+v", d)
	}
	// A snapshot being made cannot be deleted; an available one can.
	if _, err := s.Do(ctx, "CreateDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "s2", "DBClusterIdentifier", "c1")); err != nil {
		t.Fatal(err)
	}
	_, err = s.Do(ctx, "DeleteDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "s2"))
	wantError(t, err, "InvalidDBClusterSnapshotStateFault", http.StatusBadRequest)
	out, err = s.Do(ctx, "DeleteDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "My-Snap"))
	if err != nil || out.(snapshotResult).DBClusterSnapshot.Status != "deleting" {
		t.Fatal(out, err)
	}
	_, err = s.Do(ctx, "DeleteDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "My-Snap"))
	wantError(t, err, "InvalidDBClusterSnapshotStateFault", http.StatusBadRequest)
	_, err = s.Do(ctx, "DeleteDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "none"))
	wantError(t, err, "DBClusterSnapshotNotFoundFault", http.StatusNotFound)
}

// Without a backup engine nothing is promised: snapshots and final snapshots are refused.
func TestSnapshotsWithoutBackupsAreRefused(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	newCluster(t, s, "c1")
	setStatus(t, s, "c1", store.StatusAvailable)
	_, err := s.Do(ctx, "CreateDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "s1", "DBClusterIdentifier", "c1"))
	wantError(t, err, "InvalidParameterCombination", http.StatusBadRequest)
	_, err = s.Do(ctx, "DeleteDBCluster", query("DBClusterIdentifier", "c1", "FinalDBSnapshotIdentifier", "f1"))
	wantError(t, err, "InvalidParameterCombination", http.StatusBadRequest)
	if c, _ := s.store.Cluster(ctx, "c1"); c.Status != store.StatusAvailable {
		t.Fatal(c.Status)
	}
}

// DeleteDBCluster keeps a final snapshot as RDS does: without SkipFinalSnapshot it needs
// FinalDBSnapshotIdentifier; with both it refuses; the final snapshot is a manual one of
// the cluster, made before the cluster goes.
func TestDeleteDBClusterFinalSnapshot(t *testing.T) {
	s := newTestService(t)
	s.cfg.Snapshots = &fakeBackups{}
	ctx := context.Background()
	newCluster(t, s, "c1")
	setStatus(t, s, "c1", store.StatusAvailable)
	for _, c := range []struct {
		kv   []string
		code string
	}{
		{[]string{"DBClusterIdentifier", "c1"}, "InvalidParameterCombination"},
		{[]string{"DBClusterIdentifier", "c1", "SkipFinalSnapshot", "false"}, "InvalidParameterCombination"},
		{[]string{"DBClusterIdentifier", "c1", "SkipFinalSnapshot", "true", "FinalDBSnapshotIdentifier", "f1"}, "InvalidParameterCombination"},
		{[]string{"DBClusterIdentifier", "c1", "FinalDBSnapshotIdentifier", "f--1"}, "InvalidParameterValue"},
		{[]string{"DBClusterIdentifier", "c1", "FinalDBSnapshotIdentifier", "f1", "DeleteAutomatedBackups", "false"}, "InvalidParameterCombination"},
	} {
		_, err := s.Do(ctx, "DeleteDBCluster", query(c.kv...))
		wantError(t, err, c.code, http.StatusBadRequest)
	}
	// The volume must exist for a final snapshot to be made of it.
	_, err := s.Do(ctx, "DeleteDBCluster", query("DBClusterIdentifier", "c1", "FinalDBSnapshotIdentifier", "Final-1"))
	wantError(t, err, "InvalidDBClusterStateFault", http.StatusBadRequest)
	s.store.UpdateCluster(ctx, "c1", func(c *store.Cluster) error { c.VolumeReady = true; return nil })
	withSnapshot(t, s, "c1", "taken")
	_, err = s.Do(ctx, "DeleteDBCluster", query("DBClusterIdentifier", "c1", "FinalDBSnapshotIdentifier", "taken"))
	wantError(t, err, "DBClusterSnapshotAlreadyExistsFault", http.StatusBadRequest)
	if c, _ := s.store.Cluster(ctx, "c1"); c.Status != store.StatusAvailable {
		t.Fatal("a refused delete changed the cluster:", c.Status)
	}
	long := "f" + strings.Repeat("x", 200)
	if _, err := s.Do(ctx, "DeleteDBCluster", query("DBClusterIdentifier", "c1", "FinalDBSnapshotIdentifier", long)); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.store.Cluster(ctx, "c1"); c.Status != store.StatusDeleting {
		t.Fatal(c.Status)
	}
	if under, _ := s.store.SnapshotsUnderway(ctx, "c1"); !under {
		t.Fatal("the final snapshot is not underway")
	}
	snap, err := s.store.ClusterSnapshot(ctx, long)
	if err != nil || !snap.Final || snap.Type != "manual" || snap.Status != store.StatusCreating || snap.Source.ID != "c1" {
		t.Fatalf("%+v %v", snap, err)
	}
}

// Copies: CopyTags copies the source's tags, the request's Tags are added; the copy names
// its source; a copy of a snapshot being made, or onto a taken name, is refused.
func TestCopyDBClusterSnapshot(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	newCluster(t, s, "c1")
	setStatus(t, s, "c1", store.StatusAvailable)
	withSnapshot(t, s, "c1", "s1")
	s.Do(ctx, "AddTagsToResource", query("ResourceName", "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:s1", "Tags.Tag.1.Key", "k", "Tags.Tag.1.Value", "v"))
	out, err := s.Do(ctx, "CopyDBClusterSnapshot", query("SourceDBClusterSnapshotIdentifier", "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:s1",
		"TargetDBClusterSnapshotIdentifier", "C2", "CopyTags", "true", "Tags.Tag.1.Key", "k2", "Tags.Tag.1.Value", "v2"))
	if err != nil {
		t.Fatal(err)
	}
	x := out.(snapshotResult).DBClusterSnapshot
	if x.Status != "copying" || x.DBClusterSnapshotIdentifier != "c2" || x.SourceDBClusterSnapshotArn != "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:s1" ||
		len(x.TagList.Items) != 2 || x.DBClusterIdentifier != "c1" {
		t.Fatalf("%+v", x)
	}
	out, err = s.Do(ctx, "CopyDBClusterSnapshot", query("SourceDBClusterSnapshotIdentifier", "s1", "TargetDBClusterSnapshotIdentifier", "c3"))
	if err != nil || len(out.(snapshotResult).DBClusterSnapshot.TagList.Items) != 0 {
		t.Fatal(out, err)
	}
	cp, _ := s.store.ClusterSnapshot(ctx, "c2")
	src, _ := s.store.ClusterSnapshot(ctx, "s1")
	if cp.CopyFrom != src.ResourceID || cp.ResourceID == src.ResourceID || !strings.HasPrefix(cp.ResourceID, "snapshot-") {
		t.Fatalf("the copy %q copies %q, the source is %q", cp.ResourceID, cp.CopyFrom, src.ResourceID)
	}
	for _, c := range []struct {
		src, dst, code string
		status         int
	}{
		{"s1", "s1", "DBClusterSnapshotAlreadyExistsFault", 400},
		{"s1", "c2", "DBClusterSnapshotAlreadyExistsFault", 400},
		{"none", "c4", "DBClusterSnapshotNotFoundFault", 404},
		{"c2", "c4", "InvalidDBClusterSnapshotStateFault", 400}, // still copying
		{"arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:s1", "c4", "InvalidParameterValue", 400},
		{"s1", "4c", "InvalidParameterValue", 400},
		{"rds:c1-2026-12-05-03-10", "c4", "InvalidParameterCombination", 400},
	} {
		_, err := s.Do(ctx, "CopyDBClusterSnapshot", query("SourceDBClusterSnapshotIdentifier", c.src, "TargetDBClusterSnapshotIdentifier", c.dst))
		wantError(t, err, c.code, c.status)
	}
	_, err = s.Do(ctx, "CopyDBClusterSnapshot", query("SourceDBClusterSnapshotIdentifier", "s1", "TargetDBClusterSnapshotIdentifier", "c5", "KmsKeyId", "k"))
	wantError(t, err, "InvalidParameterCombination", 400)
}

// The quota counts every manual snapshot, those being made too.
func TestSnapshotQuota(t *testing.T) {
	s := newTestService(t)
	s.cfg.SnapshotQuota = 2
	ctx := context.Background()
	newCluster(t, s, "c1")
	setStatus(t, s, "c1", store.StatusAvailable)
	withSnapshot(t, s, "c1", "s1")
	if _, err := s.Do(ctx, "CreateDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "s2", "DBClusterIdentifier", "c1")); err != nil {
		t.Fatal(err)
	}
	_, err := s.Do(ctx, "CreateDBClusterSnapshot", query("DBClusterSnapshotIdentifier", "s3", "DBClusterIdentifier", "c1"))
	wantError(t, err, "SnapshotQuotaExceeded", 400)
	_, err = s.Do(ctx, "CopyDBClusterSnapshot", query("SourceDBClusterSnapshotIdentifier", "s1", "TargetDBClusterSnapshotIdentifier", "s3"))
	wantError(t, err, "SnapshotQuotaExceeded", 400)
	s.store.UpdateCluster(ctx, "c1", func(c *store.Cluster) error { c.VolumeReady = true; return nil })
	_, err = s.Do(ctx, "DeleteDBCluster", query("DBClusterIdentifier", "c1", "FinalDBSnapshotIdentifier", "s3"))
	wantError(t, err, "SnapshotQuotaExceeded", 400)
}

// Describe: manual and automated, by cluster, by name, by type, filters, and pages whose
// markers walk every snapshot once.
func TestDescribeDBClusterSnapshots(t *testing.T) {
	s := newTestService(t)
	b := &fakeBackups{}
	s.cfg.Snapshots = b
	ctx := context.Background()
	for _, c := range []string{"c1", "c2"} {
		newCluster(t, s, c)
		setStatus(t, s, c, store.StatusAvailable)
	}
	c1, _ := s.store.Cluster(ctx, "c1")
	b.auto = []store.ClusterSnapshot{{ID: "rds:c1-2026-12-05-03-10", Type: "automated", Source: c1, Status: store.StatusAvailable,
		CreatedAt: time.Date(2026, 12, 5, 3, 10, 0, 0, time.UTC)}}
	for i := range 30 {
		withSnapshot(t, s, []string{"c1", "c2"}[i%2], fmt.Sprintf("snap-%02d", i))
	}
	if d := describeSnapshots(t, s); len(d.Items) != 31 || d.Items[0].ID != "rds:c1-2026-12-05-03-10" || d.Items[0].Type != "automated" {
		t.Fatalf("%d %+v", len(d.Items), d.Items[0])
	}
	for _, c := range []struct {
		kv   []string
		want int
	}{
		{[]string{"SnapshotType", "manual"}, 30},
		{[]string{"SnapshotType", "automated"}, 1},
		{[]string{"SnapshotType", "shared"}, 0},
		{[]string{"SnapshotType", "public"}, 0},
		{[]string{"IncludeShared", "true", "IncludePublic", "true"}, 31},
		{[]string{"DBClusterIdentifier", "C2"}, 15},
		{[]string{"DBClusterIdentifier", "c1", "SnapshotType", "manual"}, 15},
		{[]string{"DBClusterIdentifier", "gone"}, 0},
		{[]string{"DBClusterSnapshotIdentifier", "SNAP-03"}, 1},
		{[]string{"DBClusterSnapshotIdentifier", "rds:c1-2026-12-05-03-10", "SnapshotType", "automated"}, 1},
		{[]string{"DbClusterResourceId", c1.ResourceID}, 16},
		{[]string{"Filters.Filter.1.Name", "db-cluster-id", "Filters.Filter.1.Values.Value.1", "arn:aws:rds:us-east-1:123456789012:cluster:c2"}, 15},
		{[]string{"Filters.Filter.1.Name", "snapshot-type", "Filters.Filter.1.Values.Value.1", "automated"}, 1},
		{[]string{"Filters.Filter.1.Name", "db-cluster-snapshot-id", "Filters.Filter.1.Values.Value.1", "snap-01",
			"Filters.Filter.1.Values.Value.2", "snap-02"}, 2},
		{[]string{"Filters.Filter.1.Name", "engine", "Filters.Filter.1.Values.Value.1", "postgres"}, 0},
	} {
		if d := describeSnapshots(t, s, c.kv...); len(d.Items) != c.want {
			t.Errorf("%v: %d snapshots, want %d", c.kv, len(d.Items), c.want)
		}
	}
	for _, c := range []struct {
		kv   []string
		code string
	}{
		{[]string{"DBClusterSnapshotIdentifier", "none"}, "DBClusterSnapshotNotFoundFault"},
		{[]string{"DBClusterSnapshotIdentifier", "rds:c1-2026-12-05-03-10"}, "DBClusterSnapshotNotFoundFault"},
		{[]string{"DBClusterSnapshotIdentifier", "snap-01", "DBClusterIdentifier", "c1"}, "InvalidParameterCombination"},
		{[]string{"SnapshotType", "weekly"}, "InvalidParameterValue"},
		{[]string{"MaxRecords", "19"}, "InvalidParameterValue"},
		{[]string{"IncludeShared", "maybe"}, "InvalidParameterValue"},
	} {
		_, err := s.Do(ctx, "DescribeDBClusterSnapshots", query(c.kv...))
		status := 400
		if c.code == "DBClusterSnapshotNotFoundFault" {
			status = 404
		}
		wantError(t, err, c.code, status)
	}
	// Paging: 20 at a time, every snapshot once, in order.
	seen := map[string]bool{}
	var marker string
	pages := 0
	for {
		d := describeSnapshots(t, s, "MaxRecords", "20", "Marker", marker)
		pages++
		for _, x := range d.Items {
			if seen[x.ID] {
				t.Fatalf("%s twice", x.ID)
			}
			seen[x.ID] = true
		}
		if d.Marker == "" {
			break
		}
		marker = d.Marker
	}
	if len(seen) != 31 || pages != 2 {
		t.Fatalf("%d snapshots in %d pages", len(seen), pages)
	}
}

// Sharing: the one attribute, restore, lists no account; adding one is refused (one
// account), removing is a no-op; an unknown attribute is refused.
func TestSnapshotAttributes(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	newCluster(t, s, "c1")
	setStatus(t, s, "c1", store.StatusAvailable)
	withSnapshot(t, s, "c1", "s1")
	out, err := s.Do(ctx, "DescribeDBClusterSnapshotAttributes", query("DBClusterSnapshotIdentifier", "S1"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := xml.Marshal(out)
	if !strings.Contains(string(body), "<DBClusterSnapshotIdentifier>s1</DBClusterSnapshotIdentifier><DBClusterSnapshotAttributes><DBClusterSnapshotAttribute><AttributeName>restore</AttributeName>") {
		t.Fatalf("%s", body)
	}
	_, err = s.Do(ctx, "ModifyDBClusterSnapshotAttribute", query("DBClusterSnapshotIdentifier", "s1", "AttributeName", "restore", "ValuesToAdd.AttributeValue.1", "all"))
	wantError(t, err, "InvalidParameterCombination", 400)
	_, err = s.Do(ctx, "ModifyDBClusterSnapshotAttribute", query("DBClusterSnapshotIdentifier", "s1", "AttributeName", "copy"))
	wantError(t, err, "InvalidParameterValue", 400)
	_, err = s.Do(ctx, "ModifyDBClusterSnapshotAttribute", query("DBClusterSnapshotIdentifier", "none", "AttributeName", "restore"))
	wantError(t, err, "DBClusterSnapshotNotFoundFault", 404)
	if _, err = s.Do(ctx, "ModifyDBClusterSnapshotAttribute", query("DBClusterSnapshotIdentifier", "s1", "AttributeName", "restore", "ValuesToRemove.AttributeValue.1", "111111111111")); err != nil {
		t.Fatal(err)
	}
}

// IAM: each snapshot action is decided on the cluster-snapshot ARN (and the cluster it
// reads), canonical however the caller spells it, with the snapshot's tags.
func TestSnapshotIAM(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	for _, c := range []string{"a", "b"} {
		newCluster(t, s, c)
		setStatus(t, s, c, store.StatusAvailable)
	}
	withSnapshot(t, s, "a", "a-snap")
	withSnapshot(t, s, "b", "b-snap")
	s.Do(ctx, "AddTagsToResource", query("ResourceName", "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:b-snap", "Tags.Tag.1.Key", "env", "Tags.Tag.1.Value", "prod"))
	const arn = "arn:aws:rds:us-east-1:123456789012:"
	// May snapshot cluster a (into snapshots named a-*), describe everything, delete nothing.
	narrow := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"rds:CreateDBClusterSnapshot","Resource":["` + arn + `cluster:a","` + arn + `cluster-snapshot:a-*"]},
	 {"Effect":"Allow","Action":["rds:DescribeDBClusterSnapshots","rds:CopyDBClusterSnapshot"],"Resource":"*"},
	 {"Effect":"Deny","Action":"rds:*","Resource":"*","Condition":{"StringEquals":{"rds:cluster-snapshot-tag/env":"prod"}}}]}`
	cases := []struct {
		action string
		kv     []string
		want   policy.Decision
	}{
		{"CreateDBClusterSnapshot", []string{"DBClusterIdentifier", "A", "DBClusterSnapshotIdentifier", "A-2"}, policy.Allow},
		{"CreateDBClusterSnapshot", []string{"DBClusterIdentifier", "b", "DBClusterSnapshotIdentifier", "a-3"}, policy.ImplicitDeny},
		{"CreateDBClusterSnapshot", []string{"DBClusterIdentifier", "a", "DBClusterSnapshotIdentifier", "b-3"}, policy.ImplicitDeny},
		{"DescribeDBClusterSnapshots", nil, policy.Allow},
		{"DescribeDBClusterSnapshots", []string{"DBClusterSnapshotIdentifier", "A-SNAP"}, policy.Allow},
		{"DescribeDBClusterSnapshots", []string{"DBClusterSnapshotIdentifier", "b-snap"}, policy.ExplicitDeny},
		{"DeleteDBClusterSnapshot", []string{"DBClusterSnapshotIdentifier", "a-snap"}, policy.ImplicitDeny},
		{"CopyDBClusterSnapshot", []string{"SourceDBClusterSnapshotIdentifier", "a-snap", "TargetDBClusterSnapshotIdentifier", "x"}, policy.Allow},
		{"CopyDBClusterSnapshot", []string{"SourceDBClusterSnapshotIdentifier", arn + "cluster-snapshot:B-SNAP", "TargetDBClusterSnapshotIdentifier", "x"}, policy.ExplicitDeny},
		{"AddTagsToResource", []string{"ResourceName", arn + "cluster-snapshot:a-snap", "Tags.Tag.1.Key", "k", "Tags.Tag.1.Value", "v"}, policy.ImplicitDeny},
		{"DeleteDBCluster", []string{"DBClusterIdentifier", "a", "FinalDBSnapshotIdentifier", "a-final"}, policy.ImplicitDeny},
	}
	for _, c := range cases {
		if got := decide(t, s, narrow, c.action, query(c.kv...)); got != c.want {
			t.Errorf("%s %v: %v, want %v", c.action, c.kv, got, c.want)
		}
	}
	// Deleting a cluster with a final snapshot needs the snapshot's ARN too; request tags
	// on a new snapshot are aws:RequestTag.
	delOnly := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:DeleteDBCluster","rds:CreateDBClusterSnapshot"],"Resource":"` + arn + `cluster:a"}]}`
	if got := decide(t, s, delOnly, "DeleteDBCluster", query("DBClusterIdentifier", "a", "FinalDBSnapshotIdentifier", "a-final")); got != policy.ImplicitDeny {
		t.Errorf("final snapshot without the snapshot ARN: %v", got)
	}
	if got := decide(t, s, delOnly, "DeleteDBCluster", query("DBClusterIdentifier", "a", "SkipFinalSnapshot", "true")); got != policy.Allow {
		t.Errorf("delete without a final snapshot: %v", got)
	}
	// Restoring is decided on the snapshot with its tags too.
	notProd := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:*","Resource":"*"},
	 {"Effect":"Deny","Action":"rds:*","Resource":"*","Condition":{"StringEquals":{"rds:cluster-snapshot-tag/env":"prod"}}}]}`
	for snap, want := range map[string]policy.Decision{"a-snap": policy.Allow, arn + "cluster-snapshot:B-SNAP": policy.ExplicitDeny} {
		if got := decide(t, s, notProd, "RestoreDBClusterFromSnapshot", query("DBClusterIdentifier", "new", "SnapshotIdentifier", snap)); got != want {
			t.Errorf("restore from %s: %v, want %v", snap, got, want)
		}
	}
	// Tagging on creation is rds:AddTagsToResource too, as RDS documents.
	tagged := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:CreateDBClusterSnapshot","rds:AddTagsToResource"],"Resource":"*",
	 "Condition":{"StringEquals":{"aws:RequestTag/team":"x"},"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}}]}`
	if got := decide(t, s, tagged, "CreateDBClusterSnapshot", query("DBClusterIdentifier", "a", "DBClusterSnapshotIdentifier", "n",
		"Tags.Tag.1.Key", "team", "Tags.Tag.1.Value", "x")); got != policy.Allow {
		t.Errorf("request tags: %v", got)
	}
	if got := decide(t, s, tagged, "CreateDBClusterSnapshot", query("DBClusterIdentifier", "a", "DBClusterSnapshotIdentifier", "n",
		"Tags.Tag.1.Key", "team", "Tags.Tag.1.Value", "y")); got == policy.Allow {
		t.Errorf("other request tags allowed")
	}
}
