// Package authz holds the shape of an authorization question, shared by the services that
// describe their requests and the IAM side that answers.
package authz

import "context"

// Resource is one resource an action touches, with the condition keys that belong to it
// (its tags: aws:ResourceTag/*, rds:cluster-tag/*, ...). IAM must allow the action on
// every resource of a request.
type Resource struct {
	ARN  string
	Keys map[string][]string
	// Action is the IAM action to allow on this resource when it is not the request's own:
	// EC2 asks for ec2:CreateTags on a resource created with tags.
	Action string
}

// On returns a resource without keys of its own.
func On(arn string) Resource { return Resource{ARN: arn} }

// Denial is a refused authorization with its reason, for the audit trail: the deciding
// statement of an explicit deny, or that no statement allowed. It wraps the AWS error the
// client sees.
type Denial struct {
	Err      error
	Decision string // "explicitDeny" or "implicitDeny"
	Action   string
	Resource string
	// Policy and Statement name the deciding Deny statement: the policy's name (inline) or
	// ARN (managed), and the statement's Sid, or its position ("#1" is the first) when it
	// has none. Both are "" for an implicit deny.
	Policy    string
	Statement string
}

func (d *Denial) Error() string { return d.Err.Error() }
func (d *Denial) Unwrap() error { return d.Err }

type keysKey struct{}

// WithKeys returns ctx carrying the request's condition keys, global ones included, for an
// action that decides part of its authorization itself (sts:AssumeRole judges the role's
// trust policy).
func WithKeys(ctx context.Context, keys map[string][]string) context.Context {
	return context.WithValue(ctx, keysKey{}, keys)
}

// KeysFrom returns the keys WithKeys put in ctx; ok is false when there are none, and an
// action that needs them must then refuse.
func KeysFrom(ctx context.Context) (map[string][]string, bool) {
	k, ok := ctx.Value(keysKey{}).(map[string][]string)
	return k, ok
}
