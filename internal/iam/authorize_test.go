package iam

import (
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/principal"
)

// TestAResourceMayAskAnotherAction: a resource that names its own IAM action (EC2's
// ec2:CreateTags on a resource created with tags) is decided on that action.
func TestAResourceMayAskAnotherAction(t *testing.T) {
	e := newEnv(t)
	e.user("bob")
	e.do("PutUserPolicy", "UserName", "bob", "PolicyName", "p", "PolicyDocument", allow("ec2:CreateVpc", "*"))
	p, _ := principal.From(e.as("bob"))
	vpc := authz.On("arn:aws:ec2:us-east-1:" + testAccount + ":vpc/*")
	if err := e.svc.Authorize(e.root, p, "ec2:CreateVpc", []authz.Resource{vpc}, map[string][]string{}); err != nil {
		t.Fatal(err)
	}
	tagging := vpc
	tagging.Action = "ec2:CreateTags"
	tagging.Keys = map[string][]string{"ec2:CreateAction": {"CreateVpc"}}
	err := e.svc.Authorize(e.root, p, "ec2:CreateVpc", []authz.Resource{vpc, tagging}, map[string][]string{})
	if err == nil || !strings.Contains(err.Error(), "perform: ec2:CreateTags on resource") {
		t.Fatalf("CreateVpc with tags: %v", err)
	}
	e.do("PutUserPolicy", "UserName", "bob", "PolicyName", "tags", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"StringEquals":{"ec2:CreateAction":"CreateVpc"}}}]}`)
	if err := e.svc.Authorize(e.root, p, "ec2:CreateVpc", []authz.Resource{vpc, tagging}, map[string][]string{}); err != nil {
		t.Fatal(err)
	}
}
