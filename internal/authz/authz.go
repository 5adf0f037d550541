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
