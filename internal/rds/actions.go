package rds

import (
	"context"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
)

// action is one RDS API action: how it runs, and the resources IAM must allow it on (with
// the request's condition keys filled into keys). IAM's action name is "rds:" + the name.
type action struct {
	run       func(*Service, context.Context, awsquery.Params) (any, error)
	resources func(*Service, context.Context, awsquery.Params, map[string][]string) []authz.Resource
}

// groupAction adapts a parameter group action to one kind of group.
func groupAction(k groupKind, run func(*Service, context.Context, groupKind, awsquery.Params) (any, error),
	resources func(*Service, context.Context, groupKind, awsquery.Params, map[string][]string) []authz.Resource) action {
	return action{
		run: func(s *Service, ctx context.Context, p awsquery.Params) (any, error) { return run(s, ctx, k, p) },
		resources: func(s *Service, ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
			return resources(s, ctx, k, p, keys)
		},
	}
}

func modifyGroup(s *Service, ctx context.Context, k groupKind, p awsquery.Params) (any, error) {
	return s.modifyGroup(ctx, k, p, false)
}

func resetGroup(s *Service, ctx context.Context, k groupKind, p awsquery.Params) (any, error) {
	return s.modifyGroup(ctx, k, p, true)
}

// actions is every action the RDS endpoint serves: the one table Do routes by and
// Authorization maps to IAM resources from (actions_test.go proves both are complete).
var actions = map[string]action{
	"CreateDBCluster":        {(*Service).createCluster, (*Service).createClusterResources},
	"DescribeDBClusters":     {(*Service).describeClusters, (*Service).clusterResources},
	"ModifyDBCluster":        {(*Service).modifyCluster, (*Service).modifyClusterResources},
	"DeleteDBCluster":        {(*Service).deleteCluster, (*Service).clusterResources},
	"RebootDBCluster":        {(*Service).rebootCluster, (*Service).clusterResources},
	"CreateDBInstance":       {(*Service).createInstance, (*Service).createInstanceResources},
	"DescribeDBInstances":    {(*Service).describeInstances, (*Service).instanceResources},
	"DeleteDBInstance":       {(*Service).deleteInstance, (*Service).instanceResources},
	"RebootDBInstance":       {(*Service).rebootInstance, (*Service).instanceResources},
	"AddTagsToResource":      {(*Service).addTags, (*Service).tagResources},
	"RemoveTagsFromResource": {(*Service).removeTags, (*Service).tagResources},
	"ListTagsForResource":    {(*Service).listTags, (*Service).tagResources},
	"CreateDBSubnetGroup":    {(*Service).createSubnetGroup, (*Service).subnetGroupResources},
	"DescribeDBSubnetGroups": {(*Service).describeSubnetGroups, (*Service).subnetGroupResources},
	"DeleteDBSubnetGroup":    {(*Service).deleteSubnetGroup, (*Service).subnetGroupResources},
	"ModifyDBInstance":       {(*Service).modifyInstance, (*Service).instanceResources},
	"DescribeCertificates":   {(*Service).describeCertificates, (*Service).certResources},
	"ModifyCertificates":     {(*Service).modifyCertificates, anyResource},

	"CreateDBClusterParameterGroup":          groupAction(clusterGroups, (*Service).createGroup, (*Service).newGroupResources),
	"CreateDBParameterGroup":                 groupAction(dbGroups, (*Service).createGroup, (*Service).newGroupResources),
	"CopyDBClusterParameterGroup":            groupAction(clusterGroups, (*Service).copyGroup, (*Service).copyGroupResources),
	"CopyDBParameterGroup":                   groupAction(dbGroups, (*Service).copyGroup, (*Service).copyGroupResources),
	"DescribeDBClusterParameterGroups":       groupAction(clusterGroups, (*Service).describeGroups, (*Service).groupResources),
	"DescribeDBParameterGroups":              groupAction(dbGroups, (*Service).describeGroups, (*Service).groupResources),
	"ModifyDBClusterParameterGroup":          groupAction(clusterGroups, modifyGroup, (*Service).groupResources),
	"ModifyDBParameterGroup":                 groupAction(dbGroups, modifyGroup, (*Service).groupResources),
	"ResetDBClusterParameterGroup":           groupAction(clusterGroups, resetGroup, (*Service).groupResources),
	"ResetDBParameterGroup":                  groupAction(dbGroups, resetGroup, (*Service).groupResources),
	"DeleteDBClusterParameterGroup":          groupAction(clusterGroups, (*Service).deleteGroup, (*Service).groupResources),
	"DeleteDBParameterGroup":                 groupAction(dbGroups, (*Service).deleteGroup, (*Service).groupResources),
	"DescribeDBClusterParameters":            groupAction(clusterGroups, (*Service).describeGroupParameters, (*Service).groupResources),
	"DescribeDBParameters":                   groupAction(dbGroups, (*Service).describeGroupParameters, (*Service).groupResources),
	"DescribeEngineDefaultClusterParameters": groupAction(clusterGroups, (*Service).describeEngineDefaults, noResource),
	"DescribeEngineDefaultParameters":        groupAction(dbGroups, (*Service).describeEngineDefaults, noResource),
}
