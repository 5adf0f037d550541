package iam

import (
	"context"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
)

// STS is the STS Query API (2011-06-15): GetCallerIdentity only.
type STS struct{ iam *Service }

// STS returns the STS service sharing this IAM service's account.
func (s *Service) STS() *STS { return &STS{iam: s} }

// stsAction is one STS API action: how it runs and what it touches.
type stsAction struct {
	run       func(*STS, context.Context, awsquery.Params) (any, error)
	resources resourcesFunc
}

// stsActions is every STS action Borealis serves, by its IAM action name.
var stsActions = map[string]stsAction{
	"GetCallerIdentity": {(*STS).getCallerIdentity, onAny},
}

// Do runs one STS action and returns the value to encode as its Result element.
func (t *STS) Do(ctx context.Context, action string, p awsquery.Params) (any, error) {
	a, ok := stsActions[action]
	if !ok {
		return nil, awsquery.InvalidAction(action)
	}
	return a.run(t, ctx, p)
}

// Authorization names the resources of each STS action ("*" if unknown).
func (t *STS) Authorization(ctx context.Context, action string, p awsquery.Params) ([]authz.Resource, map[string][]string) {
	keys := map[string][]string{}
	a, ok := stsActions[action]
	if !ok {
		return onAny(t.iam, ctx, p, keys), keys
	}
	return a.resources(t.iam, ctx, p, keys), keys
}

func (t *STS) getCallerIdentity(ctx context.Context, _ awsquery.Params) (any, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return callerIdentityResult{UserID: c.UserID, Account: c.AccountID, Arn: c.ARN}, nil
}
