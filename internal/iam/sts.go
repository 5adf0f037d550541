package iam

import (
	"context"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// STS is the STS Query API (2011-06-15): GetCallerIdentity only.
type STS struct{ iam *Service }

// STS returns the STS service sharing this IAM service's account.
func (s *Service) STS() *STS { return &STS{iam: s} }

// Do runs one STS action and returns the value to encode as its Result element.
func (t *STS) Do(ctx context.Context, action string, _ awsquery.Params) (any, error) {
	switch action {
	case "GetCallerIdentity":
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		return callerIdentityResult{UserID: c.UserID, Account: c.AccountID, Arn: c.ARN}, nil
	}
	return nil, awsquery.InvalidAction(action)
}
