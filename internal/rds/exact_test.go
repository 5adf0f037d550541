package rds

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/store"
)

func clusterQuery(id string, kv ...string) []string {
	return append([]string{"DBClusterIdentifier", id, "Engine", "aurora-postgresql",
		"MasterUsername", "dbmaster", "MasterUserPassword", "S3cret-pass!"}, kv...)
}

// noClusters checks that refused requests created nothing.
func noClusters(t *testing.T, s *Service) {
	t.Helper()
	if cs, err := s.store.Clusters(context.Background()); err != nil || len(cs) != 0 {
		t.Fatalf("a refused create left clusters: %v %v", cs, err)
	}
}

// EngineVersion is the major version or exactly the one Borealis runs; any other 15.x is
// refused as RDS refuses a version it does not offer, instead of becoming the installed one.
func TestCreateDBClusterEngineVersionIsExact(t *testing.T) {
	s := newTestService(t) // runs 15.4
	ctx := context.Background()
	for _, v := range []string{"15.99", "15.3", "15.4.0", "16.1"} {
		_, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("c1", "EngineVersion", v)...))
		wantError(t, err, "InvalidParameterCombination", http.StatusBadRequest)
		if !strings.Contains(err.Error(), "Cannot find version "+v+" for aurora-postgresql") {
			t.Errorf("%s: %v", v, err)
		}
		_, err = s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1", "EngineVersion", v))
		wantError(t, err, "InvalidParameterCombination", http.StatusBadRequest)
	}
	noClusters(t, s)
	for i, v := range []string{"15", "15.4", ""} {
		id := "ok" + string(rune('a'+i))
		out, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery(id, "EngineVersion", v)...))
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got := out.(clusterResult).DBCluster.EngineVersion; got != "15.4" {
			t.Errorf("%q: runs %s", v, got)
		}
	}
}

// Do or refuse: what CreateDBCluster cannot carry out is refused with an RDS error and
// creates nothing; the same members at their defaults (what Borealis does anyway) pass.
func TestCreateDBClusterRefusesWhatItDoesNotDo(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	for _, kv := range [][]string{
		{"StorageEncrypted", "true"},
		{"StorageEncrypted", "TRUE"},
		{"KmsKeyId", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
		{"PreferredMaintenanceWindow", "sun:03:00-sun:03:30"},
		{"AvailabilityZones.AvailabilityZone.1", "us-east-1a"},
		{"EngineMode", "serverless"},
		{"ManageMasterUserPassword", "true"},
		{"EnableCloudwatchLogsExports.member.1", "postgresql"},
		{"GlobalClusterIdentifier", "g1"},
		{"ReplicationSourceIdentifier", "arn:aws:rds:us-east-1:123456789012:cluster:other"},
		{"EnablePerformanceInsights", "true"},
		{"MonitoringInterval", "60"},
		{"StorageType", "aurora-iopt1"},
		{"NoSuchMember", "x"},
	} {
		_, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("c1", kv...)...))
		if code(err) != "InvalidParameterCombination" {
			t.Errorf("%v: %v", kv, err)
		}
	}
	_, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("c1", "StorageEncrypted", "true")...))
	if !strings.Contains(err.Error(), "Borealis does not encrypt storage yet") {
		t.Errorf("message: %v", err)
	}
	noClusters(t, s)
	if _, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("c1", "StorageEncrypted", "false", "BackupRetentionPeriod", "1",
		"EngineMode", "provisioned", "CopyTagsToSnapshot", "false", "ManageMasterUserPassword", "false", "DeletionProtection", "false")...)); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
}

// ModifyDBCluster refuses what it does not do and changes nothing.
func TestModifyDBClusterRefusesWhatItDoesNotDo(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	newCluster(t, s, "c1")
	setStatus(t, s, "c1", store.StatusAvailable)
	before, _ := s.store.Cluster(ctx, "c1")
	for _, kv := range [][]string{
		{"StorageEncrypted", "true"},
		{"EngineVersion", "15.99"},
		{"NewDBClusterIdentifier", "c2"},
		{"Port", "6000"},
	} {
		_, err := s.Do(ctx, "ModifyDBCluster", query(append([]string{"DBClusterIdentifier", "c1", "DeletionProtection", "true"}, kv...)...))
		if code(err) != "InvalidParameterCombination" {
			t.Errorf("%v: %v", kv, err)
		}
	}
	if after, _ := s.store.Cluster(ctx, "c1"); after.DeletionProtection || after.Status != before.Status {
		t.Fatalf("a refused modify changed the cluster: %+v", after)
	}
}

// rds:StorageEncrypted says what will happen: the cluster is not encrypted, so a policy that
// requires encryption is not satisfied by a request that asks for it.
func TestStorageEncryptedKeyDescribesWhatHappens(t *testing.T) {
	s := newTestService(t)
	const requireEncryption = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:CreateDBCluster","Resource":"*",
	 "Condition":{"Bool":{"rds:StorageEncrypted":"true"}}}]}`
	if d := decide(t, s, requireEncryption, "CreateDBCluster", query(clusterQuery("c1", "StorageEncrypted", "true")...)); d == policy.Allow {
		t.Errorf("a request for encryption satisfied a policy requiring it: %s", d)
	}
}

// DeletionProtection is kept, reported, refuses DeleteDBCluster while on and is turned off
// by ModifyDBCluster.
func TestDeletionProtection(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	out, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("c1", "DeletionProtection", "true")...))
	if err != nil {
		t.Fatal(err)
	}
	if !out.(clusterResult).DBCluster.DeletionProtection {
		t.Error("create does not report protection")
	}
	_, err = s.Do(ctx, "DeleteDBCluster", query("DBClusterIdentifier", "C1", "SkipFinalSnapshot", "true"))
	wantError(t, err, "InvalidParameterCombination", http.StatusBadRequest)
	if !strings.Contains(err.Error(), "Cannot delete protected Cluster, please disable deletion protection and try again.") {
		t.Errorf("message: %v", err)
	}
	if c, _ := s.store.Cluster(ctx, "c1"); c.Status == store.StatusDeleting {
		t.Fatal("a protected cluster is being deleted")
	}
	out, _ = s.Do(ctx, "DescribeDBClusters", query("DBClusterIdentifier", "c1"))
	if body, _ := xml.Marshal(out); !strings.Contains(string(body), "<DeletionProtection>true</DeletionProtection>") {
		t.Errorf("describe: %s", body)
	}
	setStatus(t, s, "c1", store.StatusAvailable)
	if _, err := s.Do(ctx, "ModifyDBCluster", query("DBClusterIdentifier", "c1", "DeletionProtection", "false")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Do(ctx, "DeleteDBCluster", query("DBClusterIdentifier", "c1", "SkipFinalSnapshot", "true")); err != nil {
		t.Fatalf("unprotected delete: %v", err)
	}
}

// CreateDBInstance too refuses what it does not do, and creates nothing.
func TestCreateDBInstanceRefusesWhatItDoesNotDo(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	newCluster(t, s, "c1")
	for _, kv := range [][]string{
		{"PubliclyAccessible", "true"},
		{"AvailabilityZone", "us-east-1b"},
		{"MonitoringInterval", "60"},
		{"EnablePerformanceInsights", "true"},
		{"PreferredMaintenanceWindow", "sun:03:00-sun:03:30"},
		{"StorageEncrypted", "true"},
	} {
		_, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1", kv...))
		if code(err) != "InvalidParameterCombination" {
			t.Errorf("%v: %v", kv, err)
		}
	}
	if ins, _ := s.store.Instances(ctx); len(ins) != 0 {
		t.Fatalf("a refused create left instances: %v", ins)
	}
	if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1", "PubliclyAccessible", "false", "PromotionTier", "1")); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	// A member an Aurora cluster manages keeps RDS's own refusal.
	_, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i2", "c1", "MasterUsername", "x"))
	if code(err) != "InvalidParameterCombination" || !strings.Contains(err.Error(), "managed by the DB cluster") {
		t.Errorf("MasterUsername: %v", err)
	}
}

// DeleteDBInstance takes no final snapshot of a cluster member, so it refuses to be asked
// for one instead of deleting without it; unknown members of the deletes and reboots are
// refused too, and nothing is deleted.
func TestDeletesAndRebootsRefuseWhatTheyDoNotDo(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	newCluster(t, s, "c1")
	if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		action string
		kv     []string
	}{
		{"DeleteDBInstance", []string{"DBInstanceIdentifier", "i1", "SkipFinalSnapshot", "false", "FinalDBSnapshotIdentifier", "snap1"}},
		{"DeleteDBInstance", []string{"DBInstanceIdentifier", "i1", "Bogus", "1"}},
		{"DeleteDBCluster", []string{"DBClusterIdentifier", "c1", "SkipFinalSnapshot", "true", "Bogus", "1"}},
		{"RebootDBInstance", []string{"DBInstanceIdentifier", "i1", "Bogus", "1"}},
		{"RebootDBCluster", []string{"DBClusterIdentifier", "c1", "Bogus", "1"}},
	} {
		_, err := s.Do(ctx, c.action, query(c.kv...))
		if code(err) != "InvalidParameterCombination" {
			t.Errorf("%s %v: %v", c.action, c.kv, err)
		}
	}
	if in, _ := s.store.Instance(ctx, "i1"); in.Status == store.StatusDeleting {
		t.Fatal("a refused delete deletes the instance")
	}
	if _, err := s.Do(ctx, "DeleteDBInstance", query("DBInstanceIdentifier", "i1", "SkipFinalSnapshot", "true", "DeleteAutomatedBackups", "false")); err != nil {
		t.Fatal(err)
	}
}
