package rds

import (
	"context"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// Authorization says which resources an RDS action touches and the RDS condition keys
// that describe the request, so that IAM can decide before the action runs. Every resource
// listed must be allowed, as IAM does for CreateDBInstance in a cluster (the db and the
// cluster).
func (s *Service) Authorization(ctx context.Context, action string, p awsquery.Params) (resources []string, keys map[string][]string) {
	keys = map[string][]string{}
	lower := func(name string) string { return strings.ToLower(p.String(name)) }
	cluster := func(id string) string {
		if id == "" {
			id = "*"
		}
		return s.clusterARN(id)
	}
	instance := func(id string) string {
		if id == "" {
			id = "*"
		}
		return s.instanceARN(id)
	}
	group := func(k groupKind, name string) string {
		if name == "" {
			name = "*"
		}
		return s.groupARN(k, strings.ToLower(name))
	}
	switch action {
	case "CreateDBCluster":
		resources = []string{cluster(lower("DBClusterIdentifier"))}
		if g := p.String("DBClusterParameterGroupName"); g != "" {
			resources = append(resources, group(clusterGroups, g))
		}
		keys["rds:DatabaseEngine"] = []string{p.String("Engine")}
		if db := p.String("DatabaseName"); db != "" {
			keys["rds:DatabaseName"] = []string{db}
		}
		keys["rds:StorageEncrypted"] = []string{boolText(p.String("StorageEncrypted") == "true")}
	case "DescribeDBClusters":
		resources = []string{cluster(lower("DBClusterIdentifier"))}
	case "DeleteDBCluster", "RebootDBCluster":
		resources = []string{cluster(lower("DBClusterIdentifier"))}
	case "ModifyDBCluster":
		resources = []string{cluster(lower("DBClusterIdentifier"))}
		if g := p.String("DBClusterParameterGroupName"); g != "" {
			resources = append(resources, group(clusterGroups, g))
		}
	case "CreateDBInstance":
		resources = []string{instance(lower("DBInstanceIdentifier")), cluster(lower("DBClusterIdentifier"))}
		if g := p.String("DBParameterGroupName"); g != "" {
			resources = append(resources, group(dbGroups, g))
		}
		keys["rds:DatabaseClass"] = []string{p.String("DBInstanceClass")}
		keys["rds:DatabaseEngine"] = []string{p.String("Engine")}
	case "DescribeDBInstances", "DeleteDBInstance", "RebootDBInstance":
		resources = []string{instance(lower("DBInstanceIdentifier"))}
	case "CreateDBClusterParameterGroup", "DescribeDBClusterParameterGroups", "ModifyDBClusterParameterGroup",
		"ResetDBClusterParameterGroup", "DeleteDBClusterParameterGroup", "DescribeDBClusterParameters":
		resources = []string{group(clusterGroups, p.String("DBClusterParameterGroupName"))}
	case "CopyDBClusterParameterGroup":
		resources = []string{group(clusterGroups, arnName(p.String("SourceDBClusterParameterGroupIdentifier"))),
			group(clusterGroups, p.String("TargetDBClusterParameterGroupIdentifier"))}
	case "CreateDBParameterGroup", "DescribeDBParameterGroups", "ModifyDBParameterGroup",
		"ResetDBParameterGroup", "DeleteDBParameterGroup", "DescribeDBParameters":
		resources = []string{group(dbGroups, p.String("DBParameterGroupName"))}
	case "CopyDBParameterGroup":
		resources = []string{group(dbGroups, arnName(p.String("SourceDBParameterGroupIdentifier"))),
			group(dbGroups, p.String("TargetDBParameterGroupIdentifier"))}
	default:
		// Actions without a resource type (DescribeEngineDefault*, unknown ones) are
		// authorized against "*", as IAM does.
		resources = []string{"*"}
	}
	return resources, keys
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
