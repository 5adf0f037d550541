package iam

import (
	"net/http"
	"net/url"
	"testing"
)

func trustAccount() string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + testAccount + `:root"},"Action":"sts:AssumeRole"}]}`
}

func trustOf(principalARN string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principalARN + `"},"Action":"sts:AssumeRole"}]}`
}

func (e *env) role(name string, kv ...string) xmlRole {
	e.t.Helper()
	args := append([]string{"RoleName", name}, kv...)
	if !params(kv...).Has("AssumeRolePolicyDocument") {
		args = append(args, "AssumeRolePolicyDocument", trustAccount())
	}
	return e.do("CreateRole", args...).(roleResult).Role
}

func TestCreateRoleAndGetRole(t *testing.T) {
	e := newEnv(t)
	r := e.role("Deployer", "Path", "/ci/", "Description", "deploys", "MaxSessionDuration", "7200", "Tags.member.1.Key", "team", "Tags.member.1.Value", "db")
	if r.Arn != "arn:aws:iam::"+testAccount+":role/ci/Deployer" || r.RoleID[:4] != "AROA" || len(r.RoleID) != 21 ||
		r.MaxSessionDuration != 7200 || r.Description != "deploys" || r.Tags == nil || r.Tags.Items[0].Key != "team" {
		t.Fatalf("role: %+v", r)
	}
	got := e.do("GetRole", "RoleName", "deployer").(roleResult).Role
	if doc, _ := url.QueryUnescape(got.AssumeRolePolicyDocument); doc != trustAccount() || got.RoleID != r.RoleID {
		t.Fatalf("GetRole: %+v", got)
	}
	if d := e.role("Plain"); d.MaxSessionDuration != 3600 || d.Path != "/" {
		t.Fatalf("defaults: %+v", d)
	}
	e.fail("EntityAlreadyExists", http.StatusConflict, "Role with name DEPLOYER already exists.", "CreateRole", "RoleName", "DEPLOYER", "AssumeRolePolicyDocument", trustAccount())
	e.fail("NoSuchEntity", http.StatusNotFound, "The role with name Nobody cannot be found.", "GetRole", "RoleName", "Nobody")
}

func TestCreateRoleRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	cases := []struct {
		name, code, msg string
		kv              []string
	}{
		{"no trust", "ValidationError", "'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null", nil},
		{"short session", "ValidationError", "Member must have value greater than or equal to 3600", []string{"MaxSessionDuration", "3599", "AssumeRolePolicyDocument", trustAccount()}},
		{"long session", "ValidationError", "Member must have value less than or equal to 43200", []string{"MaxSessionDuration", "43201", "AssumeRolePolicyDocument", trustAccount()}},
		{"identity policy", "MalformedPolicyDocument", "Has prohibited field Resource", []string{"AssumeRolePolicyDocument", allow("sts:AssumeRole", "*")}},
		{"no principal", "MalformedPolicyDocument", "Missing required field Principal", []string{"AssumeRolePolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`}},
		{"other action", "MalformedPolicyDocument", "AssumeRole policy may only specify STS AssumeRole actions.", []string{"AssumeRolePolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + testAccount + `"},"Action":"rds:*"}]}`}},
		{"star action", "MalformedPolicyDocument", "AssumeRole policy may only specify STS AssumeRole actions.", []string{"AssumeRolePolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + testAccount + `"},"Action":"*"}]}`}},
		{"unknown user", "MalformedPolicyDocument", `Invalid principal in policy: "AWS":"arn:aws:iam::` + testAccount + `:user/bob"`, []string{"AssumeRolePolicyDocument", trustOf("arn:aws:iam::" + testAccount + ":user/bob")}},
		{"wrong path", "MalformedPolicyDocument", "Invalid principal", []string{"AssumeRolePolicyDocument", trustOf("arn:aws:iam::" + testAccount + ":user/x/alice")}},
		{"wildcard arn", "MalformedPolicyDocument", "Invalid principal", []string{"AssumeRolePolicyDocument", trustOf("arn:aws:iam::" + testAccount + ":user/*")}},
		{"federated", "MalformedPolicyDocument", `Invalid principal in policy: "Federated":"accounts.google.com"`, []string{"AssumeRolePolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.fail(c.code, http.StatusBadRequest, c.msg, "CreateRole", append([]string{"RoleName", "R"}, c.kv...)...)
		})
	}
	if _, err := e.st.IAMRole(e.root, "R"); err == nil {
		t.Fatal("a refused CreateRole made a role")
	}
	// A user that exists, and a service principal (which never matches), are fine.
	e.role("ForAlice", "AssumeRolePolicyDocument", trustOf("arn:aws:iam::"+testAccount+":user/alice"))
	e.role("ForLambda", "AssumeRolePolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
}

func TestRolePoliciesAndDelete(t *testing.T) {
	e := newEnv(t)
	e.role("App")
	e.do("PutRolePolicy", "RoleName", "App", "PolicyName", "rds", "PolicyDocument", allow("rds:Describe*", "*"))
	got := e.do("GetRolePolicy", "RoleName", "App", "PolicyName", "rds").(getRolePolicyResult)
	if doc, _ := url.QueryUnescape(got.PolicyDocument); doc != allow("rds:Describe*", "*") || got.RoleName != "App" {
		t.Fatalf("GetRolePolicy: %+v", got)
	}
	if names := e.do("ListRolePolicies", "RoleName", "App").(listPolicyNamesResult).PolicyNames.Items; len(names) != 1 || names[0] != "rds" {
		t.Fatalf("ListRolePolicies: %v", names)
	}
	e.fail("MalformedPolicyDocument", http.StatusBadRequest, "", "PutRolePolicy", "RoleName", "App", "PolicyName", "bad", "PolicyDocument", trustAccount())
	e.do("AttachRolePolicy", "RoleName", "App", "PolicyArn", "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess")
	if a := e.do("ListAttachedRolePolicies", "RoleName", "App").(listAttachedPoliciesResult).AttachedPolicies.Items; len(a) != 1 {
		t.Fatalf("ListAttachedRolePolicies: %v", a)
	}
	e.fail("DeleteConflict", http.StatusConflict, "must delete policies first", "DeleteRole", "RoleName", "App")
	e.do("DeleteRolePolicy", "RoleName", "App", "PolicyName", "rds")
	e.fail("NoSuchEntity", http.StatusNotFound, "The role policy with name rds cannot be found.", "DeleteRolePolicy", "RoleName", "App", "PolicyName", "rds")
	e.fail("DeleteConflict", http.StatusConflict, "must detach all policies first", "DeleteRole", "RoleName", "App")
	e.do("DetachRolePolicy", "RoleName", "App", "PolicyArn", "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess")
	e.do("DeleteRole", "RoleName", "App")
	e.fail("NoSuchEntity", http.StatusNotFound, "The role with name App cannot be found.", "DeleteRole", "RoleName", "App")
	e.fail("NoSuchEntity", http.StatusNotFound, "The role with name App cannot be found.", "PutRolePolicy", "RoleName", "App", "PolicyName", "x", "PolicyDocument", allow("rds:*", "*"))
}

func TestUpdateRoleAndTags(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	e.role("App", "Description", "old")
	e.do("UpdateRole", "RoleName", "App", "MaxSessionDuration", "43200")
	if r := e.do("GetRole", "RoleName", "App").(roleResult).Role; r.MaxSessionDuration != 43200 || r.Description != "old" {
		t.Fatalf("UpdateRole: %+v", r)
	}
	if r := e.do("UpdateRoleDescription", "RoleName", "App", "Description", "new").(roleResult).Role; r.Description != "new" {
		t.Fatalf("UpdateRoleDescription: %+v", r)
	}
	e.do("UpdateAssumeRolePolicy", "RoleName", "App", "PolicyDocument", trustOf("arn:aws:iam::"+testAccount+":user/alice"))
	e.fail("MalformedPolicyDocument", http.StatusBadRequest, "Invalid principal", "UpdateAssumeRolePolicy", "RoleName", "App", "PolicyDocument", trustOf("arn:aws:iam::"+testAccount+":role/Nope"))
	e.do("TagRole", "RoleName", "App", "Tags.member.1.Key", "env", "Tags.member.1.Value", "prod")
	e.do("TagRole", "RoleName", "App", "Tags.member.1.Key", "ENV", "Tags.member.1.Value", "dev")
	if ts := e.do("ListRoleTags", "RoleName", "App").(listTagsResult).Tags.Items; len(ts) != 1 || ts[0].Value != "dev" {
		t.Fatalf("tags: %+v", ts)
	}
	e.do("UntagRole", "RoleName", "App", "TagKeys.member.1", "env")
	if ts := e.do("ListRoleTags", "RoleName", "App").(listTagsResult).Tags.Items; len(ts) != 0 {
		t.Fatalf("tags after untag: %+v", ts)
	}
}

func TestListRolesPaging(t *testing.T) {
	e := newEnv(t)
	e.role("a", "Path", "/x/")
	e.role("b")
	e.role("c", "Path", "/x/y/")
	r := e.do("ListRoles", "PathPrefix", "/x/", "MaxItems", "1").(listRolesResult)
	if len(r.Roles.Items) != 1 || !r.IsTruncated || r.Roles.Items[0].RoleName != "a" {
		t.Fatalf("page 1: %+v", r)
	}
	r = e.do("ListRoles", "PathPrefix", "/x/", "Marker", r.Marker).(listRolesResult)
	if len(r.Roles.Items) != 1 || r.IsTruncated || r.Roles.Items[0].RoleName != "c" {
		t.Fatalf("page 2: %+v", r)
	}
}
