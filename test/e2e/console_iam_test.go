package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/chromedp/chromedp"
)

// text is the text of the element sel on the current page.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := get(ctx, chromedp.Text(css(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func TestConsoleIAMAdministersUsersPoliciesAndExplainsDecisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	account := consoleUser(ctx, t, srv, "iam-console-admin", "Iam-admin-123",
		[]string{"arn:aws:iam::aws:policy/IAMFullAccess", "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"}, "")
	b := browser(t)
	if got := signIn(t, b, srv, account, "iam-console-admin", "Iam-admin-123"); !strings.Contains(got, "Databases") {
		t.Fatalf("after sign-in:\n%s", got)
	}

	// A user with a console password that must be changed at first sign-in.
	err := do(b,
		chromedp.Navigate(srv.consoleURL("/iam/users")),
		chromedp.WaitVisible(css(`#user_name`)),
		chromedp.SendKeys(css(`#user_name`), "iam-made"),
		chromedp.SendKeys(css(`#password`), "Made-pass-123"),
		submit(`#user_name`),
	)
	if err != nil {
		t.Fatal(err)
	}
	userPage := mainText(t, b)
	if !strings.Contains(userPage, "Created user iam-made") || !strings.Contains(userPage, "a new password is required at next sign-in") ||
		strings.Contains(userPage, "Made-pass-123") {
		t.Fatalf("after creating the user:\n%s", userPage)
	}
	arn := text(t, b, `#user-arn`)
	screenshot(t, b, "iam-user-created")

	// An access key: its secret is on the create's response, and nowhere after it.
	if err := do(b, click(`#create-key`)); err != nil {
		t.Fatal(err)
	}
	keyID, secret := text(t, b, `#new-key-id`), text(t, b, `#new-key-secret`)
	if !strings.HasPrefix(keyID, "AKIA") || len(secret) != 40 {
		t.Fatalf("new key %q, secret of %d characters", keyID, len(secret))
	}
	screenshot(t, b, "iam-access-key-once")
	who, err := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + srv.APIAddr), Credentials: staticCreds(keyID, secret)}).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != arn {
		t.Fatalf("the shown key signs as %v: %v", who, err)
	}
	if err := do(b, chromedp.Navigate(srv.consoleURL("/iam/users/iam-made")), chromedp.WaitVisible(css(`#keys`))); err != nil {
		t.Fatal(err)
	}
	html, err := get(b, chromedp.OuterHTML(css(`html`)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, secret) || strings.Contains(html, "New access key") || !strings.Contains(text(t, b, `#keys`), keyID) {
		t.Fatalf("the user's page shows the secret again, or not the key:\n%s", mainText(t, b))
	}

	// An inline policy IAM refuses: its reason on the page, the text kept; then a good one.
	bad := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds:DescribeDBClusters", "Resource": "*"}`
	err = do(b,
		chromedp.SetValue(css(`#policy_name`), "made-inline"),
		chromedp.SetValue(css(`#policy_document`), bad),
		submit(`#policy_document`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "MalformedPolicyDocument") {
		t.Fatalf("a malformed policy:\n%s", got)
	}
	if kept, err := get(b, chromedp.Value(css(`#policy_document`))); err != nil || kept != bad {
		t.Fatalf("the editor holds %q (%v), want the typed text", kept, err)
	}
	screenshot(t, b, "iam-inline-policy-malformed")
	good := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds:DescribeDBClusters", "Resource": "*"}]}`
	err = do(b, chromedp.SetValue(css(`#policy_document`), good), submit(`#policy_document`))
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Saved inline policy made-inline") || !strings.Contains(text(t, b, `#inline-policies`), "made-inline") {
		t.Fatalf("after a valid policy:\n%s", got)
	}
	if shown, err := get(b, chromedp.Value(css(`#policy_document`))); err != nil || !strings.Contains(shown, `"rds:DescribeDBClusters"`) {
		t.Fatalf("the saved policy's document in the editor: %q (%v)", shown, err)
	}

	// A managed policy, attached from the list.
	err = do(b,
		chromedp.SetValue(css(`#policy_arn`), "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"),
		submit(`#policy_arn`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := text(t, b, `#attached-policies`); !strings.Contains(got, "AmazonEC2ReadOnlyAccess") {
		t.Fatalf("attached policies:\n%s", got)
	}
	screenshot(t, b, "iam-user-policies")
	att, err := srv.iam(t).ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("iam-made")})
	if err != nil || len(att.AttachedPolicies) != 1 {
		t.Fatalf("attached per the API: %v %v", att, err)
	}

	// Why was it denied: what the user lacks is an implicit deny, what it has is allowed
	// by the statement that allows it.
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/iam/simulate")),
		chromedp.WaitVisible(css(`#actions`)),
		chromedp.SetValue(css(`#arn`), arn),
		chromedp.SetValue(css(`#actions`), "rds:CreateDBCluster, rds:DescribeDBClusters ec2:DescribeVpcs"),
		submit(`#actions`),
	)
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct{ action, decision, source string }{
		{"rds:CreateDBCluster", "implicitDeny", "none"},
		{"rds:DescribeDBClusters", "allowed", "made-inline"},
		{"ec2:DescribeVpcs", "allowed", "AmazonEC2ReadOnlyAccess"},
	}
	for i, want := range rows {
		row := text(t, b, `#results tbody tr:nth-child(`+strconv.Itoa(i+1)+`)`)
		if !strings.Contains(row, want.action) || !strings.Contains(row, want.decision) || !strings.Contains(row, want.source) {
			t.Fatalf("result %d: %q, want %+v\n%s", i+1, row, want, mainText(t, b))
		}
	}
	screenshot(t, b, "iam-simulate")
}

func TestConsoleIAMReadOnlyUserSeesButCannotChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	account := consoleUser(ctx, t, srv, "iam-console-reader", "Iam-reader-123",
		[]string{"arn:aws:iam::aws:policy/IAMReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"}, "")
	b := browser(t)
	signIn(t, b, srv, account, "iam-console-reader", "Iam-reader-123")

	// The pages read: users, the reader's own page, policies.
	if got := waitForText(t, b, srv.consoleURL("/iam/users"), "iam-console-reader", stepTimeout); strings.Contains(got, "AccessDenied") {
		t.Fatalf("users page:\n%s", got)
	}
	if got := waitForText(t, b, srv.consoleURL("/iam/users/iam-console-reader"), "IAMReadOnlyAccess", stepTimeout); strings.Contains(got, "AccessDenied") {
		t.Fatalf("own page:\n%s", got)
	}
	waitForText(t, b, srv.consoleURL("/iam/policies?scope=AWS"), "IAMFullAccess", stepTimeout)

	// At phone width the pages fit: wide tables scroll in their own box, not the page.
	for _, path := range []string{"/iam/users/iam-console-reader", "/iam/simulate?actions=iam:CreateUser"} {
		err := do(b, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(srv.consoleURL(path)), chromedp.WaitVisible(css(`main h1`)))
		if err != nil {
			t.Fatal(err)
		}
		fits, err := get(b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
		if err != nil || !fits {
			t.Fatalf("%s is wider than a phone (%v)", path, err)
		}
		screenshot(t, b, "iam-phone"+strings.NewReplacer("/", "-", "?", "-", "=", "-", ":", "-").Replace(path))
	}
	if err := do(b, chromedp.EmulateReset()); err != nil {
		t.Fatal(err)
	}

	// A create is refused with IAM's AccessDenied, and nothing is created.
	err := do(b,
		chromedp.Navigate(srv.consoleURL("/iam/users")),
		chromedp.WaitVisible(css(`#user_name`)),
		chromedp.SendKeys(css(`#user_name`), "iam-not-made"),
		submit(`#user_name`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "AccessDenied") || !strings.Contains(got, "iam:CreateUser") {
		t.Fatalf("a read-only create:\n%s", got)
	}
	if kept, err := get(b, chromedp.Value(css(`#user_name`))); err != nil || kept != "iam-not-made" {
		t.Fatalf("the form holds %q (%v)", kept, err)
	}
	screenshot(t, b, "iam-access-denied")
	_, err = srv.iam(t).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("iam-not-made")})
	if code, _ := apiError(t, err); code != "NoSuchEntity" {
		t.Fatalf("GetUser of the refused user: %v", err)
	}

	// The reader's own inline policy: refused, the text kept, nothing stored.
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/iam/users/iam-console-reader")),
		chromedp.WaitVisible(css(`#policy_document`)),
		chromedp.SetValue(css(`#policy_name`), "escalate"),
		chromedp.SetValue(css(`#policy_document`), doc),
		submit(`#policy_document`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "AccessDenied") || !strings.Contains(got, "iam:PutUserPolicy") {
		t.Fatalf("a read-only put:\n%s", got)
	}
	if kept, err := get(b, chromedp.Value(css(`#policy_document`))); err != nil || kept != doc {
		t.Fatalf("the editor holds %q (%v)", kept, err)
	}
	names, err := srv.iam(t).ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("iam-console-reader")})
	if err != nil || len(names.PolicyNames) != 0 {
		t.Fatalf("inline policies per the API: %v %v", names, err)
	}
}

func TestConsoleIAMGroupsAndManagedPolicies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	account := consoleUser(ctx, t, srv, "iam-console-groups", "Iam-groups-123",
		[]string{"arn:aws:iam::aws:policy/IAMFullAccess", "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"}, "")
	b := browser(t)
	signIn(t, b, srv, account, "iam-console-groups", "Iam-groups-123")

	// A customer managed policy: a refused document is kept, a good one is created and shown.
	bad := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}`
	err := do(b,
		chromedp.Navigate(srv.consoleURL("/iam/policies")),
		chromedp.WaitVisible(css(`#policy_name`)),
		chromedp.SendKeys(css(`#policy_name`), "console-readers"),
		chromedp.SetValue(css(`#policy_document`), bad),
		submit(`#policy_name`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "MalformedPolicyDocument") {
		t.Fatalf("a policy without Action:\n%s", got)
	}
	if kept, err := get(b, chromedp.Value(css(`#policy_document`))); err != nil || kept != bad {
		t.Fatalf("the editor holds %q (%v)", kept, err)
	}
	good := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds:Describe*", "Resource": "*"}]}`
	if err := do(b, chromedp.SetValue(css(`#policy_document`), good), submit(`#policy_name`)); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Created policy console-readers") || !strings.Contains(text(t, b, `#policy-document`), `"rds:Describe*"`) {
		t.Fatalf("the new policy's page:\n%s", got)
	}
	policyARN := text(t, b, `#policy-arn`)
	screenshot(t, b, "iam-policy")

	// A group with the policy attached and a member, seen from the member's page.
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/iam/groups")),
		chromedp.WaitVisible(css(`#group_name`)),
		chromedp.SendKeys(css(`#group_name`), "console-group"),
		submit(`#group_name`),
		chromedp.SetValue(css(`#policy_arn`), policyARN),
		submit(`#policy_arn`),
		chromedp.SetValue(css(`#member`), "iam-console-groups"),
		submit(`#member`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Added iam-console-groups to console-group") ||
		!strings.Contains(text(t, b, `#attached-policies`), "console-readers") {
		t.Fatalf("the group's page:\n%s", got)
	}
	screenshot(t, b, "iam-group")
	if got := waitForText(t, b, srv.consoleURL("/iam/users/iam-console-groups"), "console-group", stepTimeout); !strings.Contains(got, "Remove from group") {
		t.Fatalf("the member's page:\n%s", got)
	}
	out, err := srv.iam(t).GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("console-group")})
	if err != nil || len(out.Users) != 1 {
		t.Fatalf("members per the API: %v %v", out, err)
	}
}

func TestConsoleAssignsAVirtualMFADevice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	account := consoleUser(ctx, t, srv, "iam-mfa-admin", "Mfa-admin-123",
		[]string{"arn:aws:iam::aws:policy/IAMFullAccess", "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"}, "")
	consoleUser(ctx, t, srv, "iam-mfa-target", "Mfa-target-123", nil, "")
	b := browser(t)
	signIn(t, b, srv, account, "iam-mfa-admin", "Mfa-admin-123")
	err := do(b,
		chromedp.Navigate(srv.consoleURL("/iam/users/iam-mfa-target")),
		chromedp.WaitVisible(css(`#device`)),
		submit(`#device`),
	)
	if err != nil {
		t.Fatal(err)
	}
	seed := text(t, b, `#mfa-seed`)
	screenshot(t, b, "iam-mfa-assign")
	now := time.Now()
	err = do(b,
		chromedp.SendKeys(css(`#code1`), totp(t, []byte(seed), now.Add(-30*time.Second))),
		chromedp.SendKeys(css(`#code2`), totp(t, []byte(seed), now)),
		submit(`#code2`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "is enabled") || strings.Contains(got, seed) {
		t.Fatalf("after enabling:\n%s", got)
	}
	out, err := srv.iam(t).ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String("iam-mfa-target")})
	if err != nil || len(out.MFADevices) != 1 {
		t.Fatalf("ListMFADevices: %+v %v", out, err)
	}
}
