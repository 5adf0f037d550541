// Package principal names who is making a request: the account's root user, an IAM user or
// a role session, as proven by the access key (and session token) that signed it. The API server puts it in the request's
// context; services and the authorizer read it from there.
package principal

import (
	"context"
	"strconv"
	"time"
)

// Types, as aws:PrincipalType reports them.
const (
	Root        = "Account"
	User        = "User"
	AssumedRole = "AssumedRole"
)

// Principal is an authenticated caller.
type Principal struct {
	Type      string // Root | User | AssumedRole
	AccountID string
	// ARN is arn:aws:iam::ACCOUNT:root, arn:aws:iam::ACCOUNT:user/PATH/NAME or, for a role
	// session, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
	ARN         string
	UserID      string // AIDA... for users; the account id for root; ROLEID:SESSION for a role session
	UserName    string // "" for root and role sessions
	AccessKeyID string
	// Tags are the user's tags, or a role session's role tags overlaid with its session tags
	// (aws:PrincipalTag/*).
	Tags map[string]string
	// Session is set for temporary credentials (an ASIA... key with a session token).
	Session *Session
	// MFA is set for a console session whose user gave a valid MFA code at sign-in; requests
	// then carry aws:MultiFactorAuthPresent=true (and, as on AWS, long-term access keys never
	// do).
	MFA bool
}

// Session is what temporary credentials carry besides the principal.
type Session struct {
	// RoleID, RoleName and RoleARN name the assumed role; all "" for GetSessionToken.
	RoleID, RoleName, RoleARN string
	Name                      string // the RoleSessionName
	IssuedAt, Expires         time.Time
	// MFAAt is when the MFA code was given (zero: none), for aws:MultiFactorAuthAge.
	MFAAt time.Time
	// Policies and PolicyARNs are the session policies: when any is given, a request must be
	// allowed by them as well as by the role's policies.
	Policies   []string
	PolicyARNs []string
	// Tags are the session tags (Principal.Tags has them over the role's own);
	// TransitiveTagKeys those that pass on to a role session this one starts.
	Tags              map[string]string
	TransitiveTagKeys []string
	SourceIdentity    string
	// Chained is set for a session a role session assumed (at most an hour, as on AWS).
	Chained bool
}

// HasSessionPolicies reports whether session policies narrow the session.
func (s *Session) HasSessionPolicies() bool {
	return s != nil && (len(s.Policies) > 0 || len(s.PolicyARNs) > 0)
}

// IsRoot reports whether the caller is the account's root user, who is allowed everything.
func (p Principal) IsRoot() bool { return p.Type == Root }

type ctxKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the caller in ctx; ok is false for an unauthenticated context.
func From(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// ConditionKeys are the global condition keys that come from the caller and the time of
// the request, for every way a request reaches the authorizer (the API, the console, a
// database login); each adds what it knows of the connection.
func (p Principal) ConditionKeys(now time.Time) map[string][]string {
	principalARN := p.ARN
	if p.Session != nil && p.Session.RoleARN != "" {
		principalARN = p.Session.RoleARN // aws:PrincipalArn is the role's, not the session's
	}
	keys := map[string][]string{
		"aws:PrincipalArn":     {principalARN},
		"aws:PrincipalAccount": {p.AccountID},
		"aws:ResourceAccount":  {p.AccountID},
		"aws:PrincipalType":    {p.Type},
		"aws:userid":           {p.UserID},
		"aws:EpochTime":        {strconv.FormatInt(now.Unix(), 10)},
		"aws:CurrentTime":      {now.UTC().Format(time.RFC3339)},
	}
	if p.UserName != "" {
		keys["aws:username"] = []string{p.UserName}
	}
	for k, v := range p.Tags {
		keys["aws:PrincipalTag/"+k] = []string{v}
	}
	if p.MFA {
		keys["aws:MultiFactorAuthPresent"] = []string{"true"}
	}
	if s := p.Session; s != nil {
		// Temporary credentials always say whether MFA was used; long-term keys never do.
		keys["aws:TokenIssueTime"] = []string{s.IssuedAt.UTC().Format(time.RFC3339)}
		keys["aws:MultiFactorAuthPresent"] = []string{strconv.FormatBool(!s.MFAAt.IsZero())}
		if !s.MFAAt.IsZero() {
			keys["aws:MultiFactorAuthAge"] = []string{strconv.FormatInt(int64(now.Sub(s.MFAAt).Seconds()), 10)}
		}
		if s.SourceIdentity != "" {
			keys["aws:SourceIdentity"] = []string{s.SourceIdentity}
		}
	}
	return keys
}
