package iam

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// Permissions boundaries: a managed policy that caps what a user's identity-based policies
// grant (see docs/permissions-boundaries.md).

// boundarySource is a principal's permissions boundary as read for a decision.
type boundarySource struct {
	arn  string
	kind string         // SourcePolicyType: aws-managed | user-managed
	doc  *policy.Policy // nil when the policy is gone: the boundary then allows nothing
}

func (b *boundarySource) bound() policy.Bound {
	pb := policy.Bound{Kind: policy.BoundaryKind}
	if b.doc != nil {
		pb.Policies = []*policy.Policy{b.doc}
	}
	return pb
}

// boundarySource reads the boundary arn names; local finds the account's managed policies
// read with the principal's other policies.
func (s *Service) boundarySource(arn string, local func(string) (store.ManagedPolicy, bool)) (*boundarySource, error) {
	if name, ok := strings.CutPrefix(arn, awsPolicyARNPrefix); ok {
		b := &boundarySource{arn: arn, kind: "aws-managed"}
		if a := s.aws[name]; a != nil {
			b.doc = a.parsed
		}
		return b, nil
	}
	b := &boundarySource{arn: arn, kind: "user-managed"}
	mp, ok := local(arn)
	if !ok {
		return b, nil
	}
	v, _ := mp.Version(mp.DefaultVersion)
	p, err := s.parsed.parse(v.Document)
	if err != nil {
		return nil, fmt.Errorf("iam: permissions boundary %s %s: %w", arn, v.ID, err)
	}
	b.doc = p
	return b, nil
}

// boundaryParam reads a PermissionsBoundary member naming a managed policy that exists.
// local reports whether it is the account's own (AWS managed policies are not stored).
func (s *Service) boundaryParam(ctx context.Context, p awsquery.Params) (arn string, local bool, err error) {
	if arn, err = required(p, "PermissionsBoundary"); err != nil {
		return "", false, err
	}
	if len(arn) < 20 || len(arn) > 2048 {
		return "", false, validationError("permissionsBoundary", arn, "Member must have length between 20 and 2048")
	}
	if _, _, _, ok := splitPolicyARN(arn); !ok {
		return "", false, invalidInput("ARN %s is not valid.", awsquery.Clip(arn))
	}
	r, ok, err := s.managed(ctx, arn)
	if err != nil {
		return "", false, err
	}
	if !ok {
		return "", false, boundaryNotAttachable(arn)
	}
	return arn, r.aws == nil, nil
}

// optionalBoundary is boundaryParam where the member may be absent (CreateUser, CreateRole):
// "" then.
func (s *Service) optionalBoundary(ctx context.Context, p awsquery.Params) (arn string, local bool, err error) {
	if !p.Has("PermissionsBoundary") {
		return "", false, nil
	}
	return s.boundaryParam(ctx, p)
}

// createBoundedError answers the store's error creating a user or role: its name is taken,
// or its permissions boundary was deleted meanwhile.
func createBoundedError(kind entityKind, name, boundary string, err error) error {
	switch {
	case errors.Is(err, store.ErrExists):
		return kind.exists(name)
	case errors.Is(err, store.ErrNotFound):
		return boundaryNotAttachable(boundary)
	}
	return err
}

func boundaryNotAttachable(arn string) error {
	return noSuchEntity("Scope ARN: %s does not exist or is not attachable.", awsquery.Clip(arn))
}

func toBoundary(arn string) *xmlBoundary {
	if arn == "" {
		return nil
	}
	return &xmlBoundary{Type: "PermissionsBoundaryPolicy", Arn: arn}
}

// putPermissionsBoundary is PutUserPermissionsBoundary and PutRolePermissionsBoundary.
func (s *Service) putPermissionsBoundary(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	name, err := boundaryHolderName(kind, p)
	if err != nil {
		return nil, err
	}
	if _, err := s.lookupEntity(ctx, kind, name); err != nil {
		return nil, err
	}
	arn, local, err := s.boundaryParam(ctx, p)
	if err != nil {
		return nil, err
	}
	return nil, s.setBoundary(ctx, kind, name, arn, local)
}

func (s *Service) deletePermissionsBoundary(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	name, err := boundaryHolderName(kind, p)
	if err != nil {
		return nil, err
	}
	return nil, s.setBoundary(ctx, kind, name, "", false)
}

// boundaryHolderName reads UserName or RoleName: the boundary actions take a user's name as
// CreateUser does (botocore's userNameType: 64 characters, not 128).
func boundaryHolderName(kind entityKind, p awsquery.Params) (string, error) {
	return nameParam(p, kind.member(), 64)
}

// setBoundary sets (or, with arn "", removes) a user's or role's permissions boundary.
func (s *Service) setBoundary(ctx context.Context, kind entityKind, name, arn string, local bool) error {
	var err error
	if kind == roleKind {
		_, err = s.store.SetIAMRoleBoundary(ctx, name, arn, local)
	} else {
		_, err = s.store.SetIAMUserBoundary(ctx, name, arn, local)
	}
	if errors.Is(err, store.ErrNotFound) {
		// The entity or the policy went meanwhile: say which.
		if _, lerr := s.lookupEntity(ctx, kind, name); lerr != nil {
			return lerr
		}
		return boundaryNotAttachable(arn)
	}
	if err == nil {
		s.log.Info("iam "+kind.String()+" permissions boundary set", kind.String(), name, "boundary", arn)
	}
	return err
}

// Condition key iam:PermissionsBoundary, on the actions the IAM service authorization
// reference lists it for: the boundary a request sets, or the one its user has.

// withRequestBoundary adds the request's PermissionsBoundary (CreateUser,
// PutUserPermissionsBoundary).
func withRequestBoundary(f resourcesFunc) resourcesFunc {
	return func(s *Service, ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
		if b := p.String("PermissionsBoundary"); b != "" {
			keys["iam:PermissionsBoundary"] = []string{b}
		}
		return f(s, ctx, p, keys)
	}
}

// withBoundary adds the boundary the user or role named by UserName or RoleName has now
// (changing its policies or removing its boundary). One without carries no key, so a
// condition requiring a boundary does not match.
func withBoundary(kind entityKind, f resourcesFunc) resourcesFunc {
	return func(s *Service, ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
		if e, err := s.lookupEntity(ctx, kind, p.String(kind.member())); err == nil && e.boundary != "" {
			keys["iam:PermissionsBoundary"] = []string{e.boundary}
		}
		return f(s, ctx, p, keys)
	}
}

// rolePermissions reads a role's identity-based policies and its boundary at one moment:
// what a session of the role is allowed before its session policies narrow it.
func (s *Service) rolePermissions(ctx context.Context, roleID string) (permissions, error) {
	r, h, managed, err := s.store.RolePolicies(ctx, roleID)
	if err != nil {
		return permissions{}, err
	}
	local := func(arn string) (store.ManagedPolicy, bool) {
		mp, ok := managed[arn]
		return mp, ok
	}
	var pm permissions
	if pm.identity, err = s.holderPolicies(h, local); err != nil {
		return permissions{}, err
	}
	if r.PermissionsBoundary != "" {
		if pm.boundary, err = s.boundarySource(r.PermissionsBoundary, local); err != nil {
			return permissions{}, err
		}
	}
	return pm, nil
}

// roleSimulationSource is simulationSource for a role: its policies within its boundary,
// and the keys every session of it carries (the session's own, such as aws:userid, are
// missing context values).
func (s *Service) roleSimulationSource(ctx context.Context, arn, roleName string) (permissions, map[string][]string, error) {
	r, err := s.store.IAMRole(ctx, roleName)
	if errors.Is(err, store.ErrNotFound) || err == nil && s.roleARN(r) != arn {
		return permissions{}, nil, roleKind.notFound(roleName)
	}
	if err != nil {
		return permissions{}, nil, err
	}
	pm, err := s.rolePermissions(ctx, r.RoleID)
	if err != nil {
		return permissions{}, nil, err
	}
	keys := map[string][]string{
		"aws:PrincipalArn":     {arn},
		"aws:PrincipalAccount": {s.cfg.AccountID},
		"aws:PrincipalType":    {principal.AssumedRole},
	}
	for _, t := range r.Tags {
		keys["aws:PrincipalTag/"+t.Key] = []string{t.Value}
	}
	return pm, keys, nil
}
