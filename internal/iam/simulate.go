package iam

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// sourcedPolicy is an identity-based policy and where it comes from.
type sourcedPolicy struct {
	policy *policy.Policy
	id     string // SourcePolicyId: an inline policy's name, a managed policy's ARN
	kind   string // SourcePolicyType: user | group | aws-managed | user-managed
}

// PoliciesFor returns every identity-based policy that applies to the caller: the user's
// inline policies and the default versions of its attached managed policies, then the
// same for each of its groups. names holds, in parallel, each policy's name (inline) or ARN
// (managed), for messages. A role session has its role's. The root user has none: it is
// allowed everything.
func (s *Service) PoliciesFor(ctx context.Context, p principal.Principal) (policies []*policy.Policy, names []string, err error) {
	if p.Type == principal.AssumedRole {
		return s.sessionRolePolicies(ctx, p)
	}
	if p.Type != principal.User || p.UserID == "" {
		return nil, nil, nil
	}
	sp, err := s.userPolicies(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil // deleted meanwhile: nothing allows anything
	}
	if err != nil {
		return nil, nil, err
	}
	for _, x := range sp {
		policies = append(policies, x.policy)
		names = append(names, x.id)
	}
	return policies, names, nil
}

func (s *Service) userPolicies(ctx context.Context, userID string) ([]sourcedPolicy, error) {
	e, err := s.store.EffectivePoliciesOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	var out []sourcedPolicy
	for _, h := range e.Holders {
		sp, err := s.holderPolicies(h, func(arn string) (store.ManagedPolicy, bool) {
			mp, ok := e.Managed[arn]
			return mp, ok
		})
		if err != nil {
			return nil, err
		}
		out = append(out, sp...)
	}
	return out, nil
}

func (s *Service) groupPolicies(ctx context.Context, g store.IAMGroup) ([]sourcedPolicy, error) {
	h := store.PolicyHolder{Kind: "group", ID: g.GroupID, Name: g.Name}
	var err error
	if h.Inline, err = s.store.InlinePolicies(ctx, g.GroupID); err != nil {
		return nil, err
	}
	if h.Attached, err = s.store.AttachedPolicies(ctx, g.GroupID); err != nil {
		return nil, err
	}
	var lookupErr error
	sp, err := s.holderPolicies(h, func(arn string) (store.ManagedPolicy, bool) {
		mp, err := s.store.ManagedPolicy(ctx, arn)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			lookupErr = err
		}
		return mp, err == nil
	})
	return sp, errors.Join(err, lookupErr)
}

// holderPolicies parses a user's or group's policies. A stored document that no longer
// parses is an error, not a policy to skip: skipping a Deny would grant access.
func (s *Service) holderPolicies(h store.PolicyHolder, local func(arn string) (store.ManagedPolicy, bool)) ([]sourcedPolicy, error) {
	var out []sourcedPolicy
	for _, ip := range h.Inline {
		p, err := s.parsed.parse(ip.Document)
		if err != nil {
			return nil, fmt.Errorf("iam: inline policy %s of %s %s: %w", ip.Name, h.Kind, h.Name, err)
		}
		out = append(out, sourcedPolicy{policy: p, id: ip.Name, kind: h.Kind})
	}
	for _, arn := range h.Attached {
		if strings.HasPrefix(arn, awsPolicyARNPrefix) {
			if a := s.aws[strings.TrimPrefix(arn, awsPolicyARNPrefix)]; a != nil {
				out = append(out, sourcedPolicy{policy: a.parsed, id: arn, kind: "aws-managed"})
			}
			continue
		}
		mp, ok := local(arn)
		if !ok {
			continue // deleted meanwhile (DeletePolicy refuses while attached)
		}
		v, _ := mp.Version(mp.DefaultVersion)
		p, err := s.parsed.parse(v.Document)
		if err != nil {
			return nil, fmt.Errorf("iam: managed policy %s %s: %w", arn, v.ID, err)
		}
		out = append(out, sourcedPolicy{policy: p, id: arn, kind: "user-managed"})
	}
	return out, nil
}

// contextEntries reads ContextEntries.member.N.{ContextKeyName, ContextKeyValues.member.M,
// ContextKeyType}.
func contextEntries(p awsquery.Params) (map[string][]string, error) {
	out := map[string][]string{}
	for i := 1; ; i++ {
		prefix := "ContextEntries.member." + strconv.Itoa(i) + "."
		if !p.Has(prefix+"ContextKeyName") && !p.Has(prefix+"ContextKeyType") && !p.Has(prefix+"ContextKeyValues.member.1") {
			return out, nil
		}
		k := p.String(prefix + "ContextKeyName")
		if len(k) < 5 || len(k) > 256 {
			return nil, validationError("contextEntries.member.contextKeyName", k, "Member must have length between 5 and 256")
		}
		switch t := p.String(prefix + "ContextKeyType"); t {
		case "", "string", "stringList", "numeric", "numericList", "boolean", "booleanList", "ip", "ipList", "binary", "binaryList", "date", "dateList":
		default:
			return nil, validationError("contextEntries.member.contextKeyType", t, "Member must satisfy enum value set: [string, stringList, numeric, numericList, boolean, booleanList, ip, ipList, binary, binaryList, date, dateList]")
		}
		out[k] = append(out[k], p.List(prefix+"ContextKeyValues", "member")...)
	}
}

func hasKey(m map[string][]string, k string) bool {
	for have := range m {
		if strings.EqualFold(have, k) {
			return true
		}
	}
	return false
}

// simulationSource finds the user or group PolicySourceArn names, with its policies and the
// global condition keys a request of that user would carry.
func (s *Service) simulationSource(ctx context.Context, arn string) ([]sourcedPolicy, map[string][]string, error) {
	prefix := "arn:aws:iam::" + s.cfg.AccountID + ":"
	rest, ok := strings.CutPrefix(arn, prefix)
	if !ok || !strings.HasPrefix(rest, "user/") && !strings.HasPrefix(rest, "group/") {
		return nil, nil, invalidInput("Invalid PolicySourceArn %s: give the ARN of a user or group of account %s.", awsquery.Clip(arn), s.cfg.AccountID)
	}
	entityName := rest[strings.LastIndex(rest, "/")+1:]
	keys := map[string][]string{}
	if strings.HasPrefix(rest, "group/") {
		g, err := s.store.IAMGroup(ctx, entityName)
		if errors.Is(err, store.ErrNotFound) || err == nil && s.groupARN(g) != arn {
			return nil, nil, noSuchEntity("The group with name %s cannot be found.", entityName)
		}
		if err != nil {
			return nil, nil, err
		}
		sp, err := s.groupPolicies(ctx, g)
		keys["aws:PrincipalAccount"] = []string{s.cfg.AccountID}
		return sp, keys, err
	}
	u, err := s.store.IAMUser(ctx, entityName)
	if errors.Is(err, store.ErrNotFound) || err == nil && s.userARN(u) != arn {
		return nil, nil, noSuchEntity("The user with name %s cannot be found.", entityName)
	}
	if err != nil {
		return nil, nil, err
	}
	sp, err := s.userPolicies(ctx, u.UserID)
	if err != nil {
		return nil, nil, err
	}
	pr := s.userPrincipal(u)
	keys["aws:username"] = []string{pr.UserName}
	keys["aws:userid"] = []string{pr.UserID}
	keys["aws:PrincipalArn"] = []string{pr.ARN}
	keys["aws:PrincipalAccount"] = []string{pr.AccountID}
	keys["aws:PrincipalType"] = []string{pr.Type}
	for k, v := range pr.Tags {
		keys["aws:PrincipalTag/"+k] = []string{v}
	}
	return sp, keys, nil
}

func (s *Service) simulatePrincipalPolicy(ctx context.Context, p awsquery.Params) (any, error) {
	src, err := required(p, "PolicySourceArn")
	if err != nil {
		return nil, err
	}
	actions := p.List("ActionNames", "member")
	if len(actions) == 0 {
		return nil, validationError("actionNames", "", "Member must not be null")
	}
	resources := p.List("ResourceArns", "member")
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	reqCtx, err := contextEntries(p)
	if err != nil {
		return nil, err
	}
	sources, globals, err := s.simulationSource(ctx, src)
	if err != nil {
		return nil, err
	}
	for i, doc := range p.List("PolicyInputList", "member") {
		pol, err := policy.Parse(doc)
		if err != nil {
			return nil, policyError(err)
		}
		sources = append(sources, sourcedPolicy{policy: pol, id: "PolicyInputList." + strconv.Itoa(i+1), kind: "user"})
	}
	// The global keys a real request would carry, unless the caller gave them.
	now := s.cfg.Now().UTC()
	globals["aws:CurrentTime"] = []string{now.Format("2006-01-02T15:04:05Z")}
	globals["aws:EpochTime"] = []string{strconv.FormatInt(now.Unix(), 10)}
	for k, v := range globals {
		if !hasKey(reqCtx, k) {
			reqCtx[k] = v
		}
	}
	policies := make([]*policy.Policy, len(sources))
	var missing []string
	seen := map[string]bool{}
	for i, sp := range sources {
		policies[i] = sp.policy
		for _, k := range sp.policy.ContextKeys() {
			if lk := strings.ToLower(k); !seen[lk] && !hasKey(reqCtx, k) {
				seen[lk] = true
				missing = append(missing, k)
			}
		}
	}
	var results []xmlEvaluationResult
	for _, action := range actions {
		for _, res := range resources {
			r := policy.Evaluate(policy.Request{Action: action, Resource: res, Context: reqCtx}, policies)
			er := xmlEvaluationResult{EvalActionName: action, EvalResourceName: res, EvalDecision: r.Decision.String()}
			for _, m := range r.Matched {
				sp := sources[m.PolicyIndex]
				er.MatchedStatements.Items = append(er.MatchedStatements.Items, xmlStatement{SourcePolicyID: sp.id, SourcePolicyType: sp.kind})
			}
			er.MissingContextValues.Items = missing
			results = append(results, er)
		}
	}
	type indexed struct {
		i int
		r xmlEvaluationResult
	}
	var all []indexed
	for i, r := range results {
		all = append(all, indexed{i, r})
	}
	items, next, more := paginate(all, func(x indexed) string { return positionKey(x.i) }, pg)
	out := simulateResult{IsTruncated: more, Marker: next}
	for _, x := range items {
		out.EvaluationResults.Items = append(out.EvaluationResults.Items, x.r)
	}
	return out, nil
}
