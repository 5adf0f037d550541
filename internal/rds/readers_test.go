package rds

import (
	"context"
	"net/http"
	"testing"

	"github.com/borealis-db/borealis/internal/store"
)

// The first instance of a cluster is its writer; the next ones are readers, each with its
// promotion tier (RDS's default 1; 0 to 15), which ModifyDBInstance changes.
func TestSecondInstanceIsAReaderWithItsPromotionTier(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("w1", "c1")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"-1", "16", "x"} {
		_, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("r9", "c1", "PromotionTier", bad))
		if code(err) != "InvalidParameterValue" {
			t.Errorf("PromotionTier %s: %v", bad, err)
		}
	}
	if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("r1", "c1", "PromotionTier", "0")); err != nil {
		t.Fatal(err)
	}
	out, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("r2", "c1", "PromotionTier", "15"))
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(instanceResult).DBInstance.PromotionTier; got != 15 {
		t.Errorf("r2's PromotionTier = %d", got)
	}
	out, err = s.Do(ctx, "DescribeDBClusters", query("DBClusterIdentifier", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	type member struct {
		writer bool
		tier   int
	}
	got := map[string]member{}
	for _, m := range out.(describeClustersResult).DBClusters.Items[0].DBClusterMembers.Items {
		got[m.DBInstanceIdentifier] = member{m.IsClusterWriter, m.PromotionTier}
	}
	want := map[string]member{"w1": {true, 1}, "r1": {false, 0}, "r2": {false, 15}}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("member %s: %+v, want %+v", id, got[id], w)
		}
	}
	if len(got) != 3 {
		t.Errorf("members: %+v", got)
	}

	if _, err := s.store.UpdateInstance(ctx, "r2", func(in *store.Instance) error {
		in.Status = store.StatusAvailable
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Do(ctx, "ModifyDBInstance", query("DBInstanceIdentifier", "r2", "PromotionTier", "99"))
	wantError(t, err, "InvalidParameterValue", http.StatusBadRequest)
	out, err = s.Do(ctx, "ModifyDBInstance", query("DBInstanceIdentifier", "r2", "PromotionTier", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(instanceResult).DBInstance.PromotionTier; got != 3 {
		t.Errorf("after ModifyDBInstance: PromotionTier %d", got)
	}
}

// FailoverDBCluster moves the writer to the target, else to the reader of the lowest tier,
// turning the cluster failing-over; it refuses what RDS refuses.
func TestFailoverDBClusterMovesTheWriter(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	available := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			if _, err := s.store.UpdateInstance(ctx, id, func(in *store.Instance) error {
				in.Status = store.StatusAvailable
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		setStatus(t, s, "c1", store.StatusAvailable)
	}
	_, err := s.Do(ctx, "FailoverDBCluster", query("DBClusterIdentifier", "nope"))
	wantError(t, err, "DBClusterNotFoundFault", http.StatusNotFound)
	for _, q := range [][]string{{"w1"}, {"r1", "PromotionTier", "2"}, {"r2", "PromotionTier", "0"}} {
		if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery(q[0], "c1", q[1:]...)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.Do(ctx, "FailoverDBCluster", query("DBClusterIdentifier", "c1"))
	wantError(t, err, "InvalidDBClusterStateFault", http.StatusBadRequest) // creating
	setStatus(t, s, "c1", store.StatusAvailable)
	_, err = s.Do(ctx, "FailoverDBCluster", query("DBClusterIdentifier", "c1"))
	wantError(t, err, "InvalidDBClusterStateFault", http.StatusBadRequest) // no available reader
	available("w1", "r1", "r2")
	_, err = s.Do(ctx, "FailoverDBCluster", query("DBClusterIdentifier", "c1", "TargetDBInstanceIdentifier", "w1"))
	wantError(t, err, "InvalidDBClusterStateFault", http.StatusBadRequest)
	_, err = s.Do(ctx, "FailoverDBCluster", query("DBClusterIdentifier", "c1", "TargetDBInstanceIdentifier", "other"))
	wantError(t, err, "InvalidParameterValue", http.StatusBadRequest)

	writer := func() string {
		members, _ := s.store.ClusterInstances(ctx, "c1")
		w := ""
		for _, m := range members {
			if m.Writer {
				if w != "" {
					t.Fatalf("two writers: %s, %s", w, m.ID)
				}
				w = m.ID
			}
		}
		return w
	}
	out, err := s.Do(ctx, "FailoverDBCluster", query("DBClusterIdentifier", "C1", "TargetDBInstanceIdentifier", "R1"))
	if err != nil {
		t.Fatal(err)
	}
	if st := out.(clusterResult).DBCluster.Status; st != "failing-over" || writer() != "r1" {
		t.Errorf("after a failover to r1: status %s, writer %s", st, writer())
	}
	_, err = s.Do(ctx, "FailoverDBCluster", query("DBClusterIdentifier", "c1"))
	wantError(t, err, "InvalidDBClusterStateFault", http.StatusBadRequest) // failing over
	available()
	if _, err := s.Do(ctx, "FailoverDBCluster", query("DBClusterIdentifier", "c1")); err != nil {
		t.Fatal(err)
	}
	if w := writer(); w != "r2" {
		t.Errorf("without a target: writer %s, want r2 (tier 0)", w)
	}

	// Deleting the writer fails over first.
	available()
	if _, err := s.Do(ctx, "DeleteDBInstance", query("DBInstanceIdentifier", "r2", "SkipFinalSnapshot", "true")); err != nil {
		t.Fatal(err)
	}
	if w := writer(); w != "w1" { // tier 1 before r1's 2
		t.Errorf("after deleting the writer: writer %q", w)
	}
	if in, _ := s.store.Instance(ctx, "r2"); in.Writer || in.Status != store.StatusDeleting {
		t.Errorf("the deleted writer: %+v", in)
	}
}

// RebootDBInstance with ForceFailover on the writer fails over as FailoverDBCluster does
// (to the reader of the lowest tier); on a reader, or with no available reader, RDS
// refuses the combination.
func TestRebootWithForceFailover(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	for _, q := range [][]string{{"w1"}, {"r1", "PromotionTier", "2"}, {"r2", "PromotionTier", "0"}} {
		if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery(q[0], "c1", q[1:]...)); err != nil {
			t.Fatal(err)
		}
	}
	available := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			if _, err := s.store.UpdateInstance(ctx, id, func(in *store.Instance) error {
				in.Status = store.StatusAvailable
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		setStatus(t, s, "c1", store.StatusAvailable)
	}
	reboot := func(id string) (any, error) {
		return s.Do(ctx, "RebootDBInstance", query("DBInstanceIdentifier", id, "ForceFailover", "true"))
	}
	available("w1")
	_, err := reboot("nope")
	wantError(t, err, "DBInstanceNotFound", http.StatusNotFound)
	_, err = reboot("w1") // the readers are still creating
	wantError(t, err, "InvalidParameterCombination", http.StatusBadRequest)
	available("r1", "r2")
	_, err = reboot("r1")
	wantError(t, err, "InvalidParameterCombination", http.StatusBadRequest)

	out, err := reboot("W1")
	if err != nil {
		t.Fatal(err)
	}
	if in := out.(instanceResult).DBInstance; in.DBInstanceIdentifier != "w1" {
		t.Errorf("answered for %s", in.DBInstanceIdentifier)
	}
	members, err := s.store.ClusterInstances(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.Writer != (m.ID == "r2") {
			t.Errorf("%s: writer %v; want r2 (tier 0) the only writer", m.ID, m.Writer)
		}
	}
	if c, _ := s.store.Cluster(ctx, "c1"); c.Status != store.StatusFailingOver {
		t.Errorf("cluster status %s", c.Status)
	}
	_, err = reboot("r2") // the cluster is failing over
	wantError(t, err, "InvalidDBClusterStateFault", http.StatusBadRequest)
}
