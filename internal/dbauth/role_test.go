package dbauth_test

import (
	"context"
	"encoding/xml"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/dbauth"
	"github.com/borealis-db/borealis/internal/iam"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

const (
	roleAccount  = "123456789012"
	roleEndpoint = "app.cluster-abc.us-east-1.rds.borealis.localhost"
	roleHostPort = roleEndpoint + ":5432"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type creds struct{ AccessKeyId, SecretAccessKey, SessionToken string }

// roleEnv is the real IAM service and the database authority as serve wires them, on a
// clock the test moves.
type roleEnv struct {
	t     *testing.T
	svc   *iam.Service
	clock *testClock
	auth  *dbauth.Authority
}

func newRoleEnv(t *testing.T) *roleEnv {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	svc, err := iam.New(iam.Config{AccountID: roleAccount, AccountCreated: clk.now(), PasswordIterations: 1000, Now: clk.now}, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	e := &roleEnv{t: t, svc: svc, clock: clk}
	e.auth = dbauth.New(dbauth.Config{
		Region: "us-east-1", AccountID: roleAccount, Now: clk.now,
		Verifier:     dbauth.TokenVerifier(svc, clk.now),
		Authenticate: svc.Authenticate,
		Authorize:    svc.Authorize,
		Cluster: func(_ context.Context, id string) (dbauth.Cluster, bool, error) {
			return dbauth.Cluster{ResourceID: "cluster-abc", Hosts: []string{roleEndpoint}, Port: 5432, IAMEnabled: true}, id == "cluster-abc", nil
		},
		Log: slog.New(slog.DiscardHandler),
	})
	return e
}

// as runs an IAM or STS action as p and decodes its result into out.
func (e *roleEnv) as(p principal.Principal, sts bool, action string, out any, kv ...string) {
	e.t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	ctx := authz.WithKeys(principal.With(context.Background(), p), p.ConditionKeys(e.clock.now()))
	var res any
	var err error
	if sts {
		res, err = e.svc.STS().Do(ctx, action, awsquery.Params{Values: v})
	} else {
		res, err = e.svc.Do(ctx, action, awsquery.Params{Values: v})
	}
	if err != nil {
		e.t.Fatalf("%s: %v", action, err)
	}
	if out != nil {
		b, _ := xml.Marshal(res)
		if err := xml.Unmarshal(b, out); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *roleEnv) root(action string, kv ...string) {
	e.t.Helper()
	e.as(e.svc.RootPrincipal("AKIAROOTROOTROOTROOT"), false, action, nil, kv...)
}

// assume makes user "app" (allowed sts:AssumeRole) assume role for 15 minutes.
func (e *roleEnv) assume(role string) creds {
	e.t.Helper()
	var k struct{ AccessKey struct{ AccessKeyId string } }
	e.as(e.svc.RootPrincipal("AKIAROOTROOTROOTROOT"), false, "CreateAccessKey", &k, "UserName", "app")
	p, err := e.svc.Authenticate(context.Background(), k.AccessKey.AccessKeyId, "")
	if err != nil {
		e.t.Fatal(err)
	}
	var out struct{ Credentials creds }
	e.as(p, true, "AssumeRole", &out, "RoleArn", "arn:aws:iam::"+roleAccount+":role/"+role, "RoleSessionName", "db-login", "DurationSeconds", "900")
	e.root("DeleteAccessKey", "UserName", "app", "AccessKeyId", k.AccessKey.AccessKeyId)
	return out.Credentials
}

// token is rds/auth's token for user from c, signed at the service's now.
func (e *roleEnv) token(c creds, user string) string {
	e.t.Helper()
	req, _ := http.NewRequest("GET", "https://"+roleHostPort+"/?Action=connect&DBUser="+user+"&X-Amz-Expires=900", nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken},
		req, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "rds-db", "us-east-1", e.clock.now())
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.TrimPrefix(u, "https://")
}

const connectApp = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds-db:connect","Resource":"arn:aws:rds-db:us-east-1:` + roleAccount + `:dbuser:cluster-abc/app_*"}]}`

// TestRoleSessionTokens: a token signed by a role session logs in when the role allows
// rds-db:connect (and its boundary does too); a session that has expired is refused even
// though the token's own 15 minutes have not; a tampered session token is refused.
func TestRoleSessionTokens(t *testing.T) {
	e := newRoleEnv(t)
	ctx := context.Background()
	e.root("CreateUser", "UserName", "app")
	e.root("PutUserPolicy", "UserName", "app", "PolicyName", "assume", "PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + roleAccount + `"},"Action":"sts:AssumeRole"}]}`
	e.root("CreateRole", "RoleName", "DbApp", "AssumeRolePolicyDocument", trust)
	e.root("PutRolePolicy", "RoleName", "DbApp", "PolicyName", "connect", "PolicyDocument", connectApp)
	e.root("CreatePolicy", "PolicyName", "NoDB", "PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}`)
	e.root("CreateRole", "RoleName", "DbCapped", "AssumeRolePolicyDocument", trust, "PermissionsBoundary", "arn:aws:iam::"+roleAccount+":policy/NoDB")
	e.root("PutRolePolicy", "RoleName", "DbCapped", "PolicyName", "connect", "PolicyDocument", connectApp)

	c := e.assume("DbApp")
	if !strings.HasPrefix(c.AccessKeyId, "ASIA") || c.SessionToken == "" {
		t.Fatalf("credentials %+v", c)
	}
	if err := e.auth.Bind(ctx, "cluster-abc/app_reader", e.token(c, "app_reader")); err != nil {
		t.Fatalf("a fresh role token: %v", err)
	}
	refuse := func(what, user, tok, reason string) {
		t.Helper()
		err := e.auth.Bind(ctx, "cluster-abc/"+user, tok)
		if err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("%s: %v, want a refusal mentioning %q", what, err, reason)
		}
	}
	refuse("a database user the role does not name", "admin", e.token(c, "admin"), "AccessDenied")
	tampered := c
	tampered.SessionToken = c.SessionToken[:len(c.SessionToken)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(c.SessionToken, "AA")]
	refuse("a tampered session token", "app_reader", e.token(tampered, "app_reader"), "InvalidClientTokenId")
	other := e.assume("DbApp")
	swapped := c
	swapped.SessionToken = other.SessionToken
	refuse("another session's token", "app_reader", e.token(swapped, "app_reader"), "")
	noToken := c
	noToken.SessionToken = ""
	refuse("the session's key without its token", "app_reader", e.token(noToken, "app_reader"), "")
	refuse("a role whose boundary does not allow rds-db:connect", "app_reader", e.token(e.assume("DbCapped"), "app_reader"),
		"because no permissions boundary allows the rds-db:connect action")

	// Fourteen minutes in, a token is signed; a minute and a bit later the session has
	// expired while the token still has most of its 15 minutes.
	e.clock.advance(14 * time.Minute)
	late := e.token(c, "app_reader")
	if err := e.auth.Bind(ctx, "cluster-abc/app_reader", late); err != nil {
		t.Fatalf("a token from a live session: %v", err)
	}
	e.clock.advance(61 * time.Second)
	refuse("an expired session's token within the token's 15 minutes", "app_reader", late, "ExpiredToken")
}
