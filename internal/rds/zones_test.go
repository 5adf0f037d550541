package rds

import (
	"context"
	"slices"
	"testing"

	"github.com/borealis-db/borealis/internal/ec2"
)

// A cluster spans the zones the EC2 side has (DescribeAvailabilityZones answers them), and
// its instances are in one of them: RDS names no zone of its own.
func TestDescribedZonesAreEC2s(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	out, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	zones := ec2.AvailabilityZones(s.cfg.Region)
	if z := out.(instanceResult).DBInstance.AvailabilityZone; !slices.Contains(zones, z) {
		t.Errorf("instance in %q, not one of %v", z, zones)
	}
	c, err := s.Do(ctx, "DescribeDBClusters", query("DBClusterIdentifier", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	got := c.(describeClustersResult).DBClusters.Items[0].AvailabilityZones
	if !slices.Equal(got, zones) {
		t.Errorf("cluster zones %v, EC2's %v", got, zones)
	}
}

// No backups are taken yet, so Describe names no backup window: a window it showed would be
// one in which nothing happens.
func TestDescribeNamesNoBackupWindowWhileNoBackupsAreTaken(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	out, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	if w := out.(instanceResult).DBInstance.PreferredBackupWindow; w != "" {
		t.Errorf("instance backup window %q", w)
	}
	c, err := s.Do(ctx, "DescribeDBClusters", query("DBClusterIdentifier", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	if w := c.(describeClustersResult).DBClusters.Items[0].PreferredBackupWindow; w != "" {
		t.Errorf("cluster backup window %q", w)
	}
}
