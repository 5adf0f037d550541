package rds

import (
	"context"
	"maps"
	"testing"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/params"
)

// decide answers an RDS request as IAM does (iam.Authorize): the policy must allow the
// action on every resource the service names, with the request's and the resource's keys.
func decide(t *testing.T, s *Service, doc, action string, p awsquery.Params) policy.Decision {
	t.Helper()
	pol, err := policy.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	res, keys := s.Authorization(context.Background(), action, p)
	for _, r := range res {
		ctx := maps.Clone(keys)
		maps.Copy(ctx, r.Keys)
		a := "rds:" + action
		if r.Action != "" {
			a = r.Action // tagging on creation: rds:AddTagsToResource
		}
		if d := policy.Evaluate(policy.Request{Action: a, Resource: r.ARN, Context: ctx}, []*policy.Policy{pol}).Decision; d != policy.Allow {
			return d
		}
	}
	return policy.Allow
}

const denyProd = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"rds:*","Resource":"*"},
 {"Effect":"Deny","Action":"rds:*","Resource":["arn:aws:rds:us-east-1:123456789012:cluster:prod-*",
  "arn:aws:rds:us-east-1:123456789012:db:prod-*","arn:aws:rds:us-east-1:123456789012:cluster-pg:prod-*",
  "arn:aws:rds:us-east-1:123456789012:pg:prod-*","arn:aws:rds:us-east-1:123456789012:subgrp:prod-*"]}]}`

// The tagging actions act on the stored resource, whose name is lower-case: they are
// authorized on that resource's ARN, so a deny on prod-* holds however the caller spells it.
func TestTaggingIsAuthorizedOnTheCanonicalARN(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	newCluster(t, s, "prod-a")
	if _, err := s.Do(ctx, "CreateDBClusterParameterGroup", query("DBClusterParameterGroupName", "prod-g",
		"DBParameterGroupFamily", params.Family, "Description", "d")); err != nil {
		t.Fatal(err)
	}
	for _, arn := range []string{
		"arn:aws:rds:us-east-1:123456789012:cluster:PROD-A",
		"arn:aws:rds:us-east-1:123456789012:cluster:Prod-a",
		"arn:aws:rds:us-east-1:123456789012:cluster:prod-a",
		"arn:aws:rds:us-east-1:123456789012:db:PROD-I",
		"arn:aws:rds:us-east-1:123456789012:cluster-pg:PROD-G",
		"arn:aws:rds:us-east-1:123456789012:pg:Prod-G",
	} {
		for _, action := range []string{"AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource"} {
			p := query("ResourceName", arn, "Tags.Tag.1.Key", "k", "Tags.Tag.1.Value", "v", "TagKeys.member.1", "k")
			if d := decide(t, s, denyProd, action, p); d != policy.ExplicitDeny {
				t.Errorf("%s on %s: %s, want explicitDeny", action, arn, d)
			}
		}
	}
	// The resource's own tags are its keys whatever the spelling.
	res, _ := s.Authorization(ctx, "ListTagsForResource", query("ResourceName", "arn:aws:rds:us-east-1:123456789012:cluster:PROD-A"))
	if len(res) != 1 || res[0].ARN != "arn:aws:rds:us-east-1:123456789012:cluster:prod-a" {
		t.Fatalf("resources %+v", res)
	}
}

// The class: every action that names a resource is authorized on the resource it acts on,
// however the caller spells the identifier.
func TestEveryIdentifierIsAuthorizedInItsCanonicalForm(t *testing.T) {
	s := newTestService(t)
	for _, c := range []struct {
		action string
		kv     []string
	}{
		{"CreateDBCluster", []string{"DBClusterIdentifier", "PROD-B"}},
		{"CreateDBCluster", []string{"DBClusterIdentifier", "ok", "DBClusterParameterGroupName", "PROD-G"}},
		{"CreateDBCluster", []string{"DBClusterIdentifier", "ok", "DBSubnetGroupName", "Prod-S"}},
		{"DescribeDBSubnetGroups", []string{"DBSubnetGroupName", "PROD-S"}},
		{"DescribeDBClusters", []string{"DBClusterIdentifier", "PROD-A"}},
		{"ModifyDBCluster", []string{"DBClusterIdentifier", "Prod-A"}},
		{"ModifyDBCluster", []string{"DBClusterIdentifier", "ok", "DBClusterParameterGroupName", "Prod-G"}},
		{"DeleteDBCluster", []string{"DBClusterIdentifier", "PROD-A"}},
		{"RebootDBCluster", []string{"DBClusterIdentifier", "PROD-A"}},
		{"CreateDBInstance", []string{"DBInstanceIdentifier", "PROD-I"}},
		{"CreateDBInstance", []string{"DBInstanceIdentifier", "ok", "DBClusterIdentifier", "PROD-A"}},
		{"CreateDBInstance", []string{"DBInstanceIdentifier", "ok", "DBParameterGroupName", "PROD-G"}},
		{"DescribeDBInstances", []string{"DBInstanceIdentifier", "PROD-I"}},
		{"ModifyDBInstance", []string{"DBInstanceIdentifier", "PROD-I"}},
		{"DeleteDBInstance", []string{"DBInstanceIdentifier", "PROD-I"}},
		{"RebootDBInstance", []string{"DBInstanceIdentifier", "PROD-I"}},
		{"ModifyDBClusterParameterGroup", []string{"DBClusterParameterGroupName", "PROD-G"}},
		{"DeleteDBParameterGroup", []string{"DBParameterGroupName", "PROD-G"}},
		{"CopyDBClusterParameterGroup", []string{"SourceDBClusterParameterGroupIdentifier", "arn:aws:rds:us-east-1:123456789012:cluster-pg:PROD-G", "TargetDBClusterParameterGroupIdentifier", "ok"}},
		{"CopyDBClusterParameterGroup", []string{"SourceDBClusterParameterGroupIdentifier", "ok", "TargetDBClusterParameterGroupIdentifier", "PROD-H"}},
	} {
		if d := decide(t, s, denyProd, c.action, query(c.kv...)); d != policy.ExplicitDeny {
			t.Errorf("%s %v: %s, want explicitDeny", c.action, c.kv, d)
		}
	}
}

// CreateDBCluster is authorized on the DB subnet group it names, as AWS's service
// authorization reference lists (rds:CreateDBCluster on subgrp): a user allowed to create
// clusters only in one subnet group cannot place one in another.
func TestCreateDBClusterIsAuthorizedOnItsSubnetGroup(t *testing.T) {
	s := newTestService(t)
	const onlyDev = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:CreateDBCluster",
	 "Resource":["arn:aws:rds:us-east-1:123456789012:cluster:*","arn:aws:rds:us-east-1:123456789012:subgrp:dev"]}]}`
	if d := decide(t, s, onlyDev, "CreateDBCluster", query("DBClusterIdentifier", "c1", "DBSubnetGroupName", "Dev")); d != policy.Allow {
		t.Errorf("in its own subnet group: %s", d)
	}
	if d := decide(t, s, onlyDev, "CreateDBCluster", query("DBClusterIdentifier", "c1", "DBSubnetGroupName", "secret")); d != policy.ImplicitDeny {
		t.Errorf("in another subnet group: %s, want implicitDeny", d)
	}
}
