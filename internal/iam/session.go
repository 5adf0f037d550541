package iam

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// Temporary credentials are not stored: the session token carries the session (who, until
// when, its session policies and tags), compressed and signed with the service's session key
// (HMAC-SHA256), and the secret access key is derived from the token with the same key. A
// token is therefore unforgeable without the key, and verifying one costs an HMAC, not a
// store read. What can change after issue is read afresh on every request: the role (a
// deleted role's sessions stop at once), its policies and its tags.

// sessionKeyBytes is the size of the session key.
const sessionKeyBytes = 32

// tokenPrefix versions the token format.
const tokenPrefix = "BRL1"

// NewSessionKey returns a fresh random session key, encoded for the store's meta table.
func NewSessionKey() string {
	b := make([]byte, sessionKeyBytes)
	_, _ = rand.Read(b) // never fails
	return base64.StdEncoding.EncodeToString(b)
}

// sessionClaims is what a session token says. Field names are short: the token travels
// with every request.
type sessionClaims struct {
	KeyID  string `json:"k"`           // ASIA...
	UserID string `json:"u,omitempty"` // GetSessionToken: the user's id, or "root"
	RoleID string `json:"r,omitempty"` // AssumeRole: the role's id
	Name   string `json:"n,omitempty"` // the RoleSessionName
	Issued int64  `json:"i"`
	Expiry int64  `json:"e"`
	MFAAt  int64  `json:"m,omitempty"`
	// By is the ARN of the caller who made the session (for the operator's log).
	By             string            `json:"b,omitempty"`
	Policies       []string          `json:"p,omitempty"`
	PolicyARNs     []string          `json:"a,omitempty"`
	Tags           map[string]string `json:"t,omitempty"`
	Transitive     []string          `json:"tt,omitempty"`
	SourceIdentity string            `json:"s,omitempty"`
	Chained        bool              `json:"c,omitempty"`
}

func (s *Service) mac(purpose string, payload []byte) []byte {
	m := hmac.New(sha256.New, s.sessionKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)
}

// mintSession returns the key id, secret and token of a new session.
func (s *Service) mintSession(c sessionClaims) (keyID, secret, token string, err error) {
	c.KeyID = "ASIA" + rand.Text()[:16]
	js, err := json.Marshal(c)
	if err != nil {
		return "", "", "", err
	}
	payload := deflate(js)
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.mac("token", payload))
	secret = base64.StdEncoding.EncodeToString(s.mac("secret", payload))[:secretAccessKeyLength]
	return c.KeyID, secret, token, nil
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression) // a valid level never fails
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

// maxTokenBytes bounds what a token may inflate to (tags and policies are bounded far below).
const maxTokenBytes = 64 << 10

// openSession verifies a session token presented with keyID and returns its claims and the
// session's secret. A token that is not one of ours, altered, or presented with another key
// id is InvalidClientTokenId; a good one past its expiry, ExpiredToken.
func (s *Service) openSession(keyID, token string) (sessionClaims, string, error) {
	var c sessionClaims
	body, ok := strings.CutPrefix(token, tokenPrefix)
	enc, sig, ok2 := strings.Cut(body, ".")
	if !ok || !ok2 {
		return c, "", invalidToken()
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(enc)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(got, s.mac("token", payload)) {
		return c, "", invalidToken()
	}
	js, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(payload)), maxTokenBytes))
	if err != nil || json.Unmarshal(js, &c) != nil || c.KeyID != keyID {
		return c, "", invalidToken()
	}
	if !s.cfg.Now().Before(time.Unix(c.Expiry, 0)) {
		return c, "", expiredToken()
	}
	return c, base64.StdEncoding.EncodeToString(s.mac("secret", payload))[:secretAccessKeyLength], nil
}

func expiredToken() error {
	return awsquery.Errorf(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
}

// LookupSession is a sigv4.SessionLookup: the secret of temporary credentials whose token
// verifies, for checking the request's signature.
func (s *Service) LookupSession(_ context.Context, keyID, token string) (string, error) {
	_, secret, err := s.openSession(keyID, token)
	return secret, err
}

// sessionPrincipal is the caller a verified session token names, read afresh: a role or user
// deleted since is InvalidClientTokenId.
func (s *Service) sessionPrincipal(ctx context.Context, keyID string, c sessionClaims) (principal.Principal, error) {
	sess := &principal.Session{
		Name: c.Name, IssuedAt: time.Unix(c.Issued, 0).UTC(), Expires: time.Unix(c.Expiry, 0).UTC(),
		Policies: c.Policies, PolicyARNs: c.PolicyARNs, Tags: c.Tags, TransitiveTagKeys: c.Transitive,
		SourceIdentity: c.SourceIdentity, Chained: c.Chained,
	}
	if c.MFAAt != 0 {
		sess.MFAAt = time.Unix(c.MFAAt, 0).UTC()
	}
	var p principal.Principal
	switch {
	case c.RoleID != "":
		r, err := s.store.IAMRoleByID(ctx, c.RoleID)
		if errors.Is(err, store.ErrNotFound) {
			return p, invalidToken()
		}
		if err != nil {
			return p, err
		}
		sess.RoleID, sess.RoleName, sess.RoleARN = r.RoleID, r.Name, s.roleARN(r)
		tags := tagMap(r.Tags)
		if len(c.Tags) > 0 && tags == nil {
			tags = map[string]string{}
		}
		for k, v := range c.Tags { // session tags win over the role's
			for rk := range tags {
				if strings.EqualFold(rk, k) {
					delete(tags, rk)
				}
			}
			tags[k] = v
		}
		p = principal.Principal{Type: principal.AssumedRole, AccountID: s.cfg.AccountID,
			ARN: s.sessionARN(r.Name, c.Name), UserID: r.RoleID + ":" + c.Name, Tags: tags}
	case c.UserID == "root":
		p = s.RootPrincipal(keyID)
	case c.UserID != "":
		u, err := s.store.IAMUserByID(ctx, c.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return p, invalidToken()
		}
		if err != nil {
			return p, err
		}
		p = s.userPrincipal(u)
	default:
		return p, invalidToken()
	}
	p.AccessKeyID = keyID
	p.Session = sess
	return p, nil
}

func (s *Service) sessionARN(roleName, sessionName string) string {
	return "arn:aws:sts::" + s.cfg.AccountID + ":assumed-role/" + roleName + "/" + sessionName
}
