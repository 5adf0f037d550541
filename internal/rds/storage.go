package rds

import (
	"github.com/borealis-db/borealis/internal/awsquery"
)

// maxAllocatedStorage is the largest storage limit in GiB: Aurora's 128 TiB.
const maxAllocatedStorage = 128 << 10

// allocatedStorage reads AllocatedStorage, the cluster's storage limit in GiB (0: not set).
// Aurora clusters grow on their own and have no such field; Borealis takes the one the
// API has for clusters (Multi-AZ DB clusters') as the limit past which the cluster is made
// read-only (storage-full).
func allocatedStorage(p awsquery.Params) (int, error) {
	gib, set, err := p.Int("AllocatedStorage")
	if err != nil || !set {
		return 0, err
	}
	if gib < 1 || gib > maxAllocatedStorage {
		return 0, awsquery.InvalidParameterValue("Invalid storage size for engine name %s: %d. AllocatedStorage is the cluster's storage limit, from 1 to %d GiB.", Engine, gib, maxAllocatedStorage)
	}
	return gib, nil
}

// onlyStorage reports whether a ModifyDBCluster request changes nothing but the limit.
func onlyStorage(p awsquery.Params) bool {
	for k := range p.Values {
		switch k {
		case "Action", "Version", "DBClusterIdentifier", "ApplyImmediately", "AllocatedStorage":
		default:
			return false
		}
	}
	return p.Has("AllocatedStorage")
}

// storageGiB is a limit in bytes as DescribeDBClusters reports it: whole GiB, rounded up.
func storageGiB(limit int64) int {
	if limit <= 0 {
		return 0
	}
	return int((limit + 1<<30 - 1) >> 30)
}
