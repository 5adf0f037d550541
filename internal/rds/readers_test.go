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
