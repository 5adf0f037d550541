package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/chromedp/chromedp"
)

// TestConsoleSwitchRole: a user sees a role and its trust policy, switches to it, and the
// console then does what the role may (and the user may not) until it switches back.
func TestConsoleSwitchRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	account := consoleUser(ctx, t, srv, "role-switcher", "Role-switch-123", nil,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListRoles","iam:GetRole","iam:ListRolePolicies","iam:ListAttachedRolePolicies","iam:ListPolicies"],"Resource":"*"},
		 {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/ConsoleOps"}]}`)
	userARN := "arn:aws:iam::" + account + ":user/role-switcher"
	c := srv.iam(t)
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ConsoleOps"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + userARN + `"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("ConsoleOps"), PolicyName: aws.String("users"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListUsers","iam:ListRoles"],"Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	signIn(t, b, srv, account, "role-switcher", "Role-switch-123")

	// The user may not list users.
	if err := do(b, chromedp.Navigate(srv.consoleURL("/iam/users"))); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "AccessDenied") {
		t.Fatalf("users as the user:\n%s", got)
	}
	// The role's page shows its trust policy.
	if err := do(b, chromedp.Navigate(srv.consoleURL("/iam/roles/ConsoleOps")), chromedp.WaitVisible(css(`#trust_policy`))); err != nil {
		t.Fatal(err)
	}
	if trust, err := get(b, chromedp.Value(css(`#trust_policy`))); err != nil || !strings.Contains(trust, userARN) {
		t.Fatalf("trust policy %q (%v)", trust, err)
	}
	screenshot(t, b, "iam-role-trust-policy")
	if err := do(b, click(`#switch-role`)); err != nil {
		t.Fatal(err)
	}
	sessionARN := "arn:aws:sts::" + account + ":assumed-role/ConsoleOps/role-switcher"
	if who := text(t, b, `#who`); !strings.Contains(who, sessionARN) {
		t.Fatalf("after switching, the console runs as %q\n%s", who, mainText(t, b))
	}
	// As the role: the users list.
	if err := do(b, chromedp.Navigate(srv.consoleURL("/iam/users"))); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); strings.Contains(got, "AccessDenied") || !strings.Contains(got, "role-switcher") {
		t.Fatalf("users as the role:\n%s", got)
	}
	screenshot(t, b, "iam-switched-role")
	// And what the user could do but the role cannot: GetRole.
	if err := do(b, chromedp.Navigate(srv.consoleURL("/iam/roles/ConsoleOps"))); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "AccessDenied") || !strings.Contains(got, sessionARN) {
		t.Fatalf("GetRole as the role:\n%s", got)
	}
	// Switch back: the user again.
	if err := do(b, click(`#switch-back`)); err != nil {
		t.Fatal(err)
	}
	if who := text(t, b, `#who`); !strings.Contains(who, userARN) {
		t.Fatalf("after switching back: %q", who)
	}
	if err := do(b, chromedp.Navigate(srv.consoleURL("/iam/users"))); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "AccessDenied") {
		t.Fatalf("users after switching back:\n%s", got)
	}
}
