package iam

import (
	"reflect"
	"testing"

	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestEveryActionMapped walks the IAM and STS action tables: each entry runs, names at
// least one resource ARN for a typical request, and is an operation of the AWS API.
func TestEveryActionMapped(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "Tags.member.1.Key", "team", "Tags.member.1.Value", "db")
	e.do("CreateGroup", "GroupName", "g")
	typical := params(
		"UserName", "alice", "GroupName", "g", "PolicyName", "p",
		"PolicyArn", "arn:aws:iam::123456789012:policy/p", "VersionId", "v1",
		"PolicySourceArn", "arn:aws:iam::123456789012:user/alice",
		"AccessKeyId", "AKIAEXAMPLEEXAMPLE00", "Status", "Inactive", "Password", "Passw0rd!Passw0rd!",
		"PolicyDocument", allow("rds:*", "*"), "ActionNames.member.1", "rds:DescribeDBClusters",
		"Tags.member.1.Key", "k", "Tags.member.1.Value", "v", "TagKeys.member.1", "k",
	)
	type entry struct {
		hasRun, hasResources bool
		resources            resourcesFunc
	}
	tables := map[string]struct {
		client  reflect.Type
		entries map[string]entry
	}{
		"iam": {reflect.TypeOf(&awsiam.Client{}), map[string]entry{}},
		"sts": {reflect.TypeOf(&awssts.Client{}), map[string]entry{}},
	}
	for name, a := range iamActions {
		tables["iam"].entries[name] = entry{a.run != nil, a.resources != nil, a.resources}
	}
	for name, a := range stsActions {
		tables["sts"].entries[name] = entry{a.run != nil, a.resources != nil, a.resources}
	}
	for svc, tab := range tables {
		if len(tab.entries) == 0 {
			t.Errorf("%s: empty action table", svc)
		}
		for name, a := range tab.entries {
			if _, ok := tab.client.MethodByName(name); !ok {
				t.Errorf("%s:%s is not an operation of the AWS %s API", svc, name, svc)
			}
			if !a.hasRun || !a.hasResources {
				t.Errorf("%s:%s: run set %v, resources set %v", svc, name, a.hasRun, a.hasResources)
				continue
			}
			res := a.resources(e.svc, e.root, typical, map[string][]string{})
			if len(res) == 0 {
				t.Errorf("%s:%s: no resources", svc, name)
			}
			for _, r := range res {
				if r.ARN == "" {
					t.Errorf("%s:%s: resource with an empty ARN", svc, name)
				}
			}
		}
	}
	// Routing and authorization both go through the tables.
	e.fail("InvalidAction", 400, "", "NoSuchAction")
	if res, _ := e.svc.Authorization(e.root, "NoSuchAction", typical); len(res) != 1 || res[0].ARN != "*" {
		t.Errorf("unknown IAM action: %+v", res)
	}
	if res, _ := e.svc.STS().Authorization(e.root, "GetCallerIdentity", typical); len(res) != 1 || res[0].ARN != "*" {
		t.Errorf("GetCallerIdentity: %+v", res)
	}
}

// TestEveryActionDeclaresItsModelMembers: each IAM action declares exactly the members of
// its input in the AWS API, carried out or refused with a reason; nothing else is accepted.
func TestEveryActionDeclaresItsModelMembers(t *testing.T) {
	client := reflect.TypeOf(&awsiam.Client{})
	for name, a := range iamActions {
		m, ok := client.MethodByName(name)
		if !ok {
			t.Errorf("%s is not an IAM operation", name)
			continue
		}
		in := m.Type.In(2).Elem()
		model := map[string]bool{}
		for i := range in.NumField() {
			if f := in.Field(i); f.IsExported() {
				model[f.Name] = true
				if _, ok := a.members[f.Name]; !ok {
					t.Errorf("%s: member %s is not declared", name, f.Name)
				}
			}
		}
		for n, mem := range a.members {
			if !model[n] {
				t.Errorf("%s: declares %s, which is not a member of %s", name, n, in.Name())
			}
			if mem.Why == "" && len(mem.Only) > 0 {
				t.Errorf("%s: %s accepts only some values but says not why", name, n)
			}
		}
	}
}

func TestMembersNotCarriedOutAreRefused(t *testing.T) {
	e := newEnv(t)
	e.fail("InvalidInput", 400, "Foo", "CreateUser", "UserName", "bob", "Foo", "x")
	e.fail("InvalidInput", 400, "GroupName", "CreateUser", "UserName", "bob", "GroupName", "g") // another action's member
	e.fail("InvalidInput", 400, "identity-based", "SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::123456789012:user/x",
		"ActionNames.member.1", "rds:DescribeDBClusters", "ResourcePolicy", "{}")
	e.fail("NoSuchEntity", 404, "", "GetUser", "UserName", "bob") // nothing was created
	e.do("CreateUser", "UserName", "bob", "Path", "/")
}
