package iam

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/borealis-db/borealis/internal/apiserver"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/sigv4"
)

// The aws-sdk-go-v2 IAM and STS clients are the oracle for the XML written here: they talk
// to the real API server (SigV4, routing by signing name) in front of the service.

// sdkEnv is env behind an httptest server.
type sdkEnv struct {
	*env
	url string
}

func newSDKEnv(t *testing.T) *sdkEnv {
	e := newEnv(t)
	svc := e.svc
	h := apiserver.New(apiserver.Config{
		Region:   "us-east-1",
		Verifier: &sigv4.Verifier{Lookup: svc.LookupSecret},
		Services: map[string]apiserver.Endpoint{
			"iam": {Namespace: Namespace, Version: Version, Service: svc},
			"sts": {Namespace: STSNamespace, Version: STSVersion, Service: svc.STS()},
		},
		Authenticate: svc.Authenticate,
		Authorize:    svc.Authorize,
		Log:          slog.New(slog.DiscardHandler),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &sdkEnv{env: e, url: srv.URL}
}

func (e *sdkEnv) clients(id, secret string) (*iam.Client, *sts.Client) {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
	})
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), Credentials: creds, Retryer: aws.NopRetryer{}}),
		sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), Credentials: creds, Retryer: aws.NopRetryer{}})
}

// apiError checks an SDK error's code and HTTP status.
func apiError(t *testing.T, err error, code string, status int) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("want %s, got %v", code, err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("%s: want HTTP %d, got %v", code, status, err)
	}
	return ae
}

func TestSDKReadsEveryShape(t *testing.T) {
	e := newSDKEnv(t)
	ctx := context.Background()
	c, stsc := e.clients(rootKeyID, rootKeySecret)

	cu, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"), Path: aws.String("/eng/"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("db")}}})
	if err != nil {
		t.Fatal(err)
	}
	if u := cu.User; aws.ToString(u.Arn) != "arn:aws:iam::123456789012:user/eng/alice" || !strings.HasPrefix(aws.ToString(u.UserId), "AIDA") ||
		!u.CreateDate.Equal(testNow) || len(u.Tags) != 1 || aws.ToString(u.Tags[0].Value) != "db" {
		t.Fatalf("CreateUser %+v", u)
	}
	for _, n := range []string{"bob", "carol"} {
		if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	root, err := c.GetUser(ctx, &iam.GetUserInput{})
	if err != nil || aws.ToString(root.User.Arn) != "arn:aws:iam::123456789012:root" || aws.ToString(root.User.UserId) != testAccount {
		t.Fatalf("GetUser root %+v %v", root, err)
	}
	lu, err := c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(2)})
	if err != nil || len(lu.Users) != 2 || !lu.IsTruncated || lu.Marker == nil {
		t.Fatalf("ListUsers page 1 %+v %v", lu, err)
	}
	lu2, err := c.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(2), Marker: lu.Marker})
	if err != nil || len(lu2.Users) != 1 || lu2.IsTruncated || aws.ToString(lu2.Users[0].UserName) != "carol" {
		t.Fatalf("ListUsers page 2 %+v %v", lu2, err)
	}
	if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("alice")})
	if err != nil || len(tags.Tags) != 2 || aws.ToString(tags.Tags[1].Key) != "env" {
		t.Fatalf("ListUserTags %+v %v", tags, err)
	}
	if _, err := c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("alice"), TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}

	// Groups.
	if _, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("devs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("devs"), UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	gg, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String("devs")})
	if err != nil || aws.ToString(gg.Group.Arn) != "arn:aws:iam::123456789012:group/devs" || len(gg.Users) != 1 || aws.ToString(gg.Users[0].UserName) != "alice" {
		t.Fatalf("GetGroup %+v %v", gg, err)
	}
	gfu, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String("alice")})
	if err != nil || len(gfu.Groups) != 1 || !strings.HasPrefix(aws.ToString(gfu.Groups[0].GroupId), "AGPA") {
		t.Fatalf("ListGroupsForUser %+v %v", gfu, err)
	}
	if lg, err := c.ListGroups(ctx, &iam.ListGroupsInput{}); err != nil || len(lg.Groups) != 1 {
		t.Fatalf("ListGroups %+v %v", lg, err)
	}

	// Access keys and login profiles.
	ck, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil || len(aws.ToString(ck.AccessKey.SecretAccessKey)) != 40 || ck.AccessKey.Status != types.StatusTypeActive || aws.ToString(ck.AccessKey.UserName) != "alice" {
		t.Fatalf("CreateAccessKey %+v %v", ck, err)
	}
	lk, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil || len(lk.AccessKeyMetadata) != 1 || aws.ToString(lk.AccessKeyMetadata[0].AccessKeyId) != aws.ToString(ck.AccessKey.AccessKeyId) {
		t.Fatalf("ListAccessKeys %+v %v", lk, err)
	}
	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: ck.AccessKey.AccessKeyId, Status: types.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("Corr3ct-horse"), PasswordResetRequired: true}); err != nil {
		t.Fatal(err)
	}
	lp, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("alice")})
	if err != nil || aws.ToString(lp.LoginProfile.UserName) != "alice" || !lp.LoginProfile.PasswordResetRequired || lp.LoginProfile.CreateDate == nil {
		t.Fatalf("GetLoginProfile %+v %v", lp, err)
	}
	if _, err := c.UpdateLoginProfile(ctx, &iam.UpdateLoginProfileInput{UserName: aws.String("alice"), PasswordResetRequired: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(10), RequireNumbers: true, MaxPasswordAge: aws.Int32(90)}); err != nil {
		t.Fatal(err)
	}
	pp, err := c.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	if err != nil || aws.ToInt32(pp.PasswordPolicy.MinimumPasswordLength) != 10 || !pp.PasswordPolicy.RequireNumbers || !pp.PasswordPolicy.ExpirePasswords || aws.ToInt32(pp.PasswordPolicy.MaxPasswordAge) != 90 {
		t.Fatalf("GetAccountPasswordPolicy %+v %v", pp, err)
	}

	// The account alias.
	if _, err := c.CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String("acme-prod")}); err != nil {
		t.Fatal(err)
	}
	la, err := c.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	if err != nil || !reflect.DeepEqual(la.AccountAliases, []string{"acme-prod"}) || la.IsTruncated {
		t.Fatalf("ListAccountAliases %+v %v", la, err)
	}
	_, err = c.DeleteAccountAlias(ctx, &iam.DeleteAccountAliasInput{AccountAlias: aws.String("other")})
	apiError(t, err, "NoSuchEntity", 404)

	// Inline policies: the document comes back URL-encoded; SDK users decode it.
	doc := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "rds:*", "Resource": "*"}]}`
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("rds"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	gup, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("rds")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := url.QueryUnescape(aws.ToString(gup.PolicyDocument)); err != nil || dec != doc {
		t.Fatalf("GetUserPolicy document %q %v", dec, err)
	}
	if lup, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("alice")}); err != nil || !reflect.DeepEqual(lup.PolicyNames, []string{"rds"}) {
		t.Fatalf("ListUserPolicies %+v %v", lup, err)
	}
	if _, err := c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("deny-prod"),
		PolicyDocument: aws.String(deny("rds:Delete*", "arn:aws:rds:*:*:cluster:prod"))}); err != nil {
		t.Fatal(err)
	}
	if ggp, err := c.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("deny-prod")}); err != nil || aws.ToString(ggp.GroupName) != "devs" {
		t.Fatalf("GetGroupPolicy %+v %v", ggp, err)
	}

	// Managed policies and versions.
	cp, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("ReadDB"), PolicyDocument: aws.String(allow("rds:Describe*", "*")), Description: aws.String("read")})
	if err != nil || aws.ToString(cp.Policy.Arn) != "arn:aws:iam::123456789012:policy/ReadDB" || aws.ToString(cp.Policy.DefaultVersionId) != "v1" || !cp.Policy.IsAttachable {
		t.Fatalf("CreatePolicy %+v %v", cp, err)
	}
	doc2 := allow("rds:Describe*", "arn:aws:rds:us-east-1:123456789012:cluster:*")
	cpv, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: cp.Policy.Arn, PolicyDocument: aws.String(doc2), SetAsDefault: true})
	if err != nil || aws.ToString(cpv.PolicyVersion.VersionId) != "v2" || !cpv.PolicyVersion.IsDefaultVersion {
		t.Fatalf("CreatePolicyVersion %+v %v", cpv, err)
	}
	gpv, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: cp.Policy.Arn, VersionId: aws.String("v2")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, _ := url.QueryUnescape(aws.ToString(gpv.PolicyVersion.Document)); dec != doc2 || !gpv.PolicyVersion.IsDefaultVersion {
		t.Fatalf("GetPolicyVersion %q", dec)
	}
	lpv, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: cp.Policy.Arn})
	if err != nil || len(lpv.Versions) != 2 || aws.ToString(lpv.Versions[0].VersionId) != "v2" {
		t.Fatalf("ListPolicyVersions %+v %v", lpv, err)
	}
	if _, err := c.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: cp.Policy.Arn, VersionId: aws.String("v1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: cp.Policy.Arn, VersionId: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: cp.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("devs"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess")}); err != nil {
		t.Fatal(err)
	}
	gp, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: cp.Policy.Arn})
	if err != nil || aws.ToInt32(gp.Policy.AttachmentCount) != 1 || aws.ToString(gp.Policy.Description) != "read" || gp.Policy.CreateDate == nil {
		t.Fatalf("GetPolicy %+v %v", gp, err)
	}
	lap, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("alice")})
	if err != nil || len(lap.AttachedPolicies) != 1 || aws.ToString(lap.AttachedPolicies[0].PolicyName) != "ReadDB" {
		t.Fatalf("ListAttachedUserPolicies %+v %v", lap, err)
	}
	if lag, err := c.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String("devs")}); err != nil || len(lag.AttachedPolicies) != 1 {
		t.Fatalf("ListAttachedGroupPolicies %+v %v", lag, err)
	}
	lps, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: types.PolicyScopeTypeAws})
	if err != nil || len(lps.Policies) != 6 {
		t.Fatalf("ListPolicies AWS %+v %v", lps, err)
	}
	if lps, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{OnlyAttached: true}); err != nil || len(lps.Policies) != 2 {
		t.Fatalf("ListPolicies OnlyAttached %+v %v", lps, err)
	}

	// The simulator: the group's Deny beats the user's Allow.
	sim, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::123456789012:user/eng/alice"),
		ActionNames:     []string{"rds:DeleteDBCluster", "iam:CreateUser"},
		ResourceArns:    []string{"arn:aws:rds:us-east-1:123456789012:cluster:prod", "arn:aws:rds:us-east-1:123456789012:cluster:dev"},
		ContextEntries: []types.ContextEntry{{ContextKeyName: aws.String("aws:SourceIp"), ContextKeyType: types.ContextKeyTypeEnumIp,
			ContextKeyValues: []string{"10.0.0.1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var decisions []string
	for _, r := range sim.EvaluationResults {
		d := aws.ToString(r.EvalActionName) + " " + aws.ToString(r.EvalResourceName) + " " + string(r.EvalDecision)
		for _, m := range r.MatchedStatements {
			d += " " + string(m.SourcePolicyType) + ":" + aws.ToString(m.SourcePolicyId)
		}
		decisions = append(decisions, d)
	}
	want := []string{
		"rds:DeleteDBCluster arn:aws:rds:us-east-1:123456789012:cluster:prod explicitDeny group:deny-prod",
		"rds:DeleteDBCluster arn:aws:rds:us-east-1:123456789012:cluster:dev allowed user:rds",
		"iam:CreateUser arn:aws:rds:us-east-1:123456789012:cluster:prod implicitDeny",
		"iam:CreateUser arn:aws:rds:us-east-1:123456789012:cluster:dev implicitDeny",
	}
	if !reflect.DeepEqual(decisions, want) || sim.IsTruncated {
		t.Fatalf("SimulatePrincipalPolicy\n got %q\nwant %q", decisions, want)
	}

	id, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != testAccount || aws.ToString(id.Arn) != "arn:aws:iam::123456789012:root" || aws.ToString(id.UserId) != testAccount {
		t.Fatalf("GetCallerIdentity %+v %v", id, err)
	}

	// Clean up in the order IAM demands.
	steps := []func() error{
		func() error {
			_, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("rds")})
			return err
		},
		func() error {
			_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: cp.Policy.Arn})
			return err
		},
		func() error {
			_, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: cp.Policy.Arn})
			return err
		},
		func() error {
			_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: ck.AccessKey.AccessKeyId})
			return err
		},
		func() error {
			_, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("alice")})
			return err
		},
		func() error {
			_, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: aws.String("alice"), GroupName: aws.String("devs")})
			return err
		},
		func() error {
			_, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})
			return err
		},
		func() error {
			_, err := c.DeleteGroupPolicy(ctx, &iam.DeleteGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("deny-prod")})
			return err
		},
		func() error {
			_, err := c.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: aws.String("devs"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess")})
			return err
		},
		func() error {
			_, err := c.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: aws.String("devs")})
			return err
		},
		func() error {
			_, err := c.DeleteAccountPasswordPolicy(ctx, &iam.DeleteAccountPasswordPolicyInput{})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("cleanup step %d: %v", i, err)
		}
	}
}

func TestSDKErrorCodes(t *testing.T) {
	e := newSDKEnv(t)
	ctx := context.Background()
	c, _ := e.clients(rootKeyID, rootKeySecret)
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("Alice")})
	var exists *types.EntityAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("typed EntityAlreadyExists: %v", err)
	}
	apiError(t, err, "EntityAlreadyExists", 409)

	_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	var nse *types.NoSuchEntityException
	if !errors.As(err, &nse) || !strings.Contains(aws.ToString(nse.Message), "nobody") {
		t.Fatalf("typed NoSuchEntity: %v", err)
	}
	apiError(t, err, "NoSuchEntity", 404)

	for range 2 {
		if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if ae := apiError(t, err, "LimitExceeded", 409); ae.ErrorMessage() != "Cannot exceed quota for AccessKeysPerUser: 2" {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
	_, err = c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("alice")})
	var dc *types.DeleteConflictException
	if !errors.As(err, &dc) {
		t.Fatalf("typed DeleteConflict: %v", err)
	}
	apiError(t, err, "DeleteConflict", 409)

	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:*","Resource":"*","Principal":"*"}]}`)})
	if ae := apiError(t, err, "MalformedPolicyDocument", 400); ae.ErrorMessage() != policy.ReasonPrincipal {
		t.Fatalf("malformed reason %q", ae.ErrorMessage())
	}
	_, err = c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("password")})
	var ppv *types.PasswordPolicyViolationException
	if !errors.As(err, &ppv) || strings.Contains(err.Error(), `"password"`) {
		t.Fatalf("typed PasswordPolicyViolation: %v", err)
	}
	apiError(t, err, "PasswordPolicyViolation", 400)
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:rds:us-east-1:123456789012:cluster:x")})
	apiError(t, err, "InvalidInput", 400)

	cp, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("P"), PolicyDocument: aws.String(allow("rds:*", "*"))})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: cp.Policy.Arn, PolicyDocument: aws.String(allow("rds:*", "*"))}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: cp.Policy.Arn, PolicyDocument: aws.String(allow("rds:*", "*"))})
	apiError(t, err, "LimitExceeded", 409)
	_, err = c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: cp.Policy.Arn, VersionId: aws.String("v1")})
	apiError(t, err, "DeleteConflict", 409)
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	apiError(t, err, "AccessDenied", 403)
}

func TestSDKUserKeysAndPolicies(t *testing.T) {
	e := newSDKEnv(t)
	ctx := context.Background()
	admin, _ := e.clients(rootKeyID, rootKeySecret)
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	ck, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	if err != nil {
		t.Fatal(err)
	}
	bob, bobSTS := e.clients(aws.ToString(ck.AccessKey.AccessKeyId), aws.ToString(ck.AccessKey.SecretAccessKey))

	id, err := bobSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != "arn:aws:iam::123456789012:user/bob" || !strings.HasPrefix(aws.ToString(id.UserId), "AIDA") {
		t.Fatalf("bob's identity %+v %v", id, err)
	}
	// No policy: nothing allowed.
	_, err = bob.ListUsers(ctx, &iam.ListUsersInput{})
	apiError(t, err, "AccessDenied", 403)
	// IAMReadOnlyAccess: reads, not writes.
	if _, err := admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: aws.String("arn:aws:iam::aws:policy/IAMReadOnlyAccess")}); err != nil {
		t.Fatal(err)
	}
	if lu, err := bob.ListUsers(ctx, &iam.ListUsersInput{}); err != nil || len(lu.Users) != 1 {
		t.Fatalf("bob ListUsers %+v %v", lu, err)
	}
	_, err = bob.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("mallory")})
	apiError(t, err, "AccessDenied", 403)
	// A self-service policy: bob manages his own keys and nobody else's.
	self := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*AccessKey*"],"Resource":"arn:aws:iam::*:user/${aws:username}"}]}`
	if _, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("self"), PolicyDocument: aws.String(self)}); err != nil {
		t.Fatal(err)
	}
	own, err := bob.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{})
	if err != nil || aws.ToString(own.AccessKey.UserName) != "bob" {
		t.Fatalf("bob's own key %+v %v", own, err)
	}
	_, err = bob.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	apiError(t, err, "AccessDenied", 403)

	// Deactivated: refused at the next request. Reactivated: accepted again. Deleted: refused.
	if _, err := admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: ck.AccessKey.AccessKeyId, Status: types.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	_, err = bobSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	apiError(t, err, "InvalidClientTokenId", 403)
	if _, err := admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: ck.AccessKey.AccessKeyId, Status: types.StatusTypeActive}); err != nil {
		t.Fatal(err)
	}
	if _, err := bobSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: ck.AccessKey.AccessKeyId}); err != nil {
		t.Fatal(err)
	}
	_, err = bob.ListUsers(ctx, &iam.ListUsersInput{})
	apiError(t, err, "InvalidClientTokenId", 403)
	// The other key still works.
	bob2, _ := e.clients(aws.ToString(own.AccessKey.AccessKeyId), aws.ToString(own.AccessKey.SecretAccessKey))
	if _, err := bob2.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatal(err)
	}
}

// ChangePassword through SigV4 and the authorizer: the grant of AllowUsersToChangePassword,
// the root user refused, a typed PasswordPolicyViolation.
func TestSDKChangePassword(t *testing.T) {
	e := newSDKEnv(t)
	ctx := context.Background()
	admin, _ := e.clients(rootKeyID, rootKeySecret)
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("bob"), Password: aws.String("Corr3ct-horse"), PasswordResetRequired: true}); err != nil {
		t.Fatal(err)
	}
	ck, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := e.clients(aws.ToString(ck.AccessKey.AccessKeyId), aws.ToString(ck.AccessKey.SecretAccessKey))
	in := &iam.ChangePasswordInput{OldPassword: aws.String("Corr3ct-horse"), NewPassword: aws.String("Battery-staple-9")}

	_, err = bob.ChangePassword(ctx, in)
	apiError(t, err, "AccessDenied", 403)
	_, err = bob.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	apiError(t, err, "AccessDenied", 403)
	if _, err := admin.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{AllowUsersToChangePassword: true, MinimumPasswordLength: aws.Int32(12), PasswordReusePrevention: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = bob.ChangePassword(ctx, &iam.ChangePasswordInput{OldPassword: aws.String("Corr3ct-horse"), NewPassword: aws.String("Sh0rt!")})
	var ppv *types.PasswordPolicyViolationException
	if !errors.As(err, &ppv) {
		t.Fatalf("typed PasswordPolicyViolation: %v", err)
	}
	if _, err := bob.ChangePassword(ctx, in); err != nil {
		t.Fatal(err)
	}
	_, err = bob.ChangePassword(ctx, &iam.ChangePasswordInput{OldPassword: aws.String("Battery-staple-9"), NewPassword: aws.String("Corr3ct-horse")})
	apiError(t, err, "PasswordPolicyViolation", 400)
	lp, err := admin.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("bob")})
	if err != nil || lp.LoginProfile.PasswordResetRequired {
		t.Fatalf("after ChangePassword %+v %v", lp, err)
	}
	_, err = admin.ChangePassword(ctx, in)
	var iut *types.InvalidUserTypeException
	if !errors.As(err, &iut) {
		t.Fatalf("root ChangePassword: %v", err)
	}
	apiError(t, err, "InvalidUserType", 400)
}
