package iam

import (
	"testing"
)

func TestRolePermissionsBoundaryAPI(t *testing.T) {
	e := newEnv(t)
	b := e.policy("Boundary", allow("rds:Describe*", "*"))
	r := e.role("App", "AssumeRolePolicyDocument", trustAccount(), "PermissionsBoundary", b)
	if r.PermissionsBoundary == nil || *r.PermissionsBoundary != (xmlBoundary{"PermissionsBoundaryPolicy", b}) {
		t.Fatalf("CreateRole: %+v", r.PermissionsBoundary)
	}
	if got := e.do("GetRole", "RoleName", "App").(roleResult).Role.PermissionsBoundary; got == nil || got.Arn != b {
		t.Fatalf("GetRole: %+v", got)
	}
	if l := e.do("ListRoles").(listRolesResult).Roles.Items; len(l) != 1 || l[0].PermissionsBoundary != nil {
		t.Fatalf("ListRoles: %+v", l)
	}
	e.user("carol", "PermissionsBoundary", b)
	if p := e.do("GetPolicy", "PolicyArn", b).(policyResult).Policy; p.PermissionsBoundaryUsageCount != 2 {
		t.Fatalf("usage count: %+v", p)
	}
	e.fail("DeleteConflict", 409, "attached to entities", "DeletePolicy", "PolicyArn", b)

	e.fail("NoSuchEntity", 404, "Scope ARN", "CreateRole", "RoleName", "Other", "AssumeRolePolicyDocument", trustAccount(), "PermissionsBoundary", accountPrefix+"policy/Nope")
	e.fail("NoSuchEntity", 404, "Other", "GetRole", "RoleName", "Other")
	e.fail("NoSuchEntity", 404, "Scope ARN", "PutRolePermissionsBoundary", "RoleName", "App", "PermissionsBoundary", awsPolicyARNPrefix+"Nope")
	e.fail("InvalidInput", 400, "is not valid", "PutRolePermissionsBoundary", "RoleName", "App", "PermissionsBoundary", "arn:aws:s3:::x/policy/y")
	e.fail("NoSuchEntity", 404, "Other", "PutRolePermissionsBoundary", "RoleName", "Other", "PermissionsBoundary", b)
	e.fail("NoSuchEntity", 404, "Other", "DeleteRolePermissionsBoundary", "RoleName", "Other")

	e.do("PutRolePermissionsBoundary", "RoleName", "App", "PermissionsBoundary", rdsReadARN)
	if got := e.do("GetRole", "RoleName", "App").(roleResult).Role.PermissionsBoundary; got == nil || got.Arn != rdsReadARN {
		t.Fatalf("replaced: %+v", got)
	}
	e.do("DeleteRolePermissionsBoundary", "RoleName", "App")
	if got := e.do("GetRole", "RoleName", "App").(roleResult).Role.PermissionsBoundary; got != nil {
		t.Fatalf("deleted: %+v", got)
	}
	if p := e.do("GetPolicy", "PolicyArn", b).(policyResult).Policy; p.PermissionsBoundaryUsageCount != 1 {
		t.Fatalf("usage count: %+v", p)
	}
}

// TestDelegatedRoleCreationHoldsAgainstTheDelegate: dana may create and change roles only
// with boundary B (the role half of AWS's delegation pattern).
func TestDelegatedRoleCreationHoldsAgainstTheDelegate(t *testing.T) {
	e := newEnv(t)
	b := e.policy("DelegatedRoleBoundary", allow("rds:Describe*", "*"))
	delegation := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["iam:CreateRole","iam:PutRolePolicy","iam:DeleteRolePolicy","iam:AttachRolePolicy","iam:DetachRolePolicy","iam:PutRolePermissionsBoundary"],
	   "Resource":"*","Condition":{"StringEquals":{"iam:PermissionsBoundary":"` + b + `"}}},
	  {"Effect":"Allow","Action":["iam:GetRole","iam:ListRoles"],"Resource":"*"},
	  {"Effect":"Deny","Action":["iam:CreatePolicyVersion","iam:SetDefaultPolicyVersion","iam:DeletePolicy"],"Resource":"` + b + `"},
	  {"Effect":"Deny","Action":"iam:DeleteRolePermissionsBoundary","Resource":"*"}]}`
	e.user("dana")
	e.do("PutUserPolicy", "UserName", "dana", "PolicyName", "delegation", "PolicyDocument", delegation)
	e.role("Admin", "AssumeRolePolicyDocument", trustAccount()) // an existing role without a boundary
	e.do("AttachRolePolicy", "RoleName", "Admin", "PolicyArn", adminARN)

	if _, err := e.callAs("dana", "CreateRole", "RoleName", "App", "AssumeRolePolicyDocument", trustAccount(), "PermissionsBoundary", b); err != nil {
		t.Fatalf("CreateRole with B: %v", err)
	}
	if _, err := e.callAs("dana", "AttachRolePolicy", "RoleName", "App", "PolicyArn", adminARN); err != nil {
		t.Fatalf("AttachRolePolicy to App: %v", err)
	}
	refused := func(what, action string, kv ...string) {
		t.Helper()
		if _, err := e.callAs("dana", action, kv...); !isAccessDenied(err) {
			t.Errorf("%s: %s: want AccessDenied, got %v", what, action, err)
		}
	}
	refused("a role without the boundary", "CreateRole", "RoleName", "Free", "AssumeRolePolicyDocument", trustAccount())
	refused("a role with another boundary", "CreateRole", "RoleName", "Free", "AssumeRolePolicyDocument", trustAccount(), "PermissionsBoundary", adminARN)
	refused("removing B", "DeleteRolePermissionsBoundary", "RoleName", "App")
	refused("replacing B", "PutRolePermissionsBoundary", "RoleName", "App", "PermissionsBoundary", adminARN)
	refused("editing B", "CreatePolicyVersion", "PolicyArn", b, "SetAsDefault", "true", "PolicyDocument", allow("*", "*"))
	refused("policies on a role without B", "PutRolePolicy", "RoleName", "Admin", "PolicyName", "x", "PolicyDocument", allow("*", "*"))
	refused("detaching from a role without B", "DetachRolePolicy", "RoleName", "Admin", "PolicyArn", adminARN)
	if _, err := e.st.IAMRole(e.root, "Free"); err == nil {
		t.Error("a refused CreateRole made the role")
	}

	// What App's sessions would get: AdministratorAccess within B.
	out := e.do("SimulatePrincipalPolicy", "PolicySourceArn", accountPrefix+"role/App",
		"ActionNames.member.1", "rds:DescribeDBClusters", "ActionNames.member.2", "rds:DeleteDBCluster", "ActionNames.member.3", "iam:CreateUser").(simulateResult)
	want := []string{"allowed", "implicitDeny", "implicitDeny"}
	for i, r := range out.EvaluationResults.Items {
		if r.EvalDecision != want[i] || r.PermissionsBoundaryDecisionDetail == nil || r.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary != (i == 0) {
			t.Errorf("App %s: %+v", r.EvalActionName, r)
		}
	}
	if len(out.EvaluationResults.Items[0].MatchedStatements.Items) != 2 {
		t.Errorf("allowed by the role's policy and its boundary: %+v", out.EvaluationResults.Items[0].MatchedStatements.Items)
	}
	out = e.do("SimulatePrincipalPolicy", "PolicySourceArn", accountPrefix+"role/Admin", "ActionNames.member.1", "iam:CreateUser").(simulateResult)
	if r := out.EvaluationResults.Items[0]; r.EvalDecision != "allowed" || r.PermissionsBoundaryDecisionDetail != nil {
		t.Errorf("Admin: %+v", r)
	}
	e.fail("NoSuchEntity", 404, "Nope", "SimulatePrincipalPolicy", "PolicySourceArn", accountPrefix+"role/Nope", "ActionNames.member.1", "iam:CreateUser")
}
