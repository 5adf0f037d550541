package rds

import (
	"context"
	"net/http"
	"testing"

	"github.com/borealis-db/borealis/internal/store"
)

// AllocatedStorage is the cluster's storage limit in GiB: out-of-range values are refused
// and create nothing; DescribeDBClusters reports the limit (the default, 20 GiB, without
// one); ModifyDBCluster sets it, on a storage-full cluster too, where nothing else may be
// modified.
func TestAllocatedStorageIsTheClusterStorageLimit(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	for _, v := range []string{"0", "-1", "131073", "x"} {
		_, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("c1", "AllocatedStorage", v)...))
		wantError(t, err, "InvalidParameterValue", http.StatusBadRequest)
	}
	noClusters(t, s)
	out, err := s.Do(ctx, "CreateDBCluster", query(clusterQuery("c1")...))
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(clusterResult).DBCluster.AllocatedStorage; got != store.DefaultStorageLimit>>30 {
		t.Errorf("default limit reported as %d GiB", got)
	}
	out, err = s.Do(ctx, "CreateDBCluster", query(clusterQuery("c2", "AllocatedStorage", "5")...))
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(clusterResult).DBCluster.AllocatedStorage; got != 5 {
		t.Errorf("AllocatedStorage 5 reported as %d", got)
	}

	// A storage-full cluster: the limit may be raised, nothing else changed.
	if _, err := s.store.UpdateCluster(ctx, "c2", func(c *store.Cluster) error {
		c.Status, c.StorageFull, c.StatusReason = store.StatusStorageFull, "at its limit", "at its limit"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Do(ctx, "ModifyDBCluster", query("DBClusterIdentifier", "c2", "AllocatedStorage", "10", "DeletionProtection", "true"))
	wantError(t, err, "InvalidDBClusterStateFault", http.StatusBadRequest)
	if _, err := s.Do(ctx, "ModifyDBCluster", query("DBClusterIdentifier", "c2", "AllocatedStorage", "10", "ApplyImmediately", "true")); err != nil {
		t.Fatalf("raising the limit of a storage-full cluster: %v", err)
	}
	c, err := s.store.Cluster(ctx, "c2")
	if err != nil || c.AllocatedStorage != 10 || c.DeletionProtection {
		t.Fatalf("after ModifyDBCluster: %+v, %v", c, err)
	}
	_, err = s.Do(ctx, "ModifyDBCluster", query("DBClusterIdentifier", "c1", "AllocatedStorage", "0"))
	wantError(t, err, "InvalidParameterValue", http.StatusBadRequest)
}
