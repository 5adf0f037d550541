// Package principal names who is making a request: the account's root user or an IAM user,
// as proven by the access key that signed it. The API server puts it in the request's
// context; services and the authorizer read it from there.
package principal

import (
	"context"
	"strconv"
	"time"
)

// Types, as aws:PrincipalType reports them.
const (
	Root = "Account"
	User = "User"
)

// Principal is an authenticated caller.
type Principal struct {
	Type        string // Root | User
	AccountID   string
	ARN         string // arn:aws:iam::ACCOUNT:root or arn:aws:iam::ACCOUNT:user/PATH/NAME
	UserID      string // AIDA... for users; the account id for root
	UserName    string // "" for root
	AccessKeyID string
	Tags        map[string]string // the user's tags (aws:PrincipalTag/*)
	// MFA is set for a console session whose user gave a valid MFA code at sign-in; requests
	// then carry aws:MultiFactorAuthPresent=true (and, as on AWS, long-term access keys never
	// do).
	MFA bool
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
	keys := map[string][]string{
		"aws:PrincipalArn":     {p.ARN},
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
	return keys
}
