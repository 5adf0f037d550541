package iam

import (
	"context"
	"maps"
	"net/http"
	"strconv"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/principal"
)

// Authorize decides one API call as IAM does: the root user may do everything; a user
// what its identity-based policies allow on every resource of the call, an explicit deny
// winning. It fails closed: an error reading the policies refuses the call.
func (s *Service) Authorize(ctx context.Context, p principal.Principal, action string, resources []authz.Resource, keys map[string][]string) error {
	// GetCallerIdentity needs no permission, as on AWS.
	if p.IsRoot() || action == "sts:GetCallerIdentity" {
		return nil
	}
	policies, names, err := s.PoliciesFor(ctx, p)
	if err != nil {
		return err
	}
	grant, err := s.passwordChangeGrant(ctx, p, action)
	if err != nil {
		return err
	}
	if grant != nil {
		policies = append(policies[:len(policies):len(policies)], grant)
	}
	for _, r := range resources {
		action := action
		if r.Action != "" {
			action = r.Action
		}
		reqCtx := maps.Clone(keys)
		maps.Copy(reqCtx, r.Keys)
		res := policy.Evaluate(policy.Request{Action: action, Resource: r.ARN, Context: reqCtx}, policies)
		switch res.Decision {
		case policy.Allow:
			continue
		case policy.ExplicitDeny:
			return denial(res, names, action, r.ARN, awsquery.Errorf(http.StatusForbidden, "AccessDenied",
				"User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy", p.ARN, action, r.ARN))
		default:
			return denial(res, names, action, r.ARN, awsquery.Errorf(http.StatusForbidden, "AccessDenied",
				"User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", p.ARN, action, r.ARN, action))
		}
	}
	return nil
}

// denial wraps a refusal with the statement that decided it, for the audit trail.
func denial(res policy.Result, names []string, action, resource string, err error) error {
	d := &authz.Denial{Err: err, Decision: res.Decision.String(), Action: action, Resource: resource}
	if res.Decision == policy.ExplicitDeny {
		if res.PolicyIndex < len(names) {
			d.Policy = names[res.PolicyIndex]
		}
		d.Statement = res.Sid
		if d.Statement == "" {
			d.Statement = "#" + strconv.Itoa(res.StatementIndex+1)
		}
	}
	return d
}
