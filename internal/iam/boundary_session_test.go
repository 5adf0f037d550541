package iam

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// TestRoleSessionIsCappedByTheRoleBoundary: a session gets its role's policies ∩ its
// session policies ∩ its role's boundary, each denial naming the layer that decided.
func TestRoleSessionIsCappedByTheRoleBoundary(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:AssumeRole", "*"))
	b := e.policy("OpsBoundary", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["iam:Get*","iam:ListRoles","iam:ListUsers"],"Resource":"*"},
	  {"Effect":"Deny","Action":"iam:GetUser","Resource":"*"}]}`)
	e.role("Ops", "PermissionsBoundary", b)
	e.do("AttachRolePolicy", "RoleName", "Ops", "PolicyArn", adminARN)

	out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("s1"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListRoles","iam:GetUser","iam:CreateUser","iam:ListGroups"],"Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := e.withCreds(static(out.Credentials))
	if _, err := c.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
		t.Fatalf("in all three: %v", err)
	}
	for _, x := range []struct {
		call func() error
		want string
	}{
		{func() error { _, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Ops")}); return err }, "because no session policy allows the iam:GetRole action"},
		{func() error { _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")}); return err }, "because no permissions boundary allows the iam:CreateUser action"},
		{func() error { _, err := c.ListGroups(ctx, &iam.ListGroupsInput{}); return err }, "because no permissions boundary allows the iam:ListGroups action"},
		{func() error { _, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")}); return err }, "with an explicit deny in a permissions boundary"},
	} {
		ae := apiError(t, x.call(), "AccessDenied", http.StatusForbidden)
		if !strings.HasSuffix(ae.ErrorMessage(), x.want) {
			t.Errorf("want %q, got %q", x.want, ae.ErrorMessage())
		}
	}
	if _, err := e.st.IAMUser(ctx, "x"); err == nil {
		t.Fatal("a refused CreateUser made the user")
	}
	// Removing the boundary lifts the cap for the same, unexpired session at once.
	e.do("DeleteRolePermissionsBoundary", "RoleName", "Ops")
	if _, err := c.ListGroups(ctx, &iam.ListGroupsInput{}); err != nil {
		t.Fatalf("boundary removed: %v", err)
	}
}

// TestAssumeRoleIsCappedByTheCallersBoundary: a user whose boundary does not allow
// sts:AssumeRole cannot assume a role its identity policy and a trust policy naming only
// the account would let it; a trust policy naming the user itself is, as on AWS, a grant
// the boundary's implicit deny does not limit, while its explicit deny does.
func TestAssumeRoleIsCappedByTheCallersBoundary(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	noSTS := e.policy("NoSTS", allow("iam:*", "*"))
	_, bobSTS := e.userWithKey("bob", allow("sts:AssumeRole", "*"))
	e.do("PutUserPermissionsBoundary", "UserName", "bob", "PermissionsBoundary", noSTS)
	e.role("ByAccount")
	e.role("ByName", "AssumeRolePolicyDocument", trustOf(accountPrefix+"user/bob"))

	_, err := bobSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "ByAccount"), RoleSessionName: aws.String("s1")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	if _, err := bobSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "ByName"), RoleSessionName: aws.String("s1")}); err != nil {
		t.Fatalf("trust naming bob: %v", err)
	}
	denySTS := e.policy("DenySTS", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*"}]}`)
	e.do("PutUserPermissionsBoundary", "UserName", "bob", "PermissionsBoundary", denySTS)
	_, err = bobSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "ByName"), RoleSessionName: aws.String("s1")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
}

// TestDelegateCannotEscapeThroughARole: dana, allowed to create roles only with boundary
// B, makes a role she can assume, gives it AdministratorAccess and a wide session policy:
// the session is still capped by B.
func TestDelegateCannotEscapeThroughARole(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	b := e.policy("B", allow("iam:ListRoles", "*"))
	danaIAM, danaSTS := e.userWithKey("dana", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["iam:CreateRole","iam:AttachRolePolicy","iam:PutRolePolicy"],"Resource":"*","Condition":{"StringEquals":{"iam:PermissionsBoundary":"`+b+`"}}},
	  {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`)
	trust := trustOf(accountPrefix + "user/dana")
	_, err := danaIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("Free"), AssumeRolePolicyDocument: aws.String(trust)})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	if _, err := danaIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("Mine"), AssumeRolePolicyDocument: aws.String(trust), PermissionsBoundary: aws.String(b)}); err != nil {
		t.Fatal(err)
	}
	if _, err := danaIAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("Mine"), PolicyArn: aws.String(adminARN)}); err != nil {
		t.Fatal(err)
	}
	out, err := danaSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Mine"), RoleSessionName: aws.String("up"),
		Policy: aws.String(allow("*", "*")), PolicyArns: []ststypes.PolicyDescriptorType{{Arn: aws.String(adminARN)}}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := e.withCreds(static(out.Credentials))
	if _, err := c.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("Mine")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
}

// TestRoleSimulationMatchesSessionCalls: SimulatePrincipalPolicy on a role predicts what a
// session of it (without session policies) is allowed, call by call.
func TestRoleSimulationMatchesSessionCalls(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:AssumeRole", "*"))
	b := e.policy("B", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["iam:List*","iam:GetRole"],"Resource":"*"},
	  {"Effect":"Deny","Action":"iam:ListGroups","Resource":"*"}]}`)
	e.role("Capped", "PermissionsBoundary", b)
	e.do("PutRolePolicy", "RoleName", "Capped", "PolicyName", "p", "PolicyDocument", allow("iam:*", "*"))
	e.role("Plain")
	e.do("PutRolePolicy", "RoleName", "Plain", "PolicyName", "p", "PolicyDocument", allow("iam:List*", "*"))

	type call struct {
		action string
		run    func(*iam.Client) error
	}
	calls := []call{
		{"iam:ListRoles", func(c *iam.Client) error { _, err := c.ListRoles(ctx, &iam.ListRolesInput{}); return err }},
		{"iam:ListUsers", func(c *iam.Client) error { _, err := c.ListUsers(ctx, &iam.ListUsersInput{}); return err }},
		{"iam:ListGroups", func(c *iam.Client) error { _, err := c.ListGroups(ctx, &iam.ListGroupsInput{}); return err }},
		{"iam:ListPolicies", func(c *iam.Client) error { _, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{}); return err }},
		{"iam:CreateGroup", func(c *iam.Client) error {
			_, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("g")})
			return err
		}},
	}
	for _, role := range []string{"Capped", "Plain"} {
		out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + role), RoleSessionName: aws.String("s1")})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := e.withCreds(static(out.Credentials))
		kv := []string{"PolicySourceArn", roleARNPrefix + role}
		for i, x := range calls {
			kv = append(kv, "ActionNames.member."+string(rune('1'+i)), x.action)
		}
		sim := e.do("SimulatePrincipalPolicy", kv...).(simulateResult).EvaluationResults.Items
		for i, x := range calls {
			err := x.run(c)
			if (sim[i].EvalDecision == "allowed") != (err == nil) {
				t.Errorf("%s %s: simulated %s, called: %v", role, x.action, sim[i].EvalDecision, err)
			}
			if err != nil {
				apiError(t, err, "AccessDenied", http.StatusForbidden)
			}
		}
		if _, err := e.st.IAMGroup(ctx, "g"); err == nil {
			e.do("DeleteGroup", "GroupName", "g")
		}
	}
}

// TestTrustNamingARoleIsCappedByItsBoundary: a trust policy naming a session's role (not
// the session) lets the role's boundary cap the chained AssumeRole, as its session
// policies do.
func TestTrustNamingARoleIsCappedByItsBoundary(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:AssumeRole", "*"))
	noSTS := e.policy("NoSTS", allow("iam:*", "*"))
	e.role("First")
	e.role("Second", "AssumeRolePolicyDocument", trustOf(roleARNPrefix+"First"))
	out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "First"), RoleSessionName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	_, firstSTS := e.withCreds(static(out.Credentials))
	if _, err := firstSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Second"), RoleSessionName: aws.String("s2")}); err != nil {
		t.Fatalf("trust naming First, no boundary: %v", err)
	}
	e.do("PutRolePermissionsBoundary", "RoleName", "First", "PermissionsBoundary", noSTS)
	_, err = firstSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Second"), RoleSessionName: aws.String("s3")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
}
