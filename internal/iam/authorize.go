package iam

import (
	"context"
	"maps"
	"net/http"
	"strings"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/principal"
)

// Authorize decides one API call as IAM does: the root user may do everything; a user
// what its identity-based policies allow on every resource of the call, within its
// permissions boundary, an explicit deny in either winning. It fails closed: an error
// reading the policies refuses the call.
func (s *Service) Authorize(ctx context.Context, p principal.Principal, action string, resources []authz.Resource, keys map[string][]string) error {
	// GetCallerIdentity needs no permission, as on AWS.
	if p.IsRoot() || action == "sts:GetCallerIdentity" {
		return nil
	}
	perms, err := s.permissionsFor(ctx, p)
	if err != nil {
		return err
	}
	policies, bounds := perms.identityPolicies(), perms.bounds()
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
		switch v := policy.EvaluateBounded(policy.Request{Action: action, Resource: r.ARN, Context: reqCtx}, policies, bounds); v.Decision {
		case policy.Allow:
			continue
		case policy.ExplicitDeny:
			return awsquery.Errorf(http.StatusForbidden, "AccessDenied",
				"User: %s is not authorized to perform: %s on resource: %s with an explicit deny in %s", p.ARN, action, r.ARN, article(v.By))
		default:
			return awsquery.Errorf(http.StatusForbidden, "AccessDenied",
				"User: %s is not authorized to perform: %s on resource: %s because no %s allows the %s action", p.ARN, action, r.ARN, v.By, action)
		}
	}
	return nil
}

// article puts "a" or "an" before a policy type, as AWS's messages read.
func article(kind string) string {
	if kind != "" && strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}
