package iam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/borealis-db/borealis/internal/apiserver"
	"github.com/borealis-db/borealis/internal/sigv4"
)

// clock is the service's time, moved by tests: sessions expire without waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// stsEnv is the IAM and STS services behind the real API server, with session tokens
// verified, on a clock the test moves (the service's: signatures use the real time).
type stsEnv struct {
	*sdkEnv
	clock *clock
}

func newSTSEnv(t *testing.T) *stsEnv {
	e := newEnv(t)
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	e.svc.cfg.Now = c.now
	svc := e.svc
	h := apiserver.New(apiserver.Config{
		Region:   "us-east-1",
		Verifier: &sigv4.Verifier{Lookup: svc.LookupSecret, Session: svc.LookupSession},
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
	return &stsEnv{sdkEnv: &sdkEnv{env: e, url: srv.URL}, clock: c}
}

func (e *stsEnv) withCreds(creds aws.CredentialsProvider) (*iam.Client, *sts.Client) {
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), Credentials: creds, Retryer: aws.NopRetryer{}}),
		sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), Credentials: creds, Retryer: aws.NopRetryer{}})
}

func static(c *ststypes.Credentials) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey), SessionToken: aws.ToString(c.SessionToken)}, nil
	})
}

// userWithKey makes a user with an access key and the given inline policies.
func (e *stsEnv) userWithKey(name string, policies ...string) (*iam.Client, *sts.Client) {
	e.user(name)
	for i, doc := range policies {
		e.do("PutUserPolicy", "UserName", name, "PolicyName", "p"+string(rune('a'+i)), "PolicyDocument", doc)
	}
	k := e.key(name)
	return e.clients(k.AccessKeyID, k.SecretAccessKey)
}

const roleARNPrefix = "arn:aws:iam::" + testAccount + ":role/"

func TestAssumeRoleWithTheSDKProvider(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	// alice may list users and assume Ops; Ops may list roles only.
	_, aliceSTS := e.userWithKey("alice", allow("iam:ListUsers", "*"), allow("sts:AssumeRole", roleARNPrefix+"Ops"))
	e.role("Ops", "Tags.member.1.Key", "team", "Tags.member.1.Value", "db")
	e.do("PutRolePolicy", "RoleName", "Ops", "PolicyName", "list", "PolicyDocument", allow("iam:ListRoles", "*"))

	prov := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(aliceSTS, roleARNPrefix+"Ops", func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "deploy-1"
	}))
	opsIAM, opsSTS := e.withCreds(prov)
	id, err := opsSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("GetRole", "RoleName", "Ops").(roleResult).Role
	if aws.ToString(id.Arn) != "arn:aws:sts::"+testAccount+":assumed-role/Ops/deploy-1" || aws.ToString(id.UserId) != r.RoleID+":deploy-1" || aws.ToString(id.Account) != testAccount {
		t.Fatalf("GetCallerIdentity: %+v", id)
	}
	creds, _ := prov.Retrieve(ctx)
	if !strings.HasPrefix(creds.AccessKeyID, "ASIA") || len(creds.AccessKeyID) != 20 || len(creds.SecretAccessKey) != 40 || creds.SessionToken == "" ||
		!creds.Expires.Equal(e.clock.now().Add(15*time.Minute)) { // the provider's default duration
		t.Fatalf("credentials: %+v", creds)
	}
	// The role's rights, not alice's.
	if _, err := opsIAM.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = opsIAM.ListUsers(ctx, &iam.ListUsersInput{})
	ae := apiError(t, err, "AccessDenied", http.StatusForbidden)
	if want := "User: arn:aws:sts::" + testAccount + ":assumed-role/Ops/deploy-1 is not authorized to perform: iam:ListUsers on resource: * because no identity-based policy allows the iam:ListUsers action"; ae.ErrorMessage() != want {
		t.Fatalf("message %q", ae.ErrorMessage())
	}

	// Deleting the role's policy, then the role, takes effect at once.
	e.do("DeleteRolePolicy", "RoleName", "Ops", "PolicyName", "list")
	_, err = opsIAM.ListRoles(ctx, &iam.ListRolesInput{})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	e.do("DeleteRole", "RoleName", "Ops")
	_, err = opsSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	apiError(t, err, "InvalidClientTokenId", http.StatusForbidden)
	// A role made again under the same name is another role: the old session stays dead.
	e.role("Ops")
	_, err = opsSTS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	apiError(t, err, "InvalidClientTokenId", http.StatusForbidden)
}

func TestSessionPoliciesNarrow(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:AssumeRole", "*"), allow("sts:TagSession", "*"))
	e.role("Ops")
	e.do("PutRolePolicy", "RoleName", "Ops", "PolicyName", "all", "PolicyDocument", allow("iam:*", "*"))

	out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("narrow"),
		Policy: aws.String(allow("iam:Get*", "*"))})
	if err != nil {
		t.Fatal(err)
	}
	if out.PackedPolicySize == nil || *out.PackedPolicySize < 1 || *out.PackedPolicySize > 100 {
		t.Fatalf("PackedPolicySize %v", out.PackedPolicySize)
	}
	c, _ := e.withCreds(static(out.Credentials))
	if _, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Ops")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListRoles(ctx, &iam.ListRolesInput{})
	ae := apiError(t, err, "AccessDenied", http.StatusForbidden)
	if !strings.HasSuffix(ae.ErrorMessage(), "because no session policy allows the iam:ListRoles action") {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
	// A session policy never widens: it allows what the role does not have.
	out, err = aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("wide"),
		Policy: aws.String(allow("*", "*")), PolicyArns: []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess")}}})
	if err != nil {
		t.Fatal(err)
	}
	_, wide := e.withCreds(static(out.Credentials))
	_, err = wide.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	// A managed session policy narrows too.
	out, err = aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("managed"),
		PolicyArns: []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess")}}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ = e.withCreds(static(out.Credentials))
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Ops")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	// Malformed and oversized session policies are refused.
	_, err = aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("bad"), Policy: aws.String(`{"Statement":[]}`)})
	apiError(t, err, "MalformedPolicyDocument", http.StatusBadRequest)
	var tags []ststypes.Tag
	for i := range 50 {
		noise := ""
		for range 10 {
			noise += rand.Text() // random: does not compress
		}
		tags = append(tags, ststypes.Tag{Key: aws.String(fmt.Sprint(i) + noise[:100]), Value: aws.String(noise[:256])})
	}
	e.do("UpdateAssumeRolePolicy", "RoleName", "Ops", "PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+testAccount+`"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`)
	_, err = aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("big"), Tags: tags})
	apiError(t, err, "PackedPolicyTooLarge", http.StatusBadRequest)
}

func TestSameAccountTrust(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	alice := "arn:aws:iam::" + testAccount + ":user/alice"
	_, aliceSTS := e.userWithKey("alice") // no policy at all
	e.role("ByAccount")
	e.role("ByName", "AssumeRolePolicyDocument", trustOf(alice))
	assume := func(role string) error {
		_, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + role), RoleSessionName: aws.String("s0")})
		return err
	}
	// A trust policy naming the account delegates to alice's own policies: she has none.
	ae := apiError(t, assume("ByAccount"), "AccessDenied", http.StatusForbidden)
	if want := "User: " + alice + " is not authorized to perform: sts:AssumeRole on resource: " + roleARNPrefix + "ByAccount"; ae.ErrorMessage() != want {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
	// One naming alice herself is enough.
	if err := assume("ByName"); err != nil {
		t.Fatal(err)
	}
	e.do("PutUserPolicy", "UserName", "alice", "PolicyName", "assume", "PolicyDocument", allow("sts:AssumeRole", roleARNPrefix+"*"))
	if err := assume("ByAccount"); err != nil {
		t.Fatal(err)
	}
	// An explicit deny in her policies wins over a trust policy naming her.
	e.do("PutUserPolicy", "UserName", "alice", "PolicyName", "no", "PolicyDocument", deny("sts:AssumeRole", roleARNPrefix+"ByName"))
	apiError(t, assume("ByName"), "AccessDenied", http.StatusForbidden)
	e.do("DeleteUserPolicy", "UserName", "alice", "PolicyName", "no")

	// A role that does not exist is refused as one that does not trust her.
	ae = apiError(t, assume("Nope"), "AccessDenied", http.StatusForbidden)
	if !strings.Contains(ae.ErrorMessage(), "on resource: "+roleARNPrefix+"Nope") {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
	// Wrong principal: a role trusting bob.
	e.user("bob")
	e.role("ForBob", "AssumeRolePolicyDocument", trustOf("arn:aws:iam::"+testAccount+":user/bob"))
	e.do("PutUserPolicy", "UserName", "alice", "PolicyName", "assume", "PolicyDocument", allow("sts:AssumeRole", "*"))
	apiError(t, assume("ForBob"), "AccessDenied", http.StatusForbidden)

	// alice deleted and made again is not the alice the trust policy named.
	e.do("DeleteUserPolicy", "UserName", "alice", "PolicyName", "assume")
	for _, k := range e.do("ListAccessKeys", "UserName", "alice").(listAccessKeysResult).AccessKeyMetadata.Items {
		e.do("DeleteAccessKey", "UserName", "alice", "AccessKeyId", k.AccessKeyID)
	}
	e.do("DeleteUser", "UserName", "alice")
	_, aliceSTS = e.userWithKey("alice")
	apiError(t, assume("ByName"), "AccessDenied", http.StatusForbidden)

	// The root user assumes no role.
	_, rootSTS := e.clients(rootKeyID, rootKeySecret)
	_, err := rootSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "ByAccount"), RoleSessionName: aws.String("s0")})
	ae = apiError(t, err, "AccessDenied", http.StatusForbidden)
	if ae.ErrorMessage() != "Roles may not be assumed by root accounts." {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
}

func TestTrustConditions(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:AssumeRole", "*"))
	e.role("Vendor", "AssumeRolePolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+testAccount+`"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"acme-42"}}}]}`)
	e.role("Admin", "AssumeRolePolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+testAccount+`"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}`)
	assume := func(in *sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
		in.RoleSessionName = aws.String("s0")
		return aliceSTS.AssumeRole(ctx, in)
	}
	_, err := assume(&sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Vendor")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	_, err = assume(&sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Vendor"), ExternalId: aws.String("acme-41")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	if _, err := assume(&sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Vendor"), ExternalId: aws.String("acme-42")}); err != nil {
		t.Fatal(err)
	}

	_, err = assume(&sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Admin")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	d := e.do("CreateVirtualMFADevice", "VirtualMFADeviceName", "alice-phone").(createVirtualMFADeviceResult).VirtualMFADevice
	seed := seedOf(t, d.Base32StringSeed)
	step := totpStep(e.clock.now())
	e.do("EnableMFADevice", "UserName", "alice", "SerialNumber", d.SerialNumber, "AuthenticationCode1", totpAt(seed, step-1), "AuthenticationCode2", totpAt(seed, step))
	_, err = assume(&sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Admin"), SerialNumber: aws.String(d.SerialNumber), TokenCode: aws.String(totpAt(seed, step))})
	apiError(t, err, "AccessDenied", http.StatusForbidden) // that code was used
	out, err := assume(&sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Admin"), SerialNumber: aws.String(d.SerialNumber), TokenCode: aws.String(totpAt(seed, step+1))})
	if err != nil {
		t.Fatal(err)
	}
	// The session remembers its MFA: a role it assumes in turn sees it too.
	e.do("PutRolePolicy", "RoleName", "Admin", "PolicyName", "chain", "PolicyDocument", allow("sts:AssumeRole", "*"))
	_, adminSTS := e.withCreds(static(out.Credentials))
	if _, err := adminSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Admin"), RoleSessionName: aws.String("again")}); err != nil {
		t.Fatal(err)
	}
	// Role chaining is an hour at most.
	_, err = adminSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Admin"), RoleSessionName: aws.String("long"), DurationSeconds: aws.Int32(3601)})
	ae := apiError(t, err, "ValidationError", http.StatusBadRequest)
	if !strings.Contains(ae.ErrorMessage(), "1 hour session limit for roles assumed by role chaining") {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
}

func TestSessionExpiryAndTampering(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:AssumeRole", "*"))
	e.role("Ops")
	_, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("s0"), DurationSeconds: aws.Int32(3601)})
	ae := apiError(t, err, "ValidationError", http.StatusBadRequest)
	if ae.ErrorMessage() != "The requested DurationSeconds exceeds the MaxSessionDuration set for this role." {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
	_, err = aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("s0"), DurationSeconds: aws.Int32(899)})
	apiError(t, err, "ValidationError", http.StatusBadRequest)
	out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("s0"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	good := *out.Credentials
	call := func(c ststypes.Credentials) error {
		_, s := e.withCreds(static(&c))
		_, err := s.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err
	}
	if err := call(good); err != nil {
		t.Fatal(err)
	}
	tampered := func(f func(c *ststypes.Credentials)) ststypes.Credentials {
		c := good
		f(&c)
		return c
	}
	tok := aws.ToString(good.SessionToken)
	flip := func(s string, i int) string {
		b := []byte(s)
		b[i] ^= 1
		return string(b)
	}
	cases := map[string]ststypes.Credentials{
		"payload changed":   tampered(func(c *ststypes.Credentials) { c.SessionToken = aws.String(flip(tok, 10)) }),
		"signature changed": tampered(func(c *ststypes.Credentials) { c.SessionToken = aws.String(flip(tok, len(tok)-3)) }),
		"other key id":      tampered(func(c *ststypes.Credentials) { c.AccessKeyId = aws.String("ASIAAAAAAAAAAAAAAAAA") }),
		"not a token":       tampered(func(c *ststypes.Credentials) { c.SessionToken = aws.String("made-up") }),
		"no token":          tampered(func(c *ststypes.Credentials) { c.SessionToken = nil }),
	}
	// A token minted with another key (another Borealis, or a guess) is not ours.
	other := newEnv(t)
	_, _, forged, err := other.svc.mintSession(sessionClaims{KeyID: aws.ToString(good.AccessKeyId), RoleID: "x", Name: "s0", Issued: e.clock.now().Unix(), Expiry: e.clock.now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	cases["forged"] = tampered(func(c *ststypes.Credentials) { c.SessionToken = aws.String(forged) })
	for name, c := range cases {
		t.Run(name, func(t *testing.T) { apiError(t, call(c), "InvalidClientTokenId", http.StatusForbidden) })
	}
	// 15 minutes later it has expired.
	e.clock.advance(899 * time.Second)
	if err := call(good); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(time.Second)
	ae = apiError(t, call(good), "ExpiredToken", http.StatusForbidden)
	if ae.ErrorMessage() != "The security token included in the request is expired" {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
}

func TestSessionConditionKeys(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:*", "*"))
	e.role("Ops", "AssumeRolePolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+testAccount+`"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`,
		"Tags.member.1.Key", "team", "Tags.member.1.Value", "db")
	r := e.do("GetRole", "RoleName", "Ops").(roleResult).Role
	cond := func(key, value string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*","Condition":{"StringEquals":{"` + key + `":"` + value + `"}}}]}`
	}
	e.do("PutRolePolicy", "RoleName", "Ops", "PolicyName", "a", "PolicyDocument", cond("aws:PrincipalArn", r.Arn))
	e.do("PutRolePolicy", "RoleName", "Ops", "PolicyName", "b", "PolicyDocument", cond("aws:userid", r.RoleID+":s1"))
	e.do("PutRolePolicy", "RoleName", "Ops", "PolicyName", "c", "PolicyDocument", cond("aws:PrincipalTag/project", "aurora"))
	e.do("PutRolePolicy", "RoleName", "Ops", "PolicyName", "d", "PolicyDocument", cond("aws:PrincipalType", "AssumedRole"))
	e.do("PutRolePolicy", "RoleName", "Ops", "PolicyName", "e", "PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"db"}}},
		{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"true"}}},
		{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}`)
	getRole := func(session string, tags ...ststypes.Tag) error {
		out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(r.Arn), RoleSessionName: aws.String(session), Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := e.withCreds(static(out.Credentials))
		_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Ops")})
		return err
	}
	// Each of a..d allows alone; the deny statements must all stay quiet.
	if err := getRole("s2"); err != nil { // aws:PrincipalArn, aws:PrincipalType
		t.Fatal(err)
	}
	e.do("DeleteRolePolicy", "RoleName", "Ops", "PolicyName", "a")
	e.do("DeleteRolePolicy", "RoleName", "Ops", "PolicyName", "d")
	if err := getRole("s1"); err != nil { // aws:userid
		t.Fatal(err)
	}
	apiError(t, getRole("s2"), "AccessDenied", http.StatusForbidden)
	if err := getRole("s2", ststypes.Tag{Key: aws.String("project"), Value: aws.String("aurora")}); err != nil { // a session tag
		t.Fatal(err)
	}
	// A session tag overrides the role's: team=web is denied.
	apiError(t, getRole("s1", ststypes.Tag{Key: aws.String("team"), Value: aws.String("web")}), "AccessDenied", http.StatusForbidden)
	// Session tags need sts:TagSession in the trust policy.
	e.do("UpdateAssumeRolePolicy", "RoleName", "Ops", "PolicyDocument", trustAccount())
	_, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(r.Arn), RoleSessionName: aws.String("t0"), Tags: []ststypes.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
	ae := apiError(t, err, "AccessDenied", http.StatusForbidden)
	if !strings.Contains(ae.ErrorMessage(), "sts:TagSession") {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
}

func TestGetSessionToken(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("iam:ListUsers", "*"))
	out, err := aliceSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	c, s := e.withCreds(static(out.Credentials))
	id, err := s.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != "arn:aws:iam::"+testAccount+":user/alice" {
		t.Fatalf("GetCallerIdentity %+v %v", id, err)
	}
	// Without MFA, IAM is closed to these credentials; and they make no further session.
	_, err = c.ListUsers(ctx, &iam.ListUsersInput{})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	_, err = s.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
	_, err = aliceSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(129601)})
	apiError(t, err, "ValidationError", http.StatusBadRequest)
	_, err = aliceSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String("arn:aws:iam::" + testAccount + ":mfa/none"), TokenCode: aws.String("123456")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)

	// With MFA, IAM opens, and aws:MultiFactorAuthAge counts from the code. (The service's
	// clock is set back two hours for the first session; requests are judged in real time.)
	e.clock.advance(-2 * time.Hour)
	d := e.do("CreateVirtualMFADevice", "VirtualMFADeviceName", "alice-phone").(createVirtualMFADeviceResult).VirtualMFADevice
	seed := seedOf(t, d.Base32StringSeed)
	step := totpStep(e.clock.now())
	e.do("EnableMFADevice", "UserName", "alice", "SerialNumber", d.SerialNumber, "AuthenticationCode1", totpAt(seed, step-1), "AuthenticationCode2", totpAt(seed, step))
	e.do("PutUserPolicy", "UserName", "alice", "PolicyName", "mfa", "PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}]}`)
	mfaSession := func(code string) *iam.Client {
		out, err := aliceSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(d.SerialNumber), TokenCode: aws.String(code)})
		if err != nil {
			t.Fatal(err)
		}
		if !out.Credentials.Expiration.Equal(e.clock.now().Add(12 * time.Hour)) {
			t.Fatalf("expiration %v", out.Credentials.Expiration)
		}
		c, _ := e.withCreds(static(out.Credentials))
		return c
	}
	_, err = mfaSession(totpAt(seed, step+1)).GetUser(ctx, &iam.GetUserInput{})
	apiError(t, err, "AccessDenied", http.StatusForbidden) // MFA two hours old
	e.clock.advance(2 * time.Hour)
	if _, err := mfaSession(totpAt(seed, totpStep(e.clock.now()))).GetUser(ctx, &iam.GetUserInput{}); err != nil {
		t.Fatal(err)
	}
}

// A role session is no user: actions on "the caller" need a UserName, as on AWS, and it
// cannot make itself long-term keys.
func TestRoleSessionIsNotAUser(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:AssumeRole", "*"))
	e.role("Ops")
	e.do("PutRolePolicy", "RoleName", "Ops", "PolicyName", "iam", "PolicyDocument", allow("iam:*", "*"))
	out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("s0")})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := e.withCreds(static(out.Credentials))
	for name, call := range map[string]func() error{
		"GetUser":         func() error { _, err := c.GetUser(ctx, &iam.GetUserInput{}); return err },
		"CreateAccessKey": func() error { _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{}); return err },
		"ListAccessKeys":  func() error { _, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{}); return err },
	} {
		ae := apiError(t, call(), "ValidationError", http.StatusBadRequest)
		if ae.ErrorMessage() != "Must specify userName when calling with non-User credentials" {
			t.Fatalf("%s: %q", name, ae.ErrorMessage())
		}
	}
	if n, _ := e.st.AccessKeysOf(ctx, "root"); len(n) != 1 {
		t.Fatalf("root keys: %v", n)
	}
}

// A role ARN is matched exactly: another case or path names no role.
func TestAssumeRoleARNIsExact(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:AssumeRole", "*"))
	e.role("Ops", "Path", "/team/")
	for _, arn := range []string{roleARNPrefix + "Ops", roleARNPrefix + "team/ops", "arn:aws:iam::210987654321:role/team/Ops"} {
		_, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("s0")})
		apiError(t, err, "AccessDenied", http.StatusForbidden)
	}
	if _, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "team/Ops"), RoleSessionName: aws.String("s0")}); err != nil {
		t.Fatal(err)
	}
}

// A source identity needs sts:SetSourceIdentity, stays with the session and its chained
// sessions, and is the aws:SourceIdentity condition key.
func TestSourceIdentity(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:*", "*"))
	e.role("Ops")
	in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("s0"), SourceIdentity: aws.String("alice@corp")}
	_, err := aliceSTS.AssumeRole(ctx, in)
	ae := apiError(t, err, "AccessDenied", http.StatusForbidden)
	if !strings.Contains(ae.ErrorMessage(), "sts:SetSourceIdentity") {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
	e.do("UpdateAssumeRolePolicy", "RoleName", "Ops", "PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+testAccount+`"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}]}`)
	e.do("PutRolePolicy", "RoleName", "Ops", "PolicyName", "p", "PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Condition":{"StringEquals":{"aws:SourceIdentity":"alice@corp"}}}]}`)
	out, err := aliceSTS.AssumeRole(ctx, in)
	if err != nil || aws.ToString(out.SourceIdentity) != "alice@corp" {
		t.Fatalf("%+v %v", out, err)
	}
	_, ops := e.withCreds(static(out.Credentials))
	// The chained session keeps it (its policy asks for it) and may not change it.
	if _, err := ops.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("s1")}); err != nil {
		t.Fatal(err)
	}
	_, err = ops.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("s2"), SourceIdentity: aws.String("mallory")})
	apiError(t, err, "AccessDenied", http.StatusForbidden)
}

// Transitive session tags pass on to the sessions a session starts, and cannot be set again.
func TestTransitiveTags(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:*", "*"))
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + testAccount + `"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	e.role("First", "AssumeRolePolicyDocument", trust)
	e.role("Second", "AssumeRolePolicyDocument", trust)
	e.do("PutRolePolicy", "RoleName", "First", "PolicyName", "p", "PolicyDocument", allow("sts:*", "*"))
	e.do("PutRolePolicy", "RoleName", "Second", "PolicyName", "p", "PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/project":"aurora"}}}]}`)
	_, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "First"), RoleSessionName: aws.String("s0"),
		TransitiveTagKeys: []string{"project"}})
	apiError(t, err, "InvalidParameterValue", http.StatusBadRequest) // not one of the session tags
	out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "First"), RoleSessionName: aws.String("s0"),
		Tags: []ststypes.Tag{{Key: aws.String("project"), Value: aws.String("aurora")}}, TransitiveTagKeys: []string{"project"}})
	if err != nil {
		t.Fatal(err)
	}
	_, first := e.withCreds(static(out.Credentials))
	_, err = first.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Second"), RoleSessionName: aws.String("s1"),
		Tags: []ststypes.Tag{{Key: aws.String("Project"), Value: aws.String("other")}}})
	apiError(t, err, "InvalidParameterValue", http.StatusBadRequest)
	out, err = first.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Second"), RoleSessionName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	second, _ := e.withCreds(static(out.Credentials))
	if _, err := second.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Second")}); err != nil {
		t.Fatal(err)
	}
}

// A trust policy naming a role lets its sessions in without the role's own permission, but
// a session's session policies still narrow; naming the session itself is enough.
func TestTrustNamingARoleOrASession(t *testing.T) {
	e := newSTSEnv(t)
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:AssumeRole", roleARNPrefix+"Ops"))
	e.role("Ops")
	e.role("Next", "AssumeRolePolicyDocument", trustOf(roleARNPrefix+"Ops"))
	e.role("ForSession", "AssumeRolePolicyDocument", trustOf("arn:aws:sts::"+testAccount+":assumed-role/Ops/narrow"))
	ops := func(name string, sessionPolicy *string) *sts.Client {
		out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String(name), Policy: sessionPolicy})
		if err != nil {
			t.Fatal(err)
		}
		_, c := e.withCreds(static(out.Credentials))
		return c
	}
	next := func(c *sts.Client, role string) error {
		_, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + role), RoleSessionName: aws.String("n1")})
		return err
	}
	// Ops has no policy at all: naming its ARN is enough for a plain session.
	if err := next(ops("plain", nil), "Next"); err != nil {
		t.Fatal(err)
	}
	narrow := ops("narrow", aws.String(allow("iam:GetRole", "*")))
	apiError(t, next(narrow, "Next"), "AccessDenied", http.StatusForbidden)
	if err := next(narrow, "ForSession"); err != nil {
		t.Fatal(err)
	}
}

// Secrets stay out of the log: a session's secret and token, and the session key.
func TestSessionSecretsAreNotLogged(t *testing.T) {
	e := newSTSEnv(t)
	var logs strings.Builder
	var mu sync.Mutex
	e.svc.log = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) }), nil))
	ctx := context.Background()
	_, aliceSTS := e.userWithKey("alice", allow("sts:*", "*"))
	e.role("Ops")
	out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARNPrefix + "Ops"), RoleSessionName: aws.String("s0")})
	if err != nil {
		t.Fatal(err)
	}
	st, err := aliceSTS.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	text := logs.String()
	mu.Unlock()
	if !strings.Contains(text, aws.ToString(out.Credentials.AccessKeyId)) {
		t.Fatalf("the session is not logged: %s", text)
	}
	for _, secret := range []string{aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken),
		aws.ToString(st.Credentials.SecretAccessKey), aws.ToString(st.Credentials.SessionToken), base64.StdEncoding.EncodeToString(e.svc.sessionKey)} {
		if strings.Contains(text, secret) {
			t.Fatal("a secret was logged")
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
