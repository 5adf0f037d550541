package rds

import (
	"context"
	"strings"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// Authorization says which resources an RDS action touches, with each resource's tag keys,
// and the condition keys that describe the request, so that IAM can decide before the
// action runs. IAM must allow every resource listed, as it does for CreateDBInstance in a
// cluster (the db and the cluster).
func (s *Service) Authorization(ctx context.Context, action string, p awsquery.Params) ([]authz.Resource, map[string][]string) {
	keys := map[string][]string{}
	lower := func(name string) string { return strings.ToLower(p.String(name)) }
	cluster := func(id string) authz.Resource {
		if id == "" {
			return authz.On(s.clusterARN("*"))
		}
		r := authz.On(s.clusterARN(id))
		if c, err := s.store.Cluster(ctx, id); err == nil {
			r.Keys = tagKeys(c.Tags, "rds:cluster-tag/")
		}
		return r
	}
	instance := func(id string) authz.Resource {
		if id == "" {
			return authz.On(s.instanceARN("*"))
		}
		r := authz.On(s.instanceARN(id))
		if in, err := s.store.Instance(ctx, id); err == nil {
			r.Keys = tagKeys(in.Tags, "rds:db-tag/")
		}
		return r
	}
	group := func(k groupKind, name string) authz.Resource {
		if name == "" {
			name = "*"
		}
		r := authz.On(s.groupARN(k, strings.ToLower(arnName(name))))
		if g, err := s.store.ParameterGroup(ctx, k.store, strings.ToLower(arnName(name))); err == nil {
			r.Keys = tagKeys(g.Tags, "rds:"+k.arnType+"-tag/")
		}
		return r
	}
	requestTags := func() {
		tags, _ := parseTags(p) // a bad tag is refused by the action itself
		var names []string
		for _, t := range tags {
			keys["aws:RequestTag/"+t.Key] = []string{t.Value}
			names = append(names, t.Key)
		}
		if len(names) > 0 {
			keys["aws:TagKeys"] = names
		}
	}
	var res []authz.Resource
	switch action {
	case "CreateDBCluster":
		res = []authz.Resource{authz.On(s.clusterARN(lower("DBClusterIdentifier")))}
		if g := p.String("DBClusterParameterGroupName"); g != "" {
			res = append(res, group(clusterGroups, g))
		}
		keys["rds:DatabaseEngine"] = []string{p.String("Engine")}
		if db := p.String("DatabaseName"); db != "" {
			keys["rds:DatabaseName"] = []string{db}
		}
		keys["rds:StorageEncrypted"] = []string{boolText(p.String("StorageEncrypted") == "true")}
		requestTags()
	case "DescribeDBClusters", "DeleteDBCluster", "RebootDBCluster":
		res = []authz.Resource{cluster(lower("DBClusterIdentifier"))}
	case "ModifyDBCluster":
		res = []authz.Resource{cluster(lower("DBClusterIdentifier"))}
		if g := p.String("DBClusterParameterGroupName"); g != "" {
			res = append(res, group(clusterGroups, g))
		}
	case "CreateDBInstance":
		res = []authz.Resource{authz.On(s.instanceARN(lower("DBInstanceIdentifier"))), cluster(lower("DBClusterIdentifier"))}
		if g := p.String("DBParameterGroupName"); g != "" {
			res = append(res, group(dbGroups, g))
		}
		keys["rds:DatabaseClass"] = []string{p.String("DBInstanceClass")}
		keys["rds:DatabaseEngine"] = []string{p.String("Engine")}
		requestTags()
	case "DescribeDBInstances", "DeleteDBInstance", "RebootDBInstance":
		res = []authz.Resource{instance(lower("DBInstanceIdentifier"))}
	case "CreateDBClusterParameterGroup":
		res = []authz.Resource{authz.On(s.groupARN(clusterGroups, lower("DBClusterParameterGroupName")))}
		requestTags()
	case "CreateDBParameterGroup":
		res = []authz.Resource{authz.On(s.groupARN(dbGroups, lower("DBParameterGroupName")))}
		requestTags()
	case "DescribeDBClusterParameterGroups", "ModifyDBClusterParameterGroup", "ResetDBClusterParameterGroup",
		"DeleteDBClusterParameterGroup", "DescribeDBClusterParameters":
		res = []authz.Resource{group(clusterGroups, p.String("DBClusterParameterGroupName"))}
	case "DescribeDBParameterGroups", "ModifyDBParameterGroup", "ResetDBParameterGroup",
		"DeleteDBParameterGroup", "DescribeDBParameters":
		res = []authz.Resource{group(dbGroups, p.String("DBParameterGroupName"))}
	case "CopyDBClusterParameterGroup":
		res = []authz.Resource{group(clusterGroups, p.String("SourceDBClusterParameterGroupIdentifier")),
			authz.On(s.groupARN(clusterGroups, lower("TargetDBClusterParameterGroupIdentifier")))}
		requestTags()
	case "CopyDBParameterGroup":
		res = []authz.Resource{group(dbGroups, p.String("SourceDBParameterGroupIdentifier")),
			authz.On(s.groupARN(dbGroups, lower("TargetDBParameterGroupIdentifier")))}
		requestTags()
	case "AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource":
		res = []authz.Resource{s.taggedResource(ctx, p.String("ResourceName"))}
		if action == "AddTagsToResource" {
			requestTags()
		} else if action == "RemoveTagsFromResource" {
			if names := p.List("TagKeys", "member"); len(names) > 0 {
				keys["aws:TagKeys"] = names
			}
		}
	default:
		// Actions without a resource type (DescribeEngineDefault*, unknown ones) are
		// authorized against "*", as IAM does.
		res = []authz.Resource{authz.On("*")}
	}
	return res, keys
}

// taggedResource is the resource an ARN names, with its tags as condition keys.
func (s *Service) taggedResource(ctx context.Context, arn string) authz.Resource {
	r := authz.On(arn)
	t, err := s.parseResourceARN(arn)
	if err != nil {
		return r
	}
	prefix := map[string]string{"cluster": "rds:cluster-tag/", "db": "rds:db-tag/", "cluster-pg": "rds:cluster-pg-tag/", "pg": "rds:pg-tag/"}[t.kind]
	if tags, err := s.resourceTags(ctx, arn); err == nil {
		r.Keys = tagKeys(tags, prefix)
	}
	return r
}

// tagKeys turns a resource's tags into its condition keys: the service's own form and
// aws:ResourceTag/KEY.
func tagKeys(tags []store.Tag, servicePrefix string) map[string][]string {
	if len(tags) == 0 {
		return nil
	}
	keys := make(map[string][]string, 2*len(tags))
	for _, t := range tags {
		keys[servicePrefix+t.Key] = []string{t.Value}
		keys["aws:ResourceTag/"+t.Key] = []string{t.Value}
	}
	return keys
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
