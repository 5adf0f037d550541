package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/dataplane"
	"github.com/borealis-db/borealis/internal/dbauth"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/sigv4"
)

// An IAM database login with an expired token, and one with a tampered token, each leave
// an event in the trail with its reason; no byte of either token is in the trail's files.
func TestFailedIAMLoginsReachTheTrailWithoutTheirTokens(t *testing.T) {
	const (
		keyID    = "AKIAEXAMPLEKEY000001"
		secret   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		endpoint = "app.cluster-abc.us-east-1.rds.borealis.localhost"
	)
	dataDir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	trail, err := audit.Open(context.Background(), audit.Dir(dataDir), audit.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer trail.Close()
	d := newDataPlaneAudit("us-east-1", "123456789012", log)
	d.trail.Store(trail)
	now := time.Now()
	clock := func() time.Time { return now }
	a := dbauth.New(dbauth.Config{
		Region: "us-east-1", AccountID: "123456789012", Now: func() time.Time { return clock() },
		Verifier: &sigv4.Verifier{Now: func() time.Time { return clock() }, Lookup: func(_ context.Context, id string) (string, bool, error) {
			return secret, id == keyID, nil
		}},
		Authenticate: func(_ context.Context, id, _ string) (principal.Principal, error) {
			return principal.Principal{Type: principal.User, AccountID: "123456789012", ARN: "arn:aws:iam::123456789012:user/app", AccessKeyID: id}, nil
		},
		Authorize: func(context.Context, principal.Principal, string, []authz.Resource, map[string][]string) error {
			return nil
		},
		Cluster: func(_ context.Context, id string) (dbauth.Cluster, bool, error) {
			return dbauth.Cluster{ResourceID: "cluster-abc", Hosts: []string{endpoint}, Port: 5432, IAMEnabled: true}, id == "cluster-abc", nil
		},
		Refused: d.authFailed,
		Log:     log,
	})
	tok, err := auth.BuildAuthToken(context.Background(), endpoint+":5432", "us-east-1", "app_reader", aws.CredentialsProviderFunc(
		func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	sig := tok[strings.Index(tok, "X-Amz-Signature=")+len("X-Amz-Signature="):]
	flipped := string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", sig[0])+1)%16]) + sig[1:]
	tampered := strings.Replace(tok, sig, flipped, 1)

	clock = func() time.Time { return now.Add(16 * time.Minute) }
	if err := a.Bind(context.Background(), dbauth.BindDNPrefix("cluster-abc")+"app_reader", tok); err == nil {
		t.Fatal("an expired token logged in")
	}
	clock = func() time.Time { return now }
	if err := a.Bind(context.Background(), dbauth.BindDNPrefix("cluster-abc")+"app_reader", tampered); err == nil {
		t.Fatal("a tampered token logged in")
	}

	got, _, err := trail.Lookup(audit.Query{Attribute: audit.AttrEventName, Value: dataplane.NameConnect, Max: 10})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, s := range got {
		e := s.Event
		if e.EventSource != dataplane.EventSource || e.UserIdentity.AccessKeyID != keyID || e.AdditionalEventData["dbUser"] != "app_reader" {
			t.Fatalf("event %+v; want rds-db.amazonaws.com, key %s, database user app_reader", e, keyID)
		}
		if len(e.Resources) != 1 || e.Resources[0].ARN != "arn:aws:rds-db:us-east-1:123456789012:dbuser:cluster-abc/app_reader" {
			t.Fatalf("resources %+v; want the database user's ARN", e.Resources)
		}
		reasons[e.ErrorCode] = true
	}
	if len(got) != 2 || !reasons["ExpiredToken"] || !reasons["SignatureDoesNotMatch"] {
		t.Fatalf("trail has %d connect events with reasons %v; want ExpiredToken and SignatureDoesNotMatch", len(got), reasons)
	}
	files, _ := filepath.Glob(filepath.Join(audit.Dir(dataDir), "*"))
	if len(files) == 0 {
		t.Fatal("no trail files to search")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, secretPart := range []string{tok, tampered, sig, flipped, sig[:32], sig[32:], secret} {
			if strings.Contains(string(b), secretPart) {
				t.Fatalf("%s holds %q of a token", f, secretPart)
			}
		}
	}
}
