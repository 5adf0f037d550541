package dbauth

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/dataplane"
)

// The reasons a token is refused, as the audit trail names them (errorCode) with what they
// mean (errorMessage). The message is fixed for the reasons whose detail would quote the
// token; none holds the token or any part of its signature.
var reasons = []struct {
	code, message string
	match         []string // fragments of check's (or sigv4's) error text
}{
	{"ExpiredToken", "the token has expired", []string{"expired at"}},
	{"TokenNotYetValid", "the token is signed in the future", []string{"signed in the future"}},
	{"SignatureDoesNotMatch", "the token's signature does not match (tampered, or signed with another secret key)", []string{"signature does not match"}},
	{"InvalidClientTokenId", "the token's access key is unknown or inactive", []string{"unknown or inactive", "access key "}},
	{"UnsupportedToken", "the token is signed with temporary credentials, which are not accepted", []string{"session token"}},
	{"MalformedToken", "the password is not a well-formed authentication token", []string{"token too long", "not a presigned URL", "algorithm ", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "signed headers", "X-Amz-Signature"}},
	{"WrongScope", "the token is not signed for rds-db in this region", []string{"token scoped to"}},
	{"WrongAction", "the token is not for the connect action", []string{"token action"}},
	{"WrongDBUser", "the token is for another database user", []string{"for database user"}},
	{"WrongEndpoint", "the token is for another host or port", []string{"not an endpoint of this cluster"}},
	{"UnknownCluster", "no such cluster", []string{"no cluster"}},
	{"IAMAuthenticationDisabled", "IAM database authentication is not enabled on the cluster", []string{"not enabled on the cluster"}},
	{"NoDBUser", "no database user", []string{"no database user"}},
	{"AccessDenied", "no policy allows rds-db:connect on the database user", []string{"is not authorized to perform", "AccessDenied"}},
}

// reasonOf classifies a refusal of check: its code and what it means. The denial of the
// IAM evaluator keeps its own text (principal, action, resource, explicit deny or not).
func reasonOf(err error) (code, message string) {
	text := err.Error()
	for _, r := range reasons {
		for _, m := range r.match {
			if strings.Contains(text, m) {
				if r.code == "AccessDenied" && strings.Contains(text, "is not authorized to perform") {
					return r.code, text
				}
				return r.code, r.message
			}
		}
	}
	return "InternalError", "the token could not be checked"
}

// ldapPeer is the address of the PostgreSQL backend's LDAP connection, as the responder
// saw it: it leads to the backend, and from it to its client.
type ldapPeerKey struct{}

type ldapConn struct{ remote, local netip.AddrPort }

func withLDAPConn(ctx context.Context, c net.Conn) context.Context {
	r, ok1 := c.RemoteAddr().(*net.TCPAddr)
	l, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return ctx
	}
	return context.WithValue(ctx, ldapPeerKey{}, ldapConn{r.AddrPort(), l.AddrPort()})
}

// failure is what the trail learns of a refused bind: never the token.
func (a *Authority) failure(ctx context.Context, resourceID, user, token string, p principalRef, err error) dataplane.AuthFailure {
	code, message := reasonOf(err)
	f := dataplane.AuthFailure{Time: a.cfg.Now(), Cluster: resourceID, DBUser: user, Reason: code, Message: message,
		AccessKeyID: p.accessKeyID, PrincipalARN: p.arn}
	if f.AccessKeyID == "" {
		f.AccessKeyID = accessKeyOf(token)
	}
	if c, ok := ctx.Value(ldapPeerKey{}).(ldapConn); ok {
		isBackend := a.cfg.IsBackend
		if isBackend == nil {
			isBackend = func(exe string) bool { return filepath.Base(exe) == "postgres" }
		}
		if src, ep, ok := clientOf(c.remote, c.local, isBackend); ok {
			f.Source, f.Endpoint = src, ep.String()
		}
	}
	if f.Time.IsZero() {
		f.Time = time.Now()
	}
	return f
}

type principalRef struct{ arn, accessKeyID string }

// accessKeyOf is the access key id a token names (X-Amz-Credential's first part), if it
// looks like one: an id, not a secret, as CloudTrail records it.
func accessKeyOf(token string) string {
	_, q, ok := strings.Cut(token, "?")
	if !ok {
		return ""
	}
	for _, part := range strings.Split(q, "&") {
		v, ok := strings.CutPrefix(part, "X-Amz-Credential=")
		if !ok {
			continue
		}
		v = strings.ReplaceAll(strings.ReplaceAll(v, "%2F", "/"), "%2f", "/")
		id, _, _ := strings.Cut(v, "/")
		if len(id) >= 16 && len(id) <= 128 && isAlnum(id) {
			return id
		}
	}
	return ""
}

func isAlnum(s string) bool {
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
