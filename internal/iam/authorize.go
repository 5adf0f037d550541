package iam

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"strings"

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
// role session what its identity-based policies allow on every resource of the call, within
// its (or its role's) permissions boundary and, for a session with session policies, what
// those allow too, an explicit deny in any of them winning. It fails closed: an error
// reading the policies refuses the call.
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
	set, err := s.decisionSetFor(ctx, p)
	if err != nil {
		return err
	}
	policies := set.policies
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
		switch v := policy.EvaluateBounded(policy.Request{Action: action, Resource: r.ARN, Context: reqCtx}, policies, set.bounds); v.Decision {
		case policy.Allow:
			continue
		case policy.ExplicitDeny:
			return set.denial(v, action, r.ARN, awsquery.Errorf(http.StatusForbidden, "AccessDenied",
				"User: %s is not authorized to perform: %s on resource: %s with an explicit deny in %s", p.ARN, action, r.ARN, article(v.By)))
		default:
			return set.denial(v, action, r.ARN, awsquery.Errorf(http.StatusForbidden, "AccessDenied",
				"User: %s is not authorized to perform: %s on resource: %s because no %s allows the %s action", p.ARN, action, r.ARN, v.By, action))
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

// decisionSet is what decides a principal's requests, read once per call: its
// identity-based policies (a role session's are its role's), capped by its permissions
// boundary (or its role's) and by its session policies when it has any.
type decisionSet struct {
	policies []*policy.Policy
	bounds   []policy.Bound
	// names and boundNames name each policy (parallel to policies and to each bound's
	// Policies), for the deciding statement the audit trail records.
	names      []string
	boundNames [][]string
}

func (s *Service) decisionSetFor(ctx context.Context, p principal.Principal) (decisionSet, error) {
	perms, err := s.permissionsFor(ctx, p)
	if err != nil {
		return decisionSet{}, err
	}
	set := decisionSet{policies: perms.identityPolicies(), bounds: perms.bounds()}
	for _, x := range perms.identity {
		set.names = append(set.names, x.id)
	}
	if perms.boundary != nil {
		set.boundNames = append(set.boundNames, []string{perms.boundary.arn})
	}
	// Session policies narrow: when the session has any, they must allow too, even if every
	// managed one they name has been deleted since (then nothing is allowed).
	if p.Session.HasSessionPolicies() {
		sp, err := s.sessionPolicies(ctx, p.Session)
		if err != nil {
			return decisionSet{}, err
		}
		set.bounds = append(set.bounds, policy.Bound{Kind: sessionPolicyKind, Policies: sp})
		names := make([]string, len(sp))
		for i := range names {
			names[i] = "session policy #" + strconv.Itoa(i+1)
		}
		set.boundNames = append(set.boundNames, names)
	}
	return set, nil
}

// sessionPolicyKind names session policies in denials, as AWS's messages do.
const sessionPolicyKind = "session policy"

// denial wraps a refusal with what decided it, for the audit trail: the deciding Deny
// statement (its policy and Sid, or position when it has none), or that no statement of
// the layer v.By allowed.
func (set decisionSet) denial(v policy.Verdict, action, resource string, err error) error {
	res, names := v.Identity, set.names
	for i, b := range set.bounds {
		if b.Kind == v.By && v.By != policy.IdentityKind && i < len(v.Bounds) {
			res = v.Bounds[i]
			if i < len(set.boundNames) {
				names = set.boundNames[i]
			}
			break
		}
	}
	d := &authz.Denial{Err: err, Decision: v.Decision.String(), Action: action, Resource: resource}
	if v.Decision == policy.ExplicitDeny {
		if res.PolicyIndex >= 0 && res.PolicyIndex < len(names) {
			d.Policy = names[res.PolicyIndex]
		}
		d.Statement = res.Sid
		if d.Statement == "" {
			d.Statement = "#" + strconv.Itoa(res.StatementIndex+1)
		}
	}
	return d
}
