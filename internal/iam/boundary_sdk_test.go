package iam

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TestSDKPermissionsBoundary: aws-sdk-go-v2 reads boundaries and boundary simulations, and
// a user whose key signs the request is capped by its boundary end to end.
func TestSDKPermissionsBoundary(t *testing.T) {
	e := newSDKEnv(t)
	ctx := context.Background()
	c, _ := e.clients(rootKeyID, rootKeySecret)
	b := e.policy("Boundary", allow("iam:GetUser", "*"))
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("carol"), PermissionsBoundary: aws.String(b)}); err != nil {
		t.Fatal(err)
	}
	u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("carol")})
	if err != nil || u.User.PermissionsBoundary == nil || u.User.PermissionsBoundary.PermissionsBoundaryType != types.PermissionsBoundaryAttachmentTypePolicy ||
		aws.ToString(u.User.PermissionsBoundary.PermissionsBoundaryArn) != b {
		t.Fatalf("GetUser %+v %v", u, err)
	}
	if _, err := c.PutUserPermissionsBoundary(ctx, &iam.PutUserPermissionsBoundaryInput{UserName: aws.String("carol"), PermissionsBoundary: aws.String(accountPrefix + "policy/Nope")}); err == nil {
		t.Fatal("PutUserPermissionsBoundary to a missing policy")
	} else {
		apiError(t, err, "NoSuchEntity", 404)
	}
	if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("carol"), PolicyArn: aws.String(adminARN)}); err != nil {
		t.Fatal(err)
	}
	gp, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(b)})
	if err != nil || aws.ToInt32(gp.Policy.PermissionsBoundaryUsageCount) != 1 {
		t.Fatalf("GetPolicy %+v %v", gp, err)
	}
	sim, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(accountPrefix + "user/carol"),
		ActionNames: []string{"iam:GetUser", "iam:ListUsers"}})
	if err != nil || len(sim.EvaluationResults) != 2 {
		t.Fatalf("SimulatePrincipalPolicy %+v %v", sim, err)
	}
	if r := sim.EvaluationResults[0]; r.EvalDecision != types.PolicyEvaluationDecisionTypeAllowed || !r.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary {
		t.Fatalf("GetUser simulated %+v", r)
	}
	if r := sim.EvaluationResults[1]; r.EvalDecision != types.PolicyEvaluationDecisionTypeImplicitDeny || r.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary {
		t.Fatalf("ListUsers simulated %+v", r)
	}

	// carol's own key: AdministratorAccess, capped to iam:GetUser.
	k := e.key("carol")
	cc, _ := e.clients(k.AccessKeyID, k.SecretAccessKey)
	if _, err := cc.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("carol")}); err != nil {
		t.Fatal(err)
	}
	_, err = cc.ListUsers(ctx, &iam.ListUsersInput{})
	apiError(t, err, "AccessDenied", 403)
	_, err = cc.DeleteUserPermissionsBoundary(ctx, &iam.DeleteUserPermissionsBoundaryInput{UserName: aws.String("carol")})
	apiError(t, err, "AccessDenied", 403)
}
