// Package principal names who is making a request: the account's root user or an IAM user,
// as proven by the access key that signed it. The API server puts it in the request's
// context; services and the authorizer read it from there.
package principal

import "context"

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
