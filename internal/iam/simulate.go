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
	perms, err := s.permissionsFor(ctx, p)
	for _, x := range perms.identity {
		policies = append(policies, x.policy)
		names = append(names, x.id)
	}
	return policies, names, err
}

// permissions is everything that decides a principal's requests, read at one moment: its
// identity-based policies, capped by its permissions boundary when it has one.
type permissions struct {
	identity []sourcedPolicy
	boundary *boundarySource // nil: no boundary
}

// bounds returns the caps on the identity-based policies, for policy.EvaluateBounded.
func (pm permissions) bounds() []policy.Bound {
	if pm.boundary == nil {
		return nil
	}
	return []policy.Bound{pm.boundary.bound()}
}

func (pm permissions) identityPolicies() []*policy.Policy {
	out := make([]*policy.Policy, len(pm.identity))
	for i, x := range pm.identity {
		out[i] = x.policy
	}
	return out
}

func (s *Service) permissionsFor(ctx context.Context, p principal.Principal) (permissions, error) {
	var pm permissions
	var err error
	switch {
	case p.Type == principal.AssumedRole && p.Session != nil && p.Session.RoleID != "":
		pm, err = s.rolePermissions(ctx, p.Session.RoleID)
	case p.Type == principal.User && p.UserID != "":
		pm, err = s.userPermissions(ctx, p.UserID)
	default:
		return permissions{}, nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return permissions{}, nil // deleted meanwhile: nothing allows anything
	}
	return pm, err
}

func (s *Service) userPermissions(ctx context.Context, userID string) (permissions, error) {
	e, err := s.store.EffectivePoliciesOf(ctx, userID)
	if err != nil {
		return permissions{}, err
	}
	local := func(arn string) (store.ManagedPolicy, bool) {
		mp, ok := e.Managed[arn]
		return mp, ok
	}
	var pm permissions
	for _, h := range e.Holders {
		sp, err := s.holderPolicies(h, local)
		if err != nil {
			return permissions{}, err
		}
		pm.identity = append(pm.identity, sp...)
	}
	if arn := e.User.PermissionsBoundary; arn != "" {
		if pm.boundary, err = s.boundarySource(arn, local); err != nil {
			return permissions{}, err
		}
	}
	return pm, nil
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

// simulationSource finds the user or group PolicySourceArn names, with its policies (and a
// user's permissions boundary) and the global condition keys a request of that user would
// carry.
func (s *Service) simulationSource(ctx context.Context, arn string) (permissions, map[string][]string, error) {
	prefix := "arn:aws:iam::" + s.cfg.AccountID + ":"
	rest, ok := strings.CutPrefix(arn, prefix)
	if !ok || !strings.HasPrefix(rest, "user/") && !strings.HasPrefix(rest, "group/") && !strings.HasPrefix(rest, "role/") {
		return permissions{}, nil, invalidInput("Invalid PolicySourceArn %s: give the ARN of a user, group or role of account %s.", awsquery.Clip(arn), s.cfg.AccountID)
	}
	entityName := rest[strings.LastIndex(rest, "/")+1:]
	keys := map[string][]string{}
	if strings.HasPrefix(rest, "role/") {
		return s.roleSimulationSource(ctx, arn, entityName)
	}
	if strings.HasPrefix(rest, "group/") {
		g, err := s.store.IAMGroup(ctx, entityName)
		if errors.Is(err, store.ErrNotFound) || err == nil && s.groupARN(g) != arn {
			return permissions{}, nil, groupKind.notFound(entityName)
		}
		if err != nil {
			return permissions{}, nil, err
		}
		sp, err := s.groupPolicies(ctx, g)
		keys["aws:PrincipalAccount"] = []string{s.cfg.AccountID}
		return permissions{identity: sp}, keys, err
	}
	u, err := s.store.IAMUser(ctx, entityName)
	if errors.Is(err, store.ErrNotFound) || err == nil && s.userARN(u) != arn {
		return permissions{}, nil, userKind.notFound(entityName)
	}
	if err != nil {
		return permissions{}, nil, err
	}
	pm, err := s.userPermissions(ctx, u.UserID)
	if err != nil {
		return permissions{}, nil, err
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
	return pm, keys, nil
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
	perms, globals, err := s.simulationSource(ctx, src)
	if err != nil {
		return nil, err
	}
	for i, doc := range p.List("PolicyInputList", "member") {
		pol, err := policy.Parse(doc)
		if err != nil {
			return nil, policyError(err)
		}
		perms.identity = append(perms.identity, sourcedPolicy{policy: pol, id: "PolicyInputList." + strconv.Itoa(i+1), kind: "user"})
	}
	// A boundary given replaces the entity's own, as on AWS: an entity has one at a time.
	switch docs := p.List("PermissionsBoundaryPolicyInputList", "member"); len(docs) {
	case 0:
	case 1:
		pol, err := policy.ParseManaged(docs[0])
		if err != nil {
			return nil, policyError(err)
		}
		perms.boundary = &boundarySource{arn: "PermissionsBoundaryPolicyInputList.1", kind: "user", doc: pol}
	default:
		return nil, invalidInput("You can input only one permissions boundary policy.")
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
	sources := perms.identity
	var boundaryDocs []*policy.Policy
	if b := perms.boundary; b != nil && b.doc != nil {
		boundaryDocs = []*policy.Policy{b.doc}
	}
	var missing []string
	seen := map[string]bool{}
	for _, pol := range append(perms.identityPolicies(), boundaryDocs...) {
		for _, k := range pol.ContextKeys() {
			if lk := strings.ToLower(k); !seen[lk] && !hasKey(reqCtx, k) {
				seen[lk] = true
				missing = append(missing, k)
			}
		}
	}
	policies, bounds := perms.identityPolicies(), perms.bounds()
	var results []xmlEvaluationResult
	for _, action := range actions {
		for _, res := range resources {
			// The same evaluation as Authorize, so that the simulation predicts the call.
			v := policy.EvaluateBounded(policy.Request{Action: action, Resource: res, Context: reqCtx}, policies, bounds)
			er := xmlEvaluationResult{EvalActionName: action, EvalResourceName: res, EvalDecision: v.Decision.String()}
			matched := func(r policy.Result, srcs func(int) xmlStatement) {
				if r.Decision != v.Decision {
					return
				}
				for _, m := range r.Matched {
					er.MatchedStatements.Items = append(er.MatchedStatements.Items, srcs(m.PolicyIndex))
				}
			}
			matched(v.Identity, func(i int) xmlStatement {
				return xmlStatement{SourcePolicyID: sources[i].id, SourcePolicyType: sources[i].kind}
			})
			if b := perms.boundary; b != nil {
				matched(v.Bounds[0], func(int) xmlStatement { return xmlStatement{SourcePolicyID: b.arn, SourcePolicyType: b.kind} })
				er.PermissionsBoundaryDecisionDetail = &xmlBoundaryDetail{AllowedByPermissionsBoundary: v.Bounds[0].Decision == policy.Allow}
			}
			er.MissingContextValues.Items = missing
			results = append(results, er)
		}
	}
	items, next, more := paginateInOrder(results, pg)
	out := simulateResult{IsTruncated: more, Marker: next}
	out.EvaluationResults.Items = items
	return out, nil
}
