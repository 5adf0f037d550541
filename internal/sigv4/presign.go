package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Presigned is what a verified presigned URL proves: who signed it, for which host, with
// which query parameters (besides the X-Amz-* ones).
type Presigned struct {
	Identity
	Host  string     // host:port as signed
	Query url.Values // the signed parameters, e.g. Action and DBUser
}

// Payload hashes a presigned GET may have been signed with: botocore signs query auth with
// UNSIGNED-PAYLOAD, aws-sdk-go-v2's presigners with the hash of an empty body.
var presignPayloads = []string{"UNSIGNED-PAYLOAD", hex.EncodeToString(sha256.New().Sum(nil))}

// VerifyPresigned checks a presigned URL given without its scheme, as RDS IAM
// authentication tokens are: "host:port/?Action=connect&DBUser=...&X-Amz-...". The URL
// must have been signed (header host only) no more than maxExpires before now, within its
// own X-Amz-Expires, by an active key. Errors say why, for the operator's audit log; they
// are not meant for the client.
func (v *Verifier) VerifyPresigned(ctx context.Context, token string, maxExpires time.Duration) (Presigned, error) {
	var out Presigned
	if len(token) > 8192 {
		return out, errors.New("token too long")
	}
	u, err := url.Parse("https://" + token)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return out, errors.New("token is not a presigned URL")
	}
	q := u.Query()
	if q.Get("X-Amz-Algorithm") != algorithm {
		return out, fmt.Errorf("algorithm %q, want %s", truncate(q.Get("X-Amz-Algorithm"), 30), algorithm)
	}
	scope, err := parseCredential(q.Get("X-Amz-Credential"))
	if err != nil || scope.accessKeyID == "" {
		return out, errors.New("malformed X-Amz-Credential")
	}
	signedAt, err := time.Parse(amzDateLayout, q.Get("X-Amz-Date"))
	if err != nil || signedAt.Format(scopeDayLayout) != scope.date {
		return out, errors.New("X-Amz-Date missing, malformed or not the credential's day")
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || expires < 1 || time.Duration(expires)*time.Second > maxExpires {
		return out, fmt.Errorf("X-Amz-Expires %q not between 1 and %d seconds", truncate(q.Get("X-Amz-Expires"), 20), int(maxExpires.Seconds()))
	}
	token, hasToken := sessionToken(nil, q)
	if q.Get("X-Amz-SignedHeaders") != "host" {
		return out, fmt.Errorf("signed headers %q, want host", truncate(q.Get("X-Amz-SignedHeaders"), 60))
	}
	sig, err := hex.DecodeString(q.Get("X-Amz-Signature"))
	if err != nil || len(sig) != sha256.Size {
		return out, errors.New("malformed X-Amz-Signature")
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	skew := v.MaxSkew
	if skew == 0 {
		skew = defaultSkew
	}
	if signedAt.After(now.Add(skew)) {
		return out, fmt.Errorf("signed in the future (%s)", signedAt.UTC().Format(amzDateLayout))
	}
	if now.After(signedAt.Add(time.Duration(expires) * time.Second)) {
		return out, fmt.Errorf("expired at %s", signedAt.Add(time.Duration(expires)*time.Second).UTC().Format(time.RFC3339))
	}
	secret, err := v.secretFor(ctx, scope.accessKeyID, token, hasToken)
	if err != nil {
		if hasToken {
			return out, fmt.Errorf("access key %s with its session token: %w", truncate(scope.accessKeyID, 30), err)
		}
		return out, fmt.Errorf("access key %s unknown or inactive: %w", truncate(scope.accessKeyID, 30), err)
	}
	// The canonical query is the URL's own, less the signature.
	var kept []string
	for _, part := range strings.Split(u.RawQuery, "&") {
		if !strings.HasPrefix(part, "X-Amz-Signature=") {
			kept = append(kept, part)
		}
	}
	key := signingKey(secret, scope)
	for _, payload := range presignPayloads {
		canonical := "GET\n" + canonicalURI(u) + "\n" + canonicalQuery(strings.Join(kept, "&")) + "\nhost:" + u.Host + "\n\nhost\n" + payload
		sum := sha256.Sum256([]byte(canonical))
		toSign := algorithm + "\n" + q.Get("X-Amz-Date") + "\n" + scope.date + "/" + scope.region + "/" + scope.service + "/" + terminator + "\n" + hex.EncodeToString(sum[:])
		if hmac.Equal(hmacSHA256(key, toSign), sig) {
			for k := range q {
				if strings.HasPrefix(k, "X-Amz-") {
					q.Del(k)
				}
			}
			out.Identity = Identity{AccessKeyID: scope.accessKeyID, Region: scope.region, Service: scope.service, Time: signedAt, SessionToken: token}
			out.Host, out.Query = u.Host, q
			return out, nil
		}
	}
	return out, errors.New("signature does not match")
}
