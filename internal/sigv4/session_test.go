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

// Without a session lookup, a request carrying a session token, however well signed by a
// valid access key, is refused as AWS refuses an invalid token, not served as if the token
// were absent.
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

// Without a session lookup, an IAM database authentication token presigned with a session
// token is refused too.
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

// With a session lookup, temporary credentials verify in both forms, with the session's
// secret (not the long-term key's); a token the lookup refuses is refused with its error.
func TestSessionCredentialsVerify(t *testing.T) {
	const tempID, tempSecret, token = "ASIABOREALIS000TEMP1", "temporarysecrettemporarysecrettemporary1", "good-token"
	v := verifierAt(signedAt)
	v.Session = func(_ context.Context, id, tok string) (string, error) {
		if id == tempID && tok == token {
			return tempSecret, nil
		}
		return "", awsquery.Errorf(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
	}
	sign := func(tok string) *http.Request {
		req, _ := http.NewRequest("POST", "https://rds.borealis.test/", strings.NewReader(formBody))
		req.Header.Set("Content-Type", formType)
		sum := sha256.Sum256([]byte(formBody))
		creds := aws.Credentials{AccessKeyID: tempID, SecretAccessKey: tempSecret, SessionToken: tok}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "rds", "us-east-1", signedAt); err != nil {
			t.Fatal(err)
		}
		return req
	}
	sr, body := overTheWire(t, sign(token))
	id, err := v.Verify(context.Background(), sr, body)
	if err != nil || id.AccessKeyID != tempID || id.SessionToken != token {
		t.Fatalf("Verify = %+v, %v", id, err)
	}
	sr, body = overTheWire(t, sign("stale-token"))
	var ae *awsquery.Error
	if _, err := v.Verify(context.Background(), sr, body); !errors.As(err, &ae) || ae.Code != "ExpiredToken" {
		t.Fatalf("a refused token: %v", err)
	}
	// The same token twice, once different, in header and query: refused.
	r := sign(token)
	q := r.URL.Query()
	q.Set("X-Amz-Security-Token", "other")
	r.URL.RawQuery = q.Encode()
	sr, body = overTheWire(t, r)
	if _, err := v.Verify(context.Background(), sr, body); !errors.As(err, &ae) || ae.Code != "InvalidClientTokenId" {
		t.Fatalf("two tokens: %v", err)
	}

	// Presigned (IAM database authentication): the token comes back with the identity.
	req, _ := http.NewRequest("GET", "https://db.borealis.test:5432/?Action=connect&DBUser=app&X-Amz-Expires=900", nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: tempID, SecretAccessKey: tempSecret, SessionToken: token}, req, "UNSIGNED-PAYLOAD", "rds-db", "us-east-1", signedAt)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.VerifyPresigned(context.Background(), strings.TrimPrefix(u, "https://"), maxPresign)
	if err != nil || p.SessionToken != token || p.Query.Has("X-Amz-Security-Token") {
		t.Fatalf("VerifyPresigned = %+v, %v", p, err)
	}
}
