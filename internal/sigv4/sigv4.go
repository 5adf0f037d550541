// Package sigv4 verifies AWS Signature Version 4 (Authorization header form) on incoming
// Query-protocol requests. The SDK's signer only signs, and picks its own header set, so
// verification rebuilds the canonical request from the headers the client says it signed.
package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// Lookup returns the secret access key of an active access key id; ok=false when unknown/inactive.
type Lookup func(ctx context.Context, accessKeyID string) (secret string, ok bool, err error)

// SessionLookup returns the secret of temporary credentials: an access key id with the
// session token sent with it. Its error (InvalidClientTokenId, ExpiredToken) is the answer.
type SessionLookup func(ctx context.Context, accessKeyID, sessionToken string) (secret string, err error)

// Verifier checks SigV4 signatures. Its zero Now and MaxSkew take AWS-like defaults.
type Verifier struct {
	Lookup Lookup
	// Session verifies session tokens; nil refuses every request that carries one.
	Session SessionLookup
	Now     func() time.Time // nil means time.Now
	MaxSkew time.Duration    // 0 means 5 minutes
}

// Identity is what a verified signature proves.
type Identity struct {
	AccessKeyID string
	Region      string // from the credential scope
	Service     string // from the credential scope, e.g. "rds", "ec2", "iam", "sts"
	Time        time.Time
	// SessionToken is the session token of temporary credentials ("" for a long-term key),
	// verified with the signature.
	SessionToken string
}

const (
	algorithm      = "AWS4-HMAC-SHA256"
	terminator     = "aws4_request"
	amzDateLayout  = "20060102T150405Z"
	scopeDayLayout = "20060102"
	defaultSkew    = 5 * time.Minute
)

// securityToken carries a session token, as a header or, presigned, in the query.
const securityToken = "X-Amz-Security-Token"

// sessionToken returns the session token a request carries, as a header or in the query.
// ok is false when it carries none; a token sent empty, twice, or differently in the two
// places is returned as "" with ok true, which no lookup accepts: a request is never served
// as if a token it carries were absent.
func sessionToken(h http.Header, q url.Values) (token string, ok bool) {
	hv, inHeader := h[http.CanonicalHeaderKey(securityToken)]
	qv, inQuery := q[securityToken]
	if !inHeader && !inQuery {
		return "", false
	}
	all := append(append([]string{}, hv...), qv...)
	for _, v := range all {
		if v != all[0] {
			return "", true
		}
	}
	return all[0], true
}

// secretFor returns the secret that must have signed: the long-term key's or, with a
// session token, the session's.
func (v *Verifier) secretFor(ctx context.Context, accessKeyID, token string, hasToken bool) (string, error) {
	if hasToken {
		if v.Session == nil || token == "" {
			return "", invalidToken()
		}
		return v.Session(ctx, accessKeyID, token)
	}
	if v.Lookup == nil {
		return "", errors.New("sigv4: Verifier.Lookup is nil")
	}
	secret, ok, err := v.Lookup(ctx, accessKeyID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", invalidToken()
	}
	return secret, nil
}

// invalidToken is AWS's answer to an unknown access key or session token.
func invalidToken() *awsquery.Error {
	return awsquery.Errorf(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
}

// Verify checks the request's SigV4 Authorization header against body (the full request body bytes,
// already read by the caller). It returns *awsquery.Error on failure; an error from Lookup is
// returned as-is.
//
// The credential scope's region and service are reported in Identity, not checked: the caller
// knows which service and region it serves.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (Identity, error) {
	auth := r.Header.Get("Authorization")
	// Presigned URLs carry their signature in the query; not offered on the management API.
	if r.URL.Query().Has("X-Amz-Algorithm") {
		return Identity{}, incomplete("Query-string (presigned URL) authentication is not supported by this endpoint; " +
			"sign the request with an Authorization header.")
	}
	if auth == "" {
		return Identity{}, awsquery.Errorf(http.StatusForbidden, "MissingAuthenticationToken",
			"Request is missing Authentication Token")
	}

	h, err := parseAuthorization(auth)
	if err != nil {
		return Identity{}, err
	}
	scope, err := parseCredential(h.credential)
	if err != nil {
		return Identity{}, err
	}

	var missing []string
	if h.credential == "" {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if h.signature == "" {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if h.signedHeaders == nil {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	httpDate := r.Header.Get("Date")
	if amzDate == "" && httpDate == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return Identity{}, incomplete("%s", strings.Join(missing, " "))
	}
	if !slices.Contains(h.signedHeaders, "host") {
		return Identity{}, incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}

	var t time.Time
	if amzDate != "" {
		t, err = time.Parse(amzDateLayout, amzDate)
		if err != nil {
			return Identity{}, incomplete("X-Amz-Date must be in the ISO-8601 basic format yyyyMMdd'T'HHmmss'Z', got '%s'.", amzDate)
		}
	} else {
		t, err = http.ParseTime(httpDate)
		if err != nil {
			return Identity{}, incomplete("Date header is not a valid HTTP date: '%s'.", httpDate)
		}
		t = t.UTC()
	}
	stamp := t.Format(amzDateLayout)
	if day := t.Format(scopeDayLayout); scope.date != day {
		return Identity{}, mismatch("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			scope.date, day, stamp)
	}
	if err := v.checkSkew(t); err != nil {
		return Identity{}, err
	}

	token, hasToken := sessionToken(r.Header, r.URL.Query())
	secret, err := v.secretFor(ctx, scope.accessKeyID, token, hasToken)
	if err != nil {
		return Identity{}, err
	}

	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != payloadHash {
		return Identity{}, mismatch("The provided 'x-amz-content-sha256' header does not match what was computed.")
	}

	canonical := canonicalRequest(r, h.signedHeaders, h.signedHeadersRaw, payloadHash)
	crSum := sha256.Sum256([]byte(canonical))
	stringToSign := algorithm + "\n" + stamp + "\n" + scope.String() + "\n" + hex.EncodeToString(crSum[:])
	want := hmacSHA256(signingKey(secret, scope), stringToSign)

	got, err := hex.DecodeString(h.signature)
	if err != nil || !hmac.Equal(got, want) {
		return Identity{}, mismatch("The request signature we calculated does not match the signature you provided. " +
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return Identity{AccessKeyID: scope.accessKeyID, Region: scope.region, Service: scope.service, Time: t, SessionToken: token}, nil
}

// ParseScope extracts the credential scope from the Authorization header (or a presigned
// X-Amz-Credential) without verifying anything, so the router can pick the service's error
// envelope before verification.
func ParseScope(r *http.Request) (service, region string, ok bool) {
	cred := ""
	if auth := r.Header.Get("Authorization"); auth != "" {
		h, err := parseAuthorization(auth)
		if err != nil {
			return "", "", false
		}
		cred = h.credential
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	s, err := parseCredential(cred)
	if err != nil || s.accessKeyID == "" {
		return "", "", false
	}
	return s.service, s.region, true
}

func (v *Verifier) checkSkew(t time.Time) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultSkew
	}
	n := now().UTC()
	switch {
	case t.Before(n.Add(-skew)):
		return awsquery.Errorf(http.StatusBadRequest, "RequestExpired",
			"Signature expired: %s is now earlier than %s (%s - %s).",
			t.Format(amzDateLayout), n.Add(-skew).Format(amzDateLayout), n.Format(amzDateLayout), describe(skew))
	case t.After(n.Add(skew)):
		return awsquery.Errorf(http.StatusBadRequest, "RequestExpired",
			"Signature not yet current: %s is still later than %s (%s + %s).",
			t.Format(amzDateLayout), n.Add(skew).Format(amzDateLayout), n.Format(amzDateLayout), describe(skew))
	}
	return nil
}

// describe renders the allowed skew the way AWS messages do ("15 min.").
func describe(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min."
	}
	return d.String()
}

type authHeader struct {
	credential       string
	signedHeaders    []string // nil when the parameter is absent
	signedHeadersRaw string
	signature        string
}

// parseAuthorization splits "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
// Missing parameters are left empty for the caller to report together, as AWS does.
func parseAuthorization(auth string) (authHeader, error) {
	var h authHeader
	rest, ok := strings.CutPrefix(auth, algorithm+" ")
	if !ok {
		scheme, _, _ := strings.Cut(auth, " ")
		return h, incomplete("Unsupported Authorization type '%s': only %s (AWS Signature Version 4) is accepted.",
			truncate(scheme, 40), algorithm)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, found := strings.Cut(part, "=")
		if !found {
			return h, incomplete("Authorization header parameter '%s' is not of the form key=value.", truncate(part, 40))
		}
		switch k {
		case "Credential", "SignedHeaders", "Signature":
			if seen[k] {
				return h, incomplete("Authorization header has more than one '%s' parameter.", k)
			}
			seen[k] = true
		}
		switch k {
		case "Credential":
			h.credential = val
		case "SignedHeaders":
			h.signedHeadersRaw = val
			h.signedHeaders = strings.Split(val, ";")
		case "Signature":
			h.signature = val
		}
	}
	return h, nil
}

type credentialScope struct {
	accessKeyID, date, region, service string
}

// String is the scope as it appears in the string to sign (without the access key id).
func (s credentialScope) String() string {
	return s.date + "/" + s.region + "/" + s.service + "/" + terminator
}

// parseCredential checks AKID/yyyymmdd/region/service/aws4_request. An empty credential is
// not an error here, so that Verify can report it with the other missing parameters.
func parseCredential(cred string) (credentialScope, error) {
	if cred == "" {
		return credentialScope{}, nil
	}
	p := strings.Split(cred, "/")
	if len(p) != 5 || p[0] == "" || p[2] == "" || p[3] == "" {
		return credentialScope{}, incomplete("Credential must have the form <AccessKeyId>/<yyyymmdd>/<region>/<service>/aws4_request.")
	}
	if _, err := time.Parse(scopeDayLayout, p[1]); err != nil || len(p[1]) != 8 {
		return credentialScope{}, incomplete("Credential should be scoped to a valid date (yyyymmdd), not '%s'.", truncate(p[1], 20))
	}
	if p[4] != terminator {
		return credentialScope{}, incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", truncate(p[4], 20))
	}
	return credentialScope{accessKeyID: p[0], date: p[1], region: p[2], service: p[3]}, nil
}

// canonicalRequest rebuilds what the client signed (non-S3 rules, as aws-sdk-go-v2 and botocore).
func canonicalRequest(r *http.Request, signed []string, signedRaw, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(signedRaw)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalURI encodes the already-escaped path once more: non-S3 services expect that
// double encoding, and the SDKs produce it.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return escape(p, false)
}

// canonicalQuery sorts by encoded key then encoded value, as the spec says sorting happens
// after encoding. '+' decodes to a space, matching the SDK's url.Values round trip.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var params []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		params = append(params, kv{escape(unescape(k), true), escape(unescape(v), true)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// unescape keeps a malformed component as sent; the signature then simply won't match.
func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// escape percent-encodes everything outside RFC 3986's unreserved set, with upper-case hex.
func escape(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// headerValue renders one signed header. Go moves Host (and sometimes Content-Length) out of
// r.Header, so those come from the request fields.
func headerValue(r *http.Request, name string) string {
	var values []string
	switch name {
	case "host":
		host := r.Host
		if host == "" {
			host = r.URL.Host
		}
		values = []string{host}
	case "content-length":
		values = r.Header.Values("Content-Length")
		if len(values) == 0 && r.ContentLength >= 0 {
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		values = r.Header.Values(name)
	}
	// Build a new string: the slices returned by Header.Values belong to the request.
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(collapseSpaces(v))
	}
	return b.String()
}

// collapseSpaces trims a value and folds runs of spaces into one, per the spec.
func collapseSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	prevSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' && prevSpace {
			continue
		}
		prevSpace = c == ' '
		b.WriteByte(c)
	}
	return b.String()
}

func signingKey(secret string, s credentialScope) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), s.date)
	k = hmacSHA256(k, s.region)
	k = hmacSHA256(k, s.service)
	return hmacSHA256(k, terminator)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// truncate bounds echoed client input so an error message cannot be made arbitrarily large.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func incomplete(format string, args ...any) *awsquery.Error {
	return awsquery.Errorf(http.StatusBadRequest, "IncompleteSignature", format, args...)
}

func mismatch(format string, args ...any) *awsquery.Error {
	return awsquery.Errorf(http.StatusForbidden, "SignatureDoesNotMatch", format, args...)
}
