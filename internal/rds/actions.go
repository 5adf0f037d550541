package rds

import (
	"context"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
)

// action is one RDS API action: how it runs, the request members it supports (Do refuses
// any other before it runs), and the resources IAM must allow it on (with the request's
// condition keys filled into keys). IAM's action name is "rds:" + the name.
type action struct {
	run       func(*Service, context.Context, awsquery.Params) (any, error)
	resources func(*Service, context.Context, awsquery.Params, map[string][]string) []authz.Resource
	members   members
}

// groupAction adapts a parameter group action to one kind of group.
func groupAction(k groupKind, run func(*Service, context.Context, groupKind, awsquery.Params) (any, error),
	resources func(*Service, context.Context, groupKind, awsquery.Params, map[string][]string) []authz.Resource, ms members) action {
	return action{
		run: func(s *Service, ctx context.Context, p awsquery.Params) (any, error) { return run(s, ctx, k, p) },
		resources: func(s *Service, ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
			return resources(s, ctx, k, p, keys)
		},
		members: ms,
	}
}

func modifyGroup(s *Service, ctx context.Context, k groupKind, p awsquery.Params) (any, error) {
	return s.modifyGroup(ctx, k, p, false)
}

func resetGroup(s *Service, ctx context.Context, k groupKind, p awsquery.Params) (any, error) {
	return s.modifyGroup(ctx, k, p, true)
}

// actions is every action the RDS endpoint serves: the one table Do routes by, checks
// request members against, and Authorization maps to IAM resources from (actions_test.go
// proves it complete).
var actions = map[string]action{
	"CreateDBCluster":        {(*Service).createCluster, (*Service).createClusterResources, createClusterMembers},
	"DescribeDBClusters":     {(*Service).describeClusters, (*Service).clusterResources, describeClustersMembers},
	"ModifyDBCluster":        {(*Service).modifyCluster, (*Service).modifyClusterResources, modifyClusterMembers},
	"DeleteDBCluster":        {(*Service).deleteCluster, (*Service).deleteClusterResources, deleteClusterMembers},
	"RebootDBCluster":        {(*Service).rebootCluster, (*Service).clusterResources, rebootClusterMembers},
	"FailoverDBCluster":      {(*Service).failoverCluster, (*Service).clusterResources, failoverClusterMembers},
	"CreateDBInstance":       {(*Service).createInstance, (*Service).createInstanceResources, createInstanceMembers},
	"DescribeDBInstances":    {(*Service).describeInstances, (*Service).instanceResources, describeInstancesMembers},
	"ModifyDBInstance":       {(*Service).modifyInstance, (*Service).modifyInstanceResources, modifyInstanceMembers},
	"DeleteDBInstance":       {(*Service).deleteInstance, (*Service).instanceResources, deleteInstanceMembers},
	"RebootDBInstance":       {(*Service).rebootInstance, (*Service).instanceResources, rebootInstanceMembers},
	"AddTagsToResource":      {(*Service).addTags, (*Service).tagResources, addTagsMembers},
	"RemoveTagsFromResource": {(*Service).removeTags, (*Service).tagResources, removeTagsMembers},
	"ListTagsForResource":    {(*Service).listTags, (*Service).tagResources, listTagsMembers},
	"CreateDBSubnetGroup":    {(*Service).createSubnetGroup, (*Service).subnetGroupResources, createSubnetGroupMembers},
	"DescribeDBSubnetGroups": {(*Service).describeSubnetGroups, (*Service).subnetGroupResources, describeSubnetGroupsMembers},
	"DeleteDBSubnetGroup":    {(*Service).deleteSubnetGroup, (*Service).subnetGroupResources, deleteSubnetGroupMembers},
	"DescribeCertificates":   {(*Service).describeCertificates, (*Service).certResources, describeCertificatesMembers},
	"ModifyCertificates":     {(*Service).modifyCertificates, anyResource, modifyCertificatesMembers},
	// IAM checks the events actions on "*" (the service authorization reference names no
	// resource type for them).
	"DescribeEvents":          {(*Service).describeEvents, anyResource, describeEventsMembers},
	"DescribeEventCategories": {(*Service).describeEventCategories, anyResource, describeEventCategoriesMembers},
	// The database logs: IAM checks them on the db instance's ARN.
	"DescribeDBLogFiles":       {(*Service).describeDBLogFiles, (*Service).instanceResources, describeLogFilesMembers},
	"DownloadDBLogFilePortion": {(*Service).downloadDBLogFilePortion, (*Service).instanceResources, downloadLogPortionMembers},

	"CreateDBClusterSnapshot":             {(*Service).createSnapshot, (*Service).createSnapshotResources, createSnapshotMembers},
	"DescribeDBClusterSnapshots":          {(*Service).describeSnapshots, (*Service).describeSnapshotsResources, describeSnapshotsMembers},
	"DeleteDBClusterSnapshot":             {(*Service).deleteSnapshot, (*Service).snapshotResources, deleteSnapshotMembers},
	"CopyDBClusterSnapshot":               {(*Service).copySnapshot, (*Service).copySnapshotResources, copySnapshotMembers},
	"DescribeDBClusterSnapshotAttributes": {(*Service).describeSnapshotAttributes, (*Service).snapshotResources, describeSnapshotAttributesMembers},
	"ModifyDBClusterSnapshotAttribute":    {(*Service).modifySnapshotAttribute, (*Service).snapshotResources, modifySnapshotAttributeMembers},
	"RestoreDBClusterToPointInTime":       {(*Service).restoreToPointInTime, (*Service).restorePITRResources, restorePITRMembers},
	"RestoreDBClusterFromSnapshot":        {(*Service).restoreFromSnapshot, (*Service).restoreSnapshotResources, restoreSnapshotMembers},

	"DescribeDBEngineVersions":           {(*Service).describeEngineVersions, anyResource, describeEngineVersionsMembers},
	"DescribeOrderableDBInstanceOptions": {(*Service).describeOrderableOptions, anyResource, describeOrderableMembers},

	"CreateDBClusterParameterGroup": groupAction(clusterGroups, (*Service).createGroup, (*Service).newGroupResources,
		groupMembers(clusterGroups, members{"DBParameterGroupFamily": acted, "Description": acted, "Tags": tags})),
	"CreateDBParameterGroup": groupAction(dbGroups, (*Service).createGroup, (*Service).newGroupResources,
		groupMembers(dbGroups, members{"DBParameterGroupFamily": acted, "Description": acted, "Tags": tags})),
	"CopyDBClusterParameterGroup": groupAction(clusterGroups, (*Service).copyGroup, (*Service).copyGroupResources, copyGroupMembers(clusterGroups)),
	"CopyDBParameterGroup":        groupAction(dbGroups, (*Service).copyGroup, (*Service).copyGroupResources, copyGroupMembers(dbGroups)),
	"DescribeDBClusterParameterGroups": groupAction(clusterGroups, (*Service).describeGroups, (*Service).groupResources,
		groupMembers(clusterGroups, paged.With(members{"Filters": filters()}))),
	"DescribeDBParameterGroups": groupAction(dbGroups, (*Service).describeGroups, (*Service).groupResources,
		groupMembers(dbGroups, paged.With(members{"Filters": filters()}))),
	"ModifyDBClusterParameterGroup": groupAction(clusterGroups, modifyGroup, (*Service).groupResources,
		groupMembers(clusterGroups, members{"Parameters": parameterList})),
	"ModifyDBParameterGroup": groupAction(dbGroups, modifyGroup, (*Service).groupResources,
		groupMembers(dbGroups, members{"Parameters": parameterList})),
	"ResetDBClusterParameterGroup": groupAction(clusterGroups, resetGroup, (*Service).groupResources,
		groupMembers(clusterGroups, members{"Parameters": parameterList, "ResetAllParameters": acted})),
	"ResetDBParameterGroup": groupAction(dbGroups, resetGroup, (*Service).groupResources,
		groupMembers(dbGroups, members{"Parameters": parameterList, "ResetAllParameters": acted})),
	"DeleteDBClusterParameterGroup": groupAction(clusterGroups, (*Service).deleteGroup, (*Service).groupResources,
		groupMembers(clusterGroups, members{})),
	"DeleteDBParameterGroup": groupAction(dbGroups, (*Service).deleteGroup, (*Service).groupResources,
		groupMembers(dbGroups, members{})),
	"DescribeDBClusterParameters": groupAction(clusterGroups, (*Service).describeGroupParameters, (*Service).groupResources,
		groupMembers(clusterGroups, paged.With(members{"Source": acted, "Filters": filters("parameter-name")}))),
	"DescribeDBParameters": groupAction(dbGroups, (*Service).describeGroupParameters, (*Service).groupResources,
		groupMembers(dbGroups, paged.With(members{"Source": acted, "Filters": filters("parameter-name")}))),
	// RDS documents Filters as unsupported for the cluster defaults and parameter-name for
	// the instance defaults.
	"DescribeEngineDefaultClusterParameters": groupAction(clusterGroups, (*Service).describeEngineDefaults, noResource,
		paged.With(members{"DBParameterGroupFamily": acted, "Filters": filters()})),
	"DescribeEngineDefaultParameters": groupAction(dbGroups, (*Service).describeEngineDefaults, noResource,
		paged.With(members{"DBParameterGroupFamily": acted, "Filters": filters("parameter-name")})),
}
