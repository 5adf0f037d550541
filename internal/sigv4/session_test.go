package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// No temporary credentials exist, so a request carrying a session token, however well
// signed by a valid access key, is refused as AWS refuses an invalid token, not served as
// if the token were absent.
func TestSessionTokensAreRefused(t *testing.T) {
	sessionSigned := func(method, url, body string) *http.Request {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", formType)
		}
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: "made-up-session-token"}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "rds", "us-east-1", signedAt); err != nil {
			t.Fatal(err)
		}
		return req
	}
	cases := map[string]*http.Request{
		// The SDKs send the token as a signed header.
		"signed header": sessionSigned("POST", "https://rds.borealis.test/", formBody),
		// ... or, in the query, signed with the rest.
		"signed query": signed(t, "GET", "https://rds.borealis.test/?Action=DescribeDBClusters&Version=2014-10-31&X-Amz-Security-Token=made-up", "", testSecret, nil),
		// An unsigned header added to a request signed with a long-term key.
		"unsigned header": func() *http.Request {
			r := signed(t, "POST", "https://rds.borealis.test/", formBody, testSecret, formHeader())
			r.Header.Set("X-Amz-Security-Token", "made-up")
			return r
		}(),
		"empty header": func() *http.Request {
			r := signed(t, "POST", "https://rds.borealis.test/", formBody, testSecret, formHeader())
			r.Header["X-Amz-Security-Token"] = []string{""}
			return r
		}(),
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			sr, body := overTheWire(t, req)
			_, err := verifierAt(signedAt).Verify(context.Background(), sr, body)
			var ae *awsquery.Error
			if !errors.As(err, &ae) || ae.Code != "InvalidClientTokenId" || ae.Status != http.StatusForbidden ||
				ae.Message != "The security token included in the request is invalid." {
				t.Fatalf("Verify = %v, want 403 InvalidClientTokenId", err)
			}
		})
	}
}

// An IAM database authentication token presigned with a session token is refused too.
func TestPresignedSessionTokenIsRefused(t *testing.T) {
	presign := func(session string) string {
		req, _ := http.NewRequest("GET", "https://db.borealis.test:5432/?Action=connect&DBUser=app&X-Amz-Expires=900", nil)
		creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: session}
		u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "rds-db", "us-east-1", signedAt)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(u, "https://")
	}
	v := verifierAt(signedAt)
	if _, err := v.VerifyPresigned(context.Background(), presign(""), maxPresign); err != nil {
		t.Fatalf("a token without a session token was refused: %v", err)
	}
	_, err := v.VerifyPresigned(context.Background(), presign("made-up-session-token"), maxPresign)
	if err == nil || !strings.Contains(err.Error(), "session token") {
		t.Fatalf("VerifyPresigned = %v, want a refusal naming the session token", err)
	}
}

const maxPresign = 15 * time.Minute
