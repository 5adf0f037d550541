package rds

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/store"
)

// failing gives instance id the status and reason the reconciler would set.
func failing(t *testing.T, s *Service, id string, status store.Status, reason string) {
	t.Helper()
	if _, err := s.store.UpdateInstance(context.Background(), id, func(in *store.Instance) error {
		in.Status, in.StatusReason = status, reason
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// RDS reboots an instance in incompatible-parameters (after its group is fixed, a reboot
// or a delete is all it allows there) and refuses the other failure statuses and a change
// under way. The reboot is the API's: it has no reason, so the reconciler carries it out.
func TestRebootFromTheStatusesRDSAllows(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1")); err != nil {
		t.Fatal(err)
	}
	for _, st := range []store.Status{store.StatusStorageFull, store.StatusFailed, store.StatusIncompatibleNetwork,
		store.StatusCreating, store.StatusModifying, store.StatusRebooting, store.StatusDeleting} {
		failing(t, s, "i1", st, "why")
		_, err := s.Do(ctx, "RebootDBInstance", query("DBInstanceIdentifier", "i1"))
		if err == nil {
			t.Errorf("%s: rebooted", st)
			continue
		}
		wantError(t, err, "InvalidDBInstanceState", http.StatusBadRequest)
		if in, _ := s.store.Instance(ctx, "i1"); in.Status != st || in.StatusReason != "why" {
			t.Errorf("%s: a refused reboot left %s %q", st, in.Status, in.StatusReason)
		}
	}
	failing(t, s, "i1", store.StatusIncompatibleParameters, "The database server cannot start with the values of its parameter groups (shared_buffers).")
	out, err := s.Do(ctx, "RebootDBInstance", query("DBInstanceIdentifier", "i1"))
	if err != nil {
		t.Fatalf("reboot from incompatible-parameters: %v", err)
	}
	if x := out.(instanceResult).DBInstance; x.DBInstanceStatus != "rebooting" || x.StatusInfos != nil {
		t.Errorf("answered %s %+v", x.DBInstanceStatus, x.StatusInfos)
	}
	if in, _ := s.store.Instance(ctx, "i1"); !in.RebootRequested() || in.StatusReason != "" {
		t.Errorf("stored %s %q: not a reboot the reconciler carries out", in.Status, in.StatusReason)
	}
}

// RebootDBCluster follows the same rule for the cluster (whose status follows its writer's)
// and each member.
func TestRebootClusterFromIncompatibleParameters(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1")); err != nil {
		t.Fatal(err)
	}
	const reason = "The database server cannot start with the values of its parameter groups (shared_buffers)."
	failing(t, s, "i1", store.StatusIncompatibleParameters, reason)
	if _, err := s.store.UpdateCluster(ctx, "c1", func(c *store.Cluster) error {
		c.Status, c.StatusReason = store.StatusIncompatibleParameters, reason
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Do(ctx, "RebootDBCluster", query("DBClusterIdentifier", "c1")); err != nil {
		t.Fatalf("reboot: %v", err)
	}
	if in, _ := s.store.Instance(ctx, "i1"); !in.RebootRequested() {
		t.Errorf("member %s %q: not rebooting", in.Status, in.StatusReason)
	}
}

// Every status the API sets drops the reason the reconciler kept with the one before: a
// deleting instance or cluster does not say why it once failed.
func TestAPIStatusesHaveNoReason(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1")); err != nil {
		t.Fatal(err)
	}
	failing(t, s, "i1", store.StatusFailed, "The database server cannot start.")
	out, err := s.Do(ctx, "DeleteDBInstance", query("DBInstanceIdentifier", "i1", "SkipFinalSnapshot", "true"))
	if err != nil {
		t.Fatal(err)
	}
	if x := out.(instanceResult).DBInstance; x.DBInstanceStatus != "deleting" || x.StatusInfos != nil {
		t.Errorf("deleting instance answered %s %+v", x.DBInstanceStatus, x.StatusInfos)
	}
	if _, err := s.store.UpdateCluster(ctx, "c1", func(c *store.Cluster) error {
		c.Status, c.StatusReason = store.StatusFailed, "The database server cannot start."
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Do(ctx, "DeleteDBCluster", query("DBClusterIdentifier", "c1", "SkipFinalSnapshot", "true")); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.store.Cluster(ctx, "c1"); c.Status != store.StatusDeleting || c.StatusReason != "" {
		t.Errorf("deleting cluster stored %s %q", c.Status, c.StatusReason)
	}
}

// The cluster's reason (its writer's, or its endpoint's port taken) reaches
// DescribeDBClusters as a DBClusterStatusInfo, as the instance's reaches DescribeDBInstances.
func TestDescribeShowsWhyAClusterIsNotAvailable(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	describe := func() xmlCluster {
		t.Helper()
		out, err := s.Do(ctx, "DescribeDBClusters", query("DBClusterIdentifier", "c1"))
		if err != nil {
			t.Fatal(err)
		}
		return out.(describeClustersResult).DBClusters.Items[0]
	}
	if x := describe(); x.StatusInfos != nil {
		t.Fatalf("StatusInfos without a reason: %+v", x.StatusInfos)
	}
	const reason = "The cluster endpoint port is taken by another process."
	if _, err := s.store.UpdateCluster(ctx, "c1", func(c *store.Cluster) error {
		c.Status, c.StatusReason = store.StatusIncompatibleNetwork, reason
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b, err := xml.Marshal(describe())
	if err != nil {
		t.Fatal(err)
	}
	want := "<StatusInfos><DBClusterStatusInfo><StatusType>cluster</StatusType><Normal>false</Normal><Status>incompatible-network</Status><Message>" + reason + "</Message></DBClusterStatusInfo></StatusInfos>"
	if !strings.Contains(string(b), want) {
		t.Errorf("described %s\nwant %s", b, want)
	}
}
