package dbauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/sigv4"
)

const (
	region   = "us-east-1"
	account  = "123456789012"
	endpoint = "app.cluster-abc.us-east-1.rds.borealis.localhost"
	keyID    = "AKIAEXAMPLEKEY000001"
	secret   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	inactive = "AKIAEXAMPLEKEY000002"
)

// authority checks tokens for cluster-abc on endpoint:5432, letting the key's user connect
// as any database user whose name starts with app_.
func authority(now func() time.Time) (*Authority, *[]string) {
	var resources []string
	return New(Config{
		Region: region, AccountID: account, Now: now,
		Verifier: &sigv4.Verifier{Now: now, Lookup: func(_ context.Context, id string) (string, bool, error) {
			return secret, id == keyID, nil
		}},
		Authenticate: func(_ context.Context, id, _ string) (principal.Principal, error) {
			return principal.Principal{Type: principal.User, AccountID: account, ARN: "arn:aws:iam::" + account + ":user/app", UserName: "app", AccessKeyID: id}, nil
		},
		Authorize: func(_ context.Context, _ principal.Principal, action string, res []authz.Resource, _ map[string][]string) error {
			resources = append(resources, action+" "+res[0].ARN)
			if action == "rds-db:connect" && strings.HasPrefix(res[0].ARN, "arn:aws:rds-db:"+region+":"+account+":dbuser:cluster-abc/app_") {
				return nil
			}
			return errors.New("AccessDenied")
		},
		Cluster: func(_ context.Context, id string) (Cluster, bool, error) {
			return Cluster{ResourceID: "cluster-abc", Hosts: []string{endpoint}, Port: 5432, IAMEnabled: true}, id == "cluster-abc", nil
		},
		Log: slog.New(slog.DiscardHandler),
	}), &resources
}

// token is what aws-sdk-go-v2's rds/auth makes for host:port, user and key, now.
func token(t *testing.T, hostPort, user, key string) string {
	t.Helper()
	tok, err := auth.BuildAuthToken(context.Background(), hostPort, region, user, aws.CredentialsProviderFunc(
		func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// sessionToken makes a token as rds/auth does from temporary credentials.
func sessionToken(t *testing.T, hostPort, user string) string {
	t.Helper()
	tok, err := auth.BuildAuthToken(context.Background(), hostPort, region, user, aws.CredentialsProviderFunc(
		func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret, SessionToken: "made-up-session-token"}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// presign makes a token as rds/auth does, with another lifetime.
func presign(t *testing.T, hostPort, user string, expires int) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://"+hostPort+"/?Action=connect&DBUser="+user+"&X-Amz-Expires="+strconv.Itoa(expires), nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "rds-db", region, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u, "https://")
}

func TestAFreshTokenFromTheSDKLogsIn(t *testing.T) {
	a, resources := authority(time.Now)
	if err := a.Bind(context.Background(), BindDNPrefix("cluster-abc")+"app_reader", token(t, endpoint+":5432", "app_reader", keyID)); err != nil {
		t.Fatalf("a fresh token was refused: %v", err)
	}
	if want := "rds-db:connect arn:aws:rds-db:us-east-1:123456789012:dbuser:cluster-abc/app_reader"; len(*resources) != 1 || (*resources)[0] != want {
		t.Fatalf("authorized %v, want %s", *resources, want)
	}
}

func TestTokensAreRefused(t *testing.T) {
	now := time.Now()
	good := token(t, endpoint+":5432", "app_reader", keyID)
	tampered := good[:len(good)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", good[len(good)-1])+1)%16])
	cases := []struct {
		name, dn, token string
		now             time.Time
		reason          string
	}{
		{"expired", "cluster-abc/app_reader", good, now.Add(16 * time.Minute), "expired"},
		{"signed in the future", "cluster-abc/app_reader", good, now.Add(-10 * time.Minute), "future"},
		{"another user", "cluster-abc/app_writer", good, now, `for database user "app_reader"`},
		{"another port", "cluster-abc/app_reader", token(t, endpoint+":5433", "app_reader", keyID), now, "not an endpoint"},
		{"another host", "cluster-abc/app_reader", token(t, "other.cluster-abc.us-east-1.rds.borealis.localhost:5432", "app_reader", keyID), now, "not an endpoint"},
		{"tampered signature", "cluster-abc/app_reader", tampered, now, "signature does not match"},
		{"inactive key", "cluster-abc/app_reader", token(t, endpoint+":5432", "app_reader", inactive), now, "unknown or inactive"},
		{"no rds-db:connect", "cluster-abc/admin", token(t, endpoint+":5432", "admin", keyID), now, "AccessDenied"},
		{"unknown cluster", "cluster-xyz/app_reader", good, now, "no cluster"},
		{"signed with a session token", "cluster-abc/app_reader", sessionToken(t, endpoint+":5432", "app_reader"), now, "session token"},
		{"a password, not a token", "cluster-abc/app_reader", "Secret-pass-1", now, "token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, _ := authority(func() time.Time { return c.now })
			err := a.Bind(context.Background(), c.dn, c.token)
			if err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("got %v, want a refusal mentioning %q", err, c.reason)
			}
		})
	}
}

func TestTokenLongerThanFifteenMinutesIsRefused(t *testing.T) {
	a, _ := authority(time.Now)
	if err := a.Bind(context.Background(), "cluster-abc/app_reader", presign(t, endpoint+":5432", "app_reader", 900)); err != nil {
		t.Fatalf("a 15-minute token: %v", err)
	}
	if err := a.Bind(context.Background(), "cluster-abc/app_reader", presign(t, endpoint+":5432", "app_reader", 3600)); err == nil || !strings.Contains(err.Error(), "X-Amz-Expires") {
		t.Fatalf("a one-hour token: %v", err)
	}
}

// The baseline: what a client pays to make a token with aws-sdk-go-v2.
func BenchmarkBuildAuthToken(b *testing.B) {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, nil
	})
	for b.Loop() {
		if _, err := auth.BuildAuthToken(context.Background(), endpoint+":5432", region, "app_reader", creds); err != nil {
			b.Fatal(err)
		}
	}
}

// What a login pays to have its token checked: parsing, the signature, the scope, host,
// port and user checks and the authorization call (a stand-in evaluator here; the real one
// is measured in internal/iam).
func BenchmarkVerifyToken(b *testing.B) {
	tok, err := auth.BuildAuthToken(context.Background(), endpoint+":5432", region, "app_reader", aws.CredentialsProviderFunc(
		func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, nil
		}))
	if err != nil {
		b.Fatal(err)
	}
	a, _ := authority(time.Now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.check(context.Background(), "cluster-abc", "app_reader", tok); err != nil {
			b.Fatal(err)
		}
	}
}
