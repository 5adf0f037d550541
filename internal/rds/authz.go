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
// action runs. An action not in the table is authorized against "*" (and then refused as
// InvalidAction by Do).
func (s *Service) Authorization(ctx context.Context, name string, p awsquery.Params) ([]authz.Resource, map[string][]string) {
	keys := map[string][]string{}
	a, ok := actions[name]
	if !ok {
		return []authz.Resource{authz.On("*")}, keys
	}
	return a.resources(s, ctx, p, keys), keys
}

// The resource functions below follow the RDS service authorization reference: one
// resource per ARN the action names, describe calls without an identifier on "*".

func (s *Service) cluster(ctx context.Context, id string) authz.Resource {
	id = strings.ToLower(id)
	r := authz.On(s.clusterARN(id))
	if c, err := s.store.Cluster(ctx, id); err == nil {
		r.Keys = tagKeys(c.Tags, "rds:cluster-tag/")
	}
	return r
}

func (s *Service) instance(ctx context.Context, id string) authz.Resource {
	id = strings.ToLower(id)
	r := authz.On(s.instanceARN(id))
	if in, err := s.store.Instance(ctx, id); err == nil {
		r.Keys = tagKeys(in.Tags, "rds:db-tag/")
	}
	return r
}

// paramGroup is the group a name resolves to as the actions look it up (s.group).
func (s *Service) paramGroup(ctx context.Context, k groupKind, name string) authz.Resource {
	name = strings.ToLower(name)
	r := authz.On(s.groupARN(k, name))
	if g, err := s.store.ParameterGroup(ctx, k.store, name); err == nil {
		r.Keys = tagKeys(g.Tags, "rds:"+k.arnType+"-tag/")
	}
	return r
}

// subnetGroupResource is the DB subnet group a name resolves to (s.subnetGroup), with its tags.
func (s *Service) subnetGroupResource(ctx context.Context, name string) authz.Resource {
	name = strings.ToLower(name)
	r := authz.On(s.subnetGroupARN(name))
	if g, err := s.store.SubnetGroup(ctx, name); err == nil {
		r.Keys = tagKeys(g.Tags, "rds:subgrp-tag/")
	}
	return r
}

// requestTags fills aws:RequestTag/*, RDS's own rds:req-tag/* and aws:TagKeys from the
// request's Tags: the tags the new resource gets.
func requestTags(p awsquery.Params, keys map[string][]string) {
	requestTagKeys(askedTags(p), keys)
}

func noResource(*Service, context.Context, groupKind, awsquery.Params, map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On("*")}
}

// certResources: DescribeCertificates names the cert it reads, or every one ("*").
func (s *Service) certResources(_ context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	id := p.String("CertificateIdentifier")
	if id == "" {
		return []authz.Resource{authz.On("*")}
	}
	return []authz.Resource{authz.On(s.certARN(strings.ToLower(id)))}
}

// anyResource is for actions IAM checks on "*" only (ModifyCertificates names no resource
// type in the service authorization reference).
func anyResource(*Service, context.Context, awsquery.Params, map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On("*")}
}

func (s *Service) clusterResources(ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	id := p.String("DBClusterIdentifier")
	if id == "" {
		return []authz.Resource{authz.On("*")}
	}
	return []authz.Resource{s.cluster(ctx, id)}
}

func (s *Service) createClusterResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	arn := s.clusterARN(strings.ToLower(p.String("DBClusterIdentifier")))
	res := append([]authz.Resource{authz.On(arn)}, tagOnCreate(arn, askedTags(p))...)
	if g := p.String("DBClusterParameterGroupName"); g != "" {
		res = append(res, s.paramGroup(ctx, clusterGroups, g))
	}
	if g := p.String("DBSubnetGroupName"); g != "" {
		res = append(res, s.subnetGroupResource(ctx, g))
	}
	keys["rds:DatabaseEngine"] = []string{p.String("Engine")}
	if db := p.String("DatabaseName"); db != "" {
		keys["rds:DatabaseName"] = []string{db}
	}
	// What will happen, not what was asked: Borealis does not encrypt storage nor manage the
	// master password (and refuses a request that asks it to).
	keys["rds:StorageEncrypted"] = []string{"false"}
	keys["rds:ManageMasterUserPassword"] = []string{"false"}
	requestTags(p, keys)
	return res
}

func (s *Service) modifyClusterResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	res := s.clusterResources(ctx, p, keys)
	if g := p.String("DBClusterParameterGroupName"); g != "" {
		res = append(res, s.paramGroup(ctx, clusterGroups, g))
	}
	return res
}

func (s *Service) instanceResources(ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	id := p.String("DBInstanceIdentifier")
	if id == "" {
		return []authz.Resource{authz.On("*")}
	}
	return []authz.Resource{s.instance(ctx, id)}
}

// modifyInstanceResources: the db and, when the request names one, the DB parameter group
// it is to use, as RDS authorizes rds:ModifyDBInstance on pg:NAME too.
func (s *Service) modifyInstanceResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	res := s.instanceResources(ctx, p, keys)
	if g := p.String("DBParameterGroupName"); g != "" {
		res = append(res, s.paramGroup(ctx, dbGroups, g))
	}
	return res
}

// createInstanceResources: the new db and the cluster it joins, as IAM checks both.
func (s *Service) createInstanceResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	arn := s.instanceARN(strings.ToLower(p.String("DBInstanceIdentifier")))
	res := append([]authz.Resource{authz.On(arn)}, tagOnCreate(arn, askedTags(p))...)
	if c := p.String("DBClusterIdentifier"); c != "" {
		res = append(res, s.cluster(ctx, c))
	}
	if g := p.String("DBParameterGroupName"); g != "" {
		res = append(res, s.paramGroup(ctx, dbGroups, g))
	}
	keys["rds:DatabaseClass"] = []string{p.String("DBInstanceClass")}
	keys["rds:DatabaseEngine"] = []string{p.String("Engine")}
	// What will happen: a cluster member in a VPC, unencrypted, in one zone, its master
	// password kept by the cluster (the action refuses a request for anything else).
	keys["rds:StorageEncrypted"] = []string{"false"}
	keys["rds:MultiAz"] = []string{"false"}
	keys["rds:Vpc"] = []string{"true"}
	keys["rds:ManageMasterUserPassword"] = []string{"false"}
	requestTags(p, keys)
	return res
}

func (s *Service) groupResources(ctx context.Context, k groupKind, p awsquery.Params, _ map[string][]string) []authz.Resource {
	name := p.String(k.nameParam)
	if name == "" {
		return []authz.Resource{authz.On("*")}
	}
	return []authz.Resource{s.paramGroup(ctx, k, name)}
}

func (s *Service) newGroupResources(_ context.Context, k groupKind, p awsquery.Params, keys map[string][]string) []authz.Resource {
	requestTags(p, keys)
	arn := s.groupARN(k, strings.ToLower(p.String(k.nameParam)))
	return append([]authz.Resource{authz.On(arn)}, tagOnCreate(arn, askedTags(p))...)
}

func (s *Service) copyGroupResources(ctx context.Context, k groupKind, p awsquery.Params, keys map[string][]string) []authz.Resource {
	requestTags(p, keys)
	arn := s.groupARN(k, strings.ToLower(p.String(k.targetParam)))
	return append([]authz.Resource{
		s.paramGroup(ctx, k, s.sourceGroupName(k, p.String(k.sourceParam))), // as copyGroup reads it
		authz.On(arn),
	}, tagOnCreate(arn, askedTags(p))...)
}

// tagResources: the resource the ARN names, in its canonical form (the stored resource's
// ARN, name lower-cased as the action looks it up) with its tags, never the ARN as typed:
// a policy on cluster:prod-* must hold for cluster:PROD-A too. Add names the new tags,
// Remove the keys it removes.
func (s *Service) tagResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	requestTags(p, keys)
	if names := p.List("TagKeys", "member"); len(names) > 0 {
		keys["aws:TagKeys"] = names
	}
	arn := p.String("ResourceName")
	t, err := s.parseResourceARN(arn)
	if err != nil {
		// The action refuses a name it cannot parse before it touches anything.
		return []authz.Resource{authz.On(arn)}
	}
	switch t.kind {
	case "cluster":
		return []authz.Resource{s.cluster(ctx, t.name)}
	case "db":
		return []authz.Resource{s.instance(ctx, t.name)}
	case "pg":
		return []authz.Resource{s.paramGroup(ctx, dbGroups, t.name)}
	case "cluster-snapshot":
		return []authz.Resource{s.snapshotResource(ctx, t.name)}
	default:
		return []authz.Resource{s.paramGroup(ctx, clusterGroups, t.name)}
	}
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
