package iam

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

const (
	adminARN      = awsPolicyARNPrefix + "AdministratorAccess"
	rdsReadARN    = awsPolicyARNPrefix + "AmazonRDSReadOnlyAccess"
	devCluster    = "arn:aws:rds:us-east-1:" + testAccount + ":cluster:dev"
	accountPrefix = "arn:aws:iam::" + testAccount + ":"
)

// callAs runs an action as the named user the way the API server does: name the resources
// and condition keys, authorize, then run it.
func (e *env) callAs(userName, action string, kv ...string) (any, error) {
	e.t.Helper()
	ctx := e.as(userName)
	p := params(kv...)
	caller, _ := principal.From(ctx)
	resources, keys := e.svc.Authorization(ctx, action, p)
	maps.Copy(keys, caller.ConditionKeys(testNow))
	if err := e.svc.Authorize(ctx, caller, "iam:"+action, resources, keys); err != nil {
		return nil, err
	}
	return e.svc.Do(ctx, action, p)
}

// can reports whether the named user may do action on resource, as Authorize decides.
func (e *env) can(userName, action, resource string) error {
	e.t.Helper()
	ctx := e.as(userName)
	caller, _ := principal.From(ctx)
	return e.svc.Authorize(ctx, caller, action, []authz.Resource{authz.On(resource)}, caller.ConditionKeys(testNow))
}

func (e *env) policy(name, doc string) string {
	e.t.Helper()
	return e.do("CreatePolicy", "PolicyName", name, "PolicyDocument", doc).(policyResult).Policy.Arn
}

func isAccessDenied(err error) bool {
	var ae *awsquery.Error
	return errors.As(err, &ae) && ae.Code == "AccessDenied"
}

func TestUserPermissionsBoundaryAPI(t *testing.T) {
	e := newEnv(t)
	b := e.policy("Boundary", allow("rds:Describe*", "*"))
	u := e.user("carol", "PermissionsBoundary", b)
	if u.PermissionsBoundary == nil || *u.PermissionsBoundary != (xmlBoundary{"PermissionsBoundaryPolicy", b}) {
		t.Fatalf("CreateUser: %+v", u.PermissionsBoundary)
	}
	if got := e.do("GetUser", "UserName", "carol").(userResult).User.PermissionsBoundary; got == nil || got.Arn != b {
		t.Fatalf("GetUser: %+v", got)
	}
	// ListUsers omits it, as AWS documents.
	if l := e.do("ListUsers").(listUsersResult).Users.Items; len(l) != 1 || l[0].PermissionsBoundary != nil {
		t.Fatalf("ListUsers: %+v", l)
	}
	if p := e.do("GetPolicy", "PolicyArn", b).(policyResult).Policy; p.PermissionsBoundaryUsageCount != 1 || p.AttachmentCount != 0 {
		t.Fatalf("GetPolicy counts: %+v", p)
	}
	if l := e.do("ListPolicies", "Scope", "Local", "OnlyAttached", "true", "PolicyUsageFilter", "PermissionsBoundary").(listPoliciesResult).Policies.Items; len(l) != 1 || l[0].Arn != b {
		t.Fatalf("ListPolicies boundaries: %+v", l)
	}
	if l := e.do("ListPolicies", "Scope", "Local", "OnlyAttached", "true", "PolicyUsageFilter", "PermissionsPolicy").(listPoliciesResult).Policies.Items; len(l) != 0 {
		t.Fatalf("ListPolicies permissions policies: %+v", l)
	}

	// Bad input changes nothing.
	e.fail("NoSuchEntity", 404, "Scope ARN: "+accountPrefix+"policy/Nope does not exist or is not attachable.",
		"PutUserPermissionsBoundary", "UserName", "carol", "PermissionsBoundary", accountPrefix+"policy/Nope")
	e.fail("NoSuchEntity", 404, "does not exist or is not attachable", "PutUserPermissionsBoundary", "UserName", "carol", "PermissionsBoundary", awsPolicyARNPrefix+"NoSuchThing")
	e.fail("NoSuchEntity", 404, "does not exist or is not attachable", "PutUserPermissionsBoundary", "UserName", "carol", "PermissionsBoundary", "arn:aws:iam::999999999999:policy/Boundary")
	e.fail("InvalidInput", 400, "is not valid", "PutUserPermissionsBoundary", "UserName", "carol", "PermissionsBoundary", "arn:aws:s3:::bucket/policy/x")
	e.fail("ValidationError", 400, "permissionsBoundary", "PutUserPermissionsBoundary", "UserName", "carol", "PermissionsBoundary", "short")
	e.fail("ValidationError", 400, "permissionsBoundary", "PutUserPermissionsBoundary", "UserName", "carol")
	e.fail("NoSuchEntity", 404, "The user with name dave cannot be found.", "PutUserPermissionsBoundary", "UserName", "dave", "PermissionsBoundary", b)
	e.fail("NoSuchEntity", 404, "Scope ARN", "CreateUser", "UserName", "dave", "PermissionsBoundary", accountPrefix+"policy/Nope")
	e.fail("NoSuchEntity", 404, "dave", "GetUser", "UserName", "dave") // not created
	if got := e.do("GetUser", "UserName", "carol").(userResult).User.PermissionsBoundary; got == nil || got.Arn != b {
		t.Fatalf("after refusals: %+v", got)
	}

	// A boundary in use cannot be deleted.
	e.fail("DeleteConflict", 409, "Cannot delete a policy attached to entities.", "DeletePolicy", "PolicyArn", b)

	// Replace with an AWS managed policy, then remove.
	e.do("PutUserPermissionsBoundary", "UserName", "carol", "PermissionsBoundary", rdsReadARN)
	if got := e.do("GetUser", "UserName", "carol").(userResult).User.PermissionsBoundary; got == nil || got.Arn != rdsReadARN {
		t.Fatalf("replaced: %+v", got)
	}
	e.do("DeleteUserPermissionsBoundary", "UserName", "carol")
	if got := e.do("GetUser", "UserName", "carol").(userResult).User.PermissionsBoundary; got != nil {
		t.Fatalf("deleted: %+v", got)
	}
	e.do("DeleteUserPermissionsBoundary", "UserName", "carol") // none: nothing to do
	e.fail("NoSuchEntity", 404, "dave", "DeleteUserPermissionsBoundary", "UserName", "dave")
	e.do("DeletePolicy", "PolicyArn", b) // no longer in use
}

// TestBoundaryCapsUserAndGroupPolicies: a user whose policies (its own and its groups')
// allow everything can do only what its boundary also allows; a boundary grants nothing.
func TestBoundaryCapsUserAndGroupPolicies(t *testing.T) {
	e := newEnv(t)
	b := e.policy("Boundary", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["rds:Describe*","rds:CreateDBCluster","ec2:DescribeVpcs"],"Resource":"*"},
	  {"Effect":"Deny","Action":"rds:*","Resource":"arn:aws:rds:*:*:cluster:prod"}]}`)
	e.user("carol", "PermissionsBoundary", b)
	e.do("CreateGroup", "GroupName", "admins")
	e.do("AttachGroupPolicy", "GroupName", "admins", "PolicyArn", adminARN)
	e.do("AddUserToGroup", "GroupName", "admins", "UserName", "carol")
	e.do("PutUserPolicy", "UserName", "carol", "PolicyName", "rds", "PolicyDocument", allow("rds:*", "*"))

	if err := e.can("carol", "rds:DescribeDBClusters", devCluster); err != nil {
		t.Fatalf("within both: %v", err)
	}
	err := e.can("carol", "rds:DeleteDBCluster", devCluster)
	if !isAccessDenied(err) || !strings.Contains(err.Error(), "because no permissions boundary allows the rds:DeleteDBCluster action") {
		t.Fatalf("outside the boundary: %v", err)
	}
	if err := e.can("carol", "iam:CreateUser", accountPrefix+"user/x"); !isAccessDenied(err) {
		t.Fatalf("group's AdministratorAccess is capped too: %v", err)
	}
	err = e.can("carol", "rds:CreateDBCluster", "arn:aws:rds:us-east-1:"+testAccount+":cluster:prod")
	if !isAccessDenied(err) || !strings.Contains(err.Error(), "with an explicit deny in a permissions boundary") {
		t.Fatalf("boundary's deny: %v", err)
	}
	// Without the group and the inline policy the boundary alone grants nothing.
	e.do("RemoveUserFromGroup", "GroupName", "admins", "UserName", "carol")
	e.do("DeleteUserPolicy", "UserName", "carol", "PolicyName", "rds")
	err = e.can("carol", "rds:DescribeDBClusters", devCluster)
	if !isAccessDenied(err) || !strings.Contains(err.Error(), "because no identity-based policy allows") {
		t.Fatalf("a boundary grants nothing: %v", err)
	}
	// An AWS managed boundary caps the same way.
	e.do("AttachUserPolicy", "UserName", "carol", "PolicyArn", adminARN)
	e.do("PutUserPermissionsBoundary", "UserName", "carol", "PermissionsBoundary", rdsReadARN)
	if err := e.can("carol", "rds:DescribeDBClusters", devCluster); err != nil {
		t.Fatal(err)
	}
	if err := e.can("carol", "rds:CreateDBCluster", devCluster); !isAccessDenied(err) {
		t.Fatalf("AWS managed boundary: %v", err)
	}
	// Editing the boundary policy changes the cap at once.
	e.do("PutUserPermissionsBoundary", "UserName", "carol", "PermissionsBoundary", b)
	e.do("CreatePolicyVersion", "PolicyArn", b, "SetAsDefault", "true", "PolicyDocument", allow("rds:DescribeDBClusters", "*"))
	if err := e.can("carol", "rds:CreateDBCluster", devCluster); !isAccessDenied(err) {
		t.Fatalf("new default version: %v", err)
	}
	if err := e.can("carol", "rds:DescribeDBClusters", devCluster); err != nil {
		t.Fatal(err)
	}
}

// TestBoundaryWhosePolicyIsGoneAllowsNothing: DeletePolicy refuses a boundary in use, but
// should the policy be missing anyway the user is allowed nothing (fail closed), not its
// identity policies uncapped.
func TestBoundaryWhosePolicyIsGoneAllowsNothing(t *testing.T) {
	e := newEnv(t)
	b := e.policy("Boundary", allow("rds:*", "*"))
	e.user("carol", "PermissionsBoundary", b)
	e.do("AttachUserPolicy", "UserName", "carol", "PolicyArn", adminARN)
	if err := e.can("carol", "rds:DescribeDBClusters", devCluster); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteManagedPolicy(context.Background(), b, func(store.ManagedPolicy, int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	err := e.can("carol", "rds:DescribeDBClusters", devCluster)
	if !isAccessDenied(err) || !strings.Contains(err.Error(), "permissions boundary") {
		t.Fatalf("boundary gone: %v", err)
	}
	// And the user is still shown with its boundary, so an administrator sees why.
	if got := e.do("GetUser", "UserName", "carol").(userResult).User.PermissionsBoundary; got == nil || got.Arn != b {
		t.Fatalf("GetUser: %+v", got)
	}
}

// TestDelegatedUserCreationHoldsAgainstTheDelegate is AWS's delegation pattern: an
// administrator lets dana create and manage users only with boundary B, and dana tries
// every way out.
func TestDelegatedUserCreationHoldsAgainstTheDelegate(t *testing.T) {
	e := newEnv(t)
	b := e.policy("DelegatedUserBoundary", allow("rds:Describe*", "*"))
	delegated := accountPrefix + "user/delegated/*"
	danaBoundary := accountPrefix + "policy/DelegatedAdminBoundary"
	// Her boundary is her delegation itself: a wider one (iam:*, say) would let her use
	// the admins group's policies below.
	delegation := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"CreateOrChangeOnlyWithBoundary","Effect":"Allow",
	   "Action":["iam:CreateUser","iam:DeleteUserPolicy","iam:AttachUserPolicy","iam:DetachUserPolicy","iam:PutUserPermissionsBoundary","iam:PutUserPolicy"],
	   "Resource":"` + delegated + `","Condition":{"StringEquals":{"iam:PermissionsBoundary":"` + b + `"}}},
	  {"Sid":"OtherIAM","Effect":"Allow",
	   "Action":["iam:GetUser","iam:ListUsers","iam:GetPolicy","iam:ListPolicies","iam:CreatePolicy","iam:CreatePolicyVersion","iam:SetDefaultPolicyVersion","iam:DeletePolicy","iam:AddUserToGroup"],
	   "Resource":"*"},
	  {"Sid":"KeysForDelegatedUsers","Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"` + delegated + `"},
	  {"Sid":"NoBoundaryPolicyEdit","Effect":"Deny",
	   "Action":["iam:CreatePolicyVersion","iam:DeletePolicy","iam:DeletePolicyVersion","iam:SetDefaultPolicyVersion"],
	   "Resource":["` + b + `","` + danaBoundary + `","` + accountPrefix + `policy/DelegatedAdmin"]},
	  {"Sid":"NoBoundaryUserDelete","Effect":"Deny","Action":"iam:DeleteUserPermissionsBoundary","Resource":"*"}]}`
	danaPolicy := e.policy("DelegatedAdmin", delegation)
	e.policy("DelegatedAdminBoundary", delegation)
	// dana lives under /delegated/ too, so only the condition key keeps her from her own user.
	e.user("dana", "Path", "/delegated/", "PermissionsBoundary", danaBoundary)
	e.do("AttachUserPolicy", "UserName", "dana", "PolicyArn", danaPolicy)
	e.user("ops") // a full administrator
	e.do("AttachUserPolicy", "UserName", "ops", "PolicyArn", adminARN)
	e.do("CreateGroup", "GroupName", "admins")
	e.do("AttachGroupPolicy", "GroupName", "admins", "PolicyArn", adminARN)

	refused := func(what string, action string, kv ...string) {
		t.Helper()
		if _, err := e.callAs("dana", action, kv...); !isAccessDenied(err) {
			t.Errorf("%s: %s %v: want AccessDenied, got %v", what, action, kv, err)
		}
	}
	// What she may do: create a user with B, give it any policy (capped by B).
	if _, err := e.callAs("dana", "CreateUser", "UserName", "erin", "Path", "/delegated/", "PermissionsBoundary", b); err != nil {
		t.Fatalf("CreateUser with B: %v", err)
	}
	if _, err := e.callAs("dana", "AttachUserPolicy", "UserName", "erin", "PolicyArn", adminARN); err != nil {
		t.Fatalf("AttachUserPolicy to erin: %v", err)
	}
	if _, err := e.callAs("dana", "PutUserPolicy", "UserName", "erin", "PolicyName", "all", "PolicyDocument", allow("*", "*")); err != nil {
		t.Fatalf("PutUserPolicy to erin: %v", err)
	}
	if _, err := e.callAs("dana", "CreateAccessKey", "UserName", "erin"); err != nil {
		t.Fatalf("CreateAccessKey for erin: %v", err)
	}
	if err := e.can("erin", "rds:DescribeDBClusters", devCluster); err != nil {
		t.Fatalf("erin within B: %v", err)
	}
	for _, a := range []string{"iam:CreateUser", "iam:AttachUserPolicy", "rds:DeleteDBCluster"} {
		if err := e.can("erin", a, "*"); !isAccessDenied(err) {
			t.Errorf("erin is capped by B: %s: %v", a, err)
		}
	}

	refused("a user without the boundary", "CreateUser", "UserName", "free", "Path", "/delegated/")
	refused("a user with another boundary", "CreateUser", "UserName", "free", "Path", "/delegated/", "PermissionsBoundary", adminARN)
	refused("a user with her own, wider boundary", "CreateUser", "UserName", "free", "Path", "/delegated/", "PermissionsBoundary", danaBoundary)
	refused("the boundary in another case", "CreateUser", "UserName", "free", "Path", "/delegated/", "PermissionsBoundary", strings.Replace(b, "DelegatedUserBoundary", "delegateduserboundary", 1))
	// The boundary twice, B first: IAM reads a repeated member's first value, and the
	// decision and the action read the same one.
	if _, err := e.callAs("dana", "CreateUser", "UserName", "twice", "Path", "/delegated/", "PermissionsBoundary", b, "PermissionsBoundary", adminARN); err != nil {
		t.Fatal(err)
	}
	if got := e.do("GetUser", "UserName", "twice").(userResult).User.PermissionsBoundary; got == nil || got.Arn != b {
		t.Errorf("two boundaries given: %+v", got)
	}
	refused("two boundaries, another first", "CreateUser", "UserName", "free", "Path", "/delegated/", "PermissionsBoundary", adminARN, "PermissionsBoundary", b)
	if _, err := e.st.IAMUser(context.Background(), "free"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused CreateUser created the user: %v", err)
	}
	refused("removing B", "DeleteUserPermissionsBoundary", "UserName", "erin")
	refused("replacing B", "PutUserPermissionsBoundary", "UserName", "erin", "PermissionsBoundary", adminARN)
	refused("editing B", "CreatePolicyVersion", "PolicyArn", b, "SetAsDefault", "true", "PolicyDocument", allow("*", "*"))
	refused("switching B's version", "SetDefaultPolicyVersion", "PolicyArn", b, "VersionId", "v1")
	refused("deleting B", "DeletePolicy", "PolicyArn", b)
	refused("editing her own policy", "CreatePolicyVersion", "PolicyArn", danaPolicy, "SetAsDefault", "true", "PolicyDocument", allow("*", "*"))
	refused("editing her own boundary", "CreatePolicyVersion", "PolicyArn", danaBoundary, "SetAsDefault", "true", "PolicyDocument", allow("*", "*"))
	refused("attaching to herself", "AttachUserPolicy", "UserName", "dana", "PolicyArn", adminARN)
	refused("an inline policy on herself", "PutUserPolicy", "UserName", "dana", "PolicyName", "all", "PolicyDocument", allow("*", "*"))
	refused("removing her own boundary", "DeleteUserPermissionsBoundary", "UserName", "dana")
	refused("detaching her own policy", "DetachUserPolicy", "UserName", "dana", "PolicyArn", danaPolicy)
	refused("keys for an administrator", "CreateAccessKey", "UserName", "ops")
	refused("a boundary on an administrator", "PutUserPermissionsBoundary", "UserName", "ops", "PermissionsBoundary", b)
	refused("policies on a user outside her path", "AttachUserPolicy", "UserName", "ops", "PolicyArn", rdsReadARN)
	if got := e.do("GetUser", "UserName", "erin").(userResult).User.PermissionsBoundary; got == nil || got.Arn != b {
		t.Fatalf("erin's boundary after the attacks: %+v", got)
	}
	if v := e.do("GetPolicy", "PolicyArn", b).(policyResult).Policy.DefaultVersionID; v != "v1" {
		t.Fatalf("B's default version: %s", v)
	}

	// A policy she writes herself, attached to a user with B, is still capped.
	mine, err := e.callAs("dana", "CreatePolicy", "PolicyName", "Mine", "PolicyDocument", allow("*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	mineARN := mine.(policyResult).Policy.Arn
	refused("her own policy on herself", "AttachUserPolicy", "UserName", "dana", "PolicyArn", mineARN)
	if _, err := e.callAs("dana", "AttachUserPolicy", "UserName", "erin", "PolicyArn", mineARN); err != nil {
		t.Fatal(err)
	}
	if err := e.can("erin", "iam:CreateUser", "*"); !isAccessDenied(err) {
		t.Errorf("erin with dana's policy: %v", err)
	}

	// Groups: she may add users to groups, but a group's policies are capped by each
	// member's boundary, hers included.
	for _, u := range []string{"erin", "dana"} {
		if _, err := e.callAs("dana", "AddUserToGroup", "GroupName", "admins", "UserName", u); err != nil {
			t.Fatalf("AddUserToGroup %s: %v", u, err)
		}
	}
	if err := e.can("erin", "rds:DeleteDBCluster", devCluster); !isAccessDenied(err) {
		t.Errorf("erin in admins: %v", err)
	}
	if err := e.can("dana", "rds:DeleteDBCluster", devCluster); !isAccessDenied(err) {
		t.Errorf("dana in admins: %v", err)
	}
	refused("keys for an administrator, from the admins group", "CreateAccessKey", "UserName", "ops")
	refused("removing B, from the admins group", "DeleteUserPermissionsBoundary", "UserName", "erin")
}

// TestSimulationPredictsTheDecision: SimulatePrincipalPolicy gives, for users with and
// without boundaries, exactly the decision Authorize makes.
func TestSimulationPredictsTheDecision(t *testing.T) {
	e := newEnv(t)
	b := e.policy("Boundary", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["rds:Describe*","rds:CreateDBCluster","iam:GetUser"],"Resource":"*"},
	  {"Effect":"Deny","Action":"rds:*","Resource":"arn:aws:rds:*:*:cluster:prod"}]}`)
	gone := e.policy("Gone", allow("*", "*"))
	e.user("plain")
	e.do("PutUserPolicy", "UserName", "plain", "PolicyName", "rds", "PolicyDocument", allow("rds:*", "*"))
	e.user("capped", "PermissionsBoundary", b)
	e.do("PutUserPolicy", "UserName", "capped", "PolicyName", "rds", "PolicyDocument", allow("rds:*", "*"))
	e.do("CreateGroup", "GroupName", "admins")
	e.do("AttachGroupPolicy", "GroupName", "admins", "PolicyArn", adminARN)
	e.user("grouped", "PermissionsBoundary", b)
	e.do("AddUserToGroup", "GroupName", "admins", "UserName", "grouped")
	e.user("orphan", "PermissionsBoundary", gone)
	e.do("AttachUserPolicy", "UserName", "orphan", "PolicyArn", adminARN)
	if err := e.st.DeleteManagedPolicy(context.Background(), gone, func(store.ManagedPolicy, int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	prod := "arn:aws:rds:us-east-1:" + testAccount + ":cluster:prod"
	actions := []string{"rds:DescribeDBClusters", "rds:CreateDBCluster", "rds:DeleteDBCluster", "iam:GetUser", "iam:CreateUser", "ec2:DescribeVpcs"}
	for _, user := range []string{"plain", "capped", "grouped", "orphan"} {
		for _, res := range []string{devCluster, prod} {
			kv := []string{"PolicySourceArn", accountPrefix + "user/" + user, "ResourceArns.member.1", res}
			for i, a := range actions {
				kv = append(kv, "ActionNames.member."+string(rune('1'+i)), a)
			}
			out := e.do("SimulatePrincipalPolicy", kv...).(simulateResult)
			for _, r := range out.EvaluationResults.Items {
				err := e.can(user, r.EvalActionName, res)
				allowed := r.EvalDecision == "allowed"
				if allowed != (err == nil) {
					t.Errorf("%s %s on %s: simulated %s, Authorize %v", user, r.EvalActionName, res, r.EvalDecision, err)
				}
				if r.EvalDecision == "explicitDeny" && (err == nil || !strings.Contains(err.Error(), "explicit deny")) {
					t.Errorf("%s %s on %s: simulated explicitDeny, Authorize %v", user, r.EvalActionName, res, err)
				}
				if bd := r.PermissionsBoundaryDecisionDetail; (bd != nil) != (user != "plain") {
					t.Errorf("%s: PermissionsBoundaryDecisionDetail %+v", user, bd)
				}
			}
		}
	}
	// A boundary given in the request replaces the user's own.
	out := e.do("SimulatePrincipalPolicy", "PolicySourceArn", accountPrefix+"user/capped", "ActionNames.member.1", "rds:DeleteDBCluster",
		"ResourceArns.member.1", devCluster, "PermissionsBoundaryPolicyInputList.member.1", allow("rds:Delete*", "*")).(simulateResult)
	if r := out.EvaluationResults.Items[0]; r.EvalDecision != "allowed" || !r.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary {
		t.Fatalf("replaced boundary: %+v", r)
	}
	out = e.do("SimulatePrincipalPolicy", "PolicySourceArn", accountPrefix+"user/plain", "ActionNames.member.1", "rds:DeleteDBCluster",
		"ResourceArns.member.1", devCluster, "PermissionsBoundaryPolicyInputList.member.1", allow("rds:Describe*", "*")).(simulateResult)
	if r := out.EvaluationResults.Items[0]; r.EvalDecision != "implicitDeny" || r.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary {
		t.Fatalf("boundary given for a user without one: %+v", r)
	}
	e.fail("MalformedPolicyDocument", 400, "", "SimulatePrincipalPolicy", "PolicySourceArn", accountPrefix+"user/plain", "ActionNames.member.1", "rds:DeleteDBCluster",
		"PermissionsBoundaryPolicyInputList.member.1", "{")
	e.fail("InvalidInput", 400, "only one permissions boundary", "SimulatePrincipalPolicy", "PolicySourceArn", accountPrefix+"user/plain", "ActionNames.member.1", "rds:DeleteDBCluster",
		"PermissionsBoundaryPolicyInputList.member.1", allow("*", "*"), "PermissionsBoundaryPolicyInputList.member.2", allow("*", "*"))
}
