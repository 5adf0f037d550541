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

// decidedByAction are the actions Authorize lets through because the action decides for
// itself or needs no permission, as on AWS: GetCallerIdentity and GetSessionToken need none;
// AssumeRole judges the role's trust policy with the caller's policies (assumeRole).
var decidedByAction = map[string]bool{
	"sts:GetCallerIdentity": true,
	"sts:GetSessionToken":   true,
	"sts:AssumeRole":        true,
}

// Authorize decides one API call as IAM does: the root user may do everything; a user or a
// role session what its identity-based policies allow on every resource of the call (and,
// for a session with session policies, what those allow too), an explicit deny winning. It
// fails closed: an error reading the policies refuses the call.
func (s *Service) Authorize(ctx context.Context, p principal.Principal, action string, resources []authz.Resource, keys map[string][]string) error {
	if decidedByAction[action] {
		return nil
	}
	if p.IsRoot() && p.Session == nil {
		return nil
	}
	if err := sessionLimits(p, action); err != nil {
		return err
	}
	if p.IsRoot() {
		return nil
	}
	return s.decide(ctx, p, action, resources, keys)
}

// sessionLimits are what GetSessionToken's credentials may not do, as on AWS: IAM without
// MFA. (AssumeRole and GetCallerIdentity stay open to them.)
func sessionLimits(p principal.Principal, action string) error {
	if p.Session == nil || p.Session.RoleID != "" {
		return nil
	}
	if len(action) > 4 && action[:4] == "iam:" && p.Session.MFAAt.IsZero() {
		return accessDenied("User: %s is not authorized to perform: %s because no MFA authentication information was provided with the session's credentials", p.ARN, action)
	}
	return nil
}

// decide evaluates the caller's policies for every resource of the request.
func (s *Service) decide(ctx context.Context, p principal.Principal, action string, resources []authz.Resource, keys map[string][]string) error {
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
	// Session policies narrow: when the session has any, they must allow too, even if every
	// managed one they name has been deleted since (then nothing is allowed).
	narrowed := p.Session.HasSessionPolicies()
	var sessionPolicies []*policy.Policy
	if narrowed {
		if sessionPolicies, err = s.sessionPolicies(ctx, p.Session); err != nil {
			return err
		}
	}
	for _, r := range resources {
		action := action
		if r.Action != "" {
			action = r.Action
		}
		reqCtx := maps.Clone(keys)
		maps.Copy(reqCtx, r.Keys)
		req := policy.Request{Action: action, Resource: r.ARN, Context: reqCtx}
		identity := policy.Evaluate(req, policies)
		session := policy.Result{Decision: policy.Allow}
		if narrowed {
			session = policy.Evaluate(req, sessionPolicies)
		}
		switch {
		case identity.Decision == policy.ExplicitDeny:
			return denial(identity, names, action, r.ARN, awsquery.Errorf(http.StatusForbidden, "AccessDenied",
				"User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy", p.ARN, action, r.ARN))
		case session.Decision == policy.ExplicitDeny:
			return denial(session, sessionPolicyNames(len(sessionPolicies)), action, r.ARN, awsquery.Errorf(http.StatusForbidden, "AccessDenied",
				"User: %s is not authorized to perform: %s on resource: %s with an explicit deny in a session policy", p.ARN, action, r.ARN))
		case identity.Decision != policy.Allow:
			return denial(identity, names, action, r.ARN, awsquery.Errorf(http.StatusForbidden, "AccessDenied",
				"User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", p.ARN, action, r.ARN, action))
		case session.Decision != policy.Allow:
			return denial(session, nil, action, r.ARN, awsquery.Errorf(http.StatusForbidden, "AccessDenied",
				"User: %s is not authorized to perform: %s on resource: %s because no session policy allows the %s action", p.ARN, action, r.ARN, action))
		}
	}
	return nil
}

// sessionPolicyNames names a session's policies for the trail: they have no names of their own.
func sessionPolicyNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = "session policy #" + strconv.Itoa(i+1)
	}
	return names
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
