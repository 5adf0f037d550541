package iam

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/store"
)

// Roles, as IAM's defaults have them.
const (
	defaultMaxSessionDuration = 3600
	minMaxSessionDuration     = 3600
	maxMaxSessionDuration     = 43200
	// maxTrustPolicySize is the quota on a role's trust policy (non-white-space characters).
	maxTrustPolicySize = 2048
)

var roleDescriptionPattern = regexp.MustCompile(`^[\x{09}\x{0A}\x{0D}\x{20}-\x{7E}\x{A1}-\x{FF}]*$`)

type xmlRole struct {
	Path                     string           `xml:"Path"`
	RoleName                 string           `xml:"RoleName"`
	RoleID                   string           `xml:"RoleId"`
	Arn                      string           `xml:"Arn"`
	CreateDate               time.Time        `xml:"CreateDate"`
	AssumeRolePolicyDocument string           `xml:"AssumeRolePolicyDocument"` // URL-encoded
	Description              string           `xml:"Description,omitempty"`
	MaxSessionDuration       int              `xml:"MaxSessionDuration"`
	PermissionsBoundary      *xmlBoundary     `xml:"PermissionsBoundary"` // nil in ListRoles, as on AWS
	Tags                     *members[xmlTag] `xml:"Tags"`
}

type roleResult struct {
	Role xmlRole `xml:"Role"`
}

type listRolesResult struct {
	Roles       members[xmlRole] `xml:"Roles"`
	IsTruncated bool             `xml:"IsTruncated"`
	Marker      string           `xml:"Marker,omitempty"`
}

type getRolePolicyResult struct {
	RoleName       string `xml:"RoleName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"` // URL-encoded, as IAM sends it
}

func (s *Service) roleARN(r store.IAMRole) string {
	return "arn:aws:iam::" + s.cfg.AccountID + ":role" + r.Path + r.Name
}

func (s *Service) toRole(r store.IAMRole, withTags bool) xmlRole {
	x := xmlRole{Path: r.Path, RoleName: r.Name, RoleID: r.RoleID, Arn: s.roleARN(r), CreateDate: r.CreatedAt,
		AssumeRolePolicyDocument: urlEncode(r.TrustPolicy), Description: r.Description, MaxSessionDuration: r.MaxSessionDuration}
	if withTags {
		x.Tags = tagMembers(r.Tags)
		x.PermissionsBoundary = toBoundary(r.PermissionsBoundary)
	}
	return x
}

func roleKey(r store.IAMRole) string { return strings.ToLower(r.Name) }

// lookupRole returns the named role or NoSuchEntity.
func (s *Service) lookupRole(ctx context.Context, roleName string) (store.IAMRole, error) {
	r, err := s.store.IAMRole(ctx, roleName)
	if errors.Is(err, store.ErrNotFound) {
		return r, roleKind.notFound(roleName)
	}
	return r, err
}

// trustPolicy reads and checks a trust policy member: its form, its size, and that every
// user and role of this account it names exists; it returns the ids of those (see
// store.IAMRole.TrustIDs).
func (s *Service) trustPolicy(ctx context.Context, p awsquery.Params, member string) (string, map[string]string, error) {
	field := lowerFirst(member)
	doc := p.String(member)
	switch {
	case doc == "":
		return "", nil, validationError(field, "", "Member must not be null")
	case len(doc) > 131072:
		return "", nil, validationError(field, doc, "Member must have length less than or equal to 131072")
	case !documentPattern.MatchString(doc):
		return "", nil, validationError(field, doc, `Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+`)
	}
	if policy.Size(doc) > maxTrustPolicySize {
		return "", nil, limitExceeded("Cannot exceed quota for ACLSizePerRole: %d", maxTrustPolicySize)
	}
	tp, err := policy.ParseTrust(doc)
	if err != nil {
		return "", nil, policyError(err)
	}
	ids := map[string]string{}
	for _, v := range tp.AWSPrincipals() {
		id, ok, err := s.entityID(ctx, v)
		if err != nil {
			return "", nil, err
		}
		if !ok {
			return "", nil, malformedPolicy(policy.InvalidPrincipal(policy.PrincipalAWS, v).Reason)
		}
		if id != "" {
			ids[v] = id
		}
	}
	return doc, ids, nil
}

// entityID finds the user or role a principal ARN of this account names: its id, or "" for
// a principal that is not one (an account, "*", a session, another account's entity).
// ok is false for a user or role of this account that does not exist.
func (s *Service) entityID(ctx context.Context, arn string) (id string, ok bool, err error) {
	rest, found := strings.CutPrefix(arn, s.accountARN())
	if !found {
		return "", true, nil
	}
	kind, pathName, _ := strings.Cut(rest, "/")
	i := strings.LastIndex(pathName, "/")
	path, name := "/"+pathName[:i+1], pathName[i+1:]
	switch kind {
	case "user":
		u, err := s.store.IAMUser(ctx, name)
		if errors.Is(err, store.ErrNotFound) || err == nil && (u.Path != path || u.Name != name) {
			return "", false, nil
		}
		return u.UserID, err == nil, err
	case "role":
		r, err := s.store.IAMRole(ctx, name)
		if errors.Is(err, store.ErrNotFound) || err == nil && (r.Path != path || r.Name != name) {
			return "", false, nil
		}
		return r.RoleID, err == nil, err
	}
	return "", true, nil
}

func roleDescription(p awsquery.Params) (string, error) {
	d := p.String("Description")
	if utf8.RuneCountInString(d) > 1000 {
		return "", validationError("description", d, "Member must have length less than or equal to 1000")
	}
	if !roleDescriptionPattern.MatchString(d) {
		return "", validationError("description", d, `Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*`)
	}
	return d, nil
}

// maxSessionDuration reads MaxSessionDuration; ok is false when absent.
func maxSessionDuration(p awsquery.Params) (int, bool, error) {
	n, ok, err := p.Int("MaxSessionDuration")
	if err != nil || !ok {
		return 0, ok, err
	}
	switch {
	case n < minMaxSessionDuration:
		return 0, false, validationError("maxSessionDuration", p.String("MaxSessionDuration"), fmt.Sprintf("Member must have value greater than or equal to %d", minMaxSessionDuration))
	case n > maxMaxSessionDuration:
		return 0, false, validationError("maxSessionDuration", p.String("MaxSessionDuration"), fmt.Sprintf("Member must have value less than or equal to %d", maxMaxSessionDuration))
	}
	return n, true, nil
}

func (s *Service) createRole(ctx context.Context, p awsquery.Params) (any, error) {
	roleName, err := nameParam(p, "RoleName", 64)
	if err != nil {
		return nil, err
	}
	path, err := entityPath(p)
	if err != nil {
		return nil, err
	}
	desc, err := roleDescription(p)
	if err != nil {
		return nil, err
	}
	maxDur, ok, err := maxSessionDuration(p)
	if err != nil {
		return nil, err
	}
	if !ok {
		maxDur = defaultMaxSessionDuration
	}
	ts, err := tags(p)
	if err != nil {
		return nil, err
	}
	doc, ids, err := s.trustPolicy(ctx, p, "AssumeRolePolicyDocument")
	if err != nil {
		return nil, err
	}
	r := store.IAMRole{RoleID: newID("AROA"), Name: roleName, Path: path, Description: desc, TrustPolicy: doc, TrustIDs: ids,
		MaxSessionDuration: maxDur, Tags: ts, CreatedAt: s.now()}
	var local bool
	if r.PermissionsBoundary, local, err = s.optionalBoundary(ctx, p); err != nil {
		return nil, err
	}
	if err := createBoundedError(roleKind, roleName, r.PermissionsBoundary, s.store.CreateIAMRoleBounded(ctx, r, local)); err != nil {
		return nil, err
	}
	s.log.Info("iam role created", "role", roleName, "role_id", r.RoleID)
	return roleResult{Role: s.toRole(r, true)}, nil
}

func (s *Service) getRole(ctx context.Context, p awsquery.Params) (any, error) {
	roleName, err := nameParam(p, "RoleName", 64)
	if err != nil {
		return nil, err
	}
	r, err := s.lookupRole(ctx, roleName)
	if err != nil {
		return nil, err
	}
	return roleResult{Role: s.toRole(r, true)}, nil
}

func (s *Service) listRoles(ctx context.Context, p awsquery.Params) (any, error) {
	roles, pg, err := underPathPrefix(ctx, p, s.store.IAMRoles, func(r store.IAMRole) string { return r.Path })
	if err != nil {
		return nil, err
	}
	items, next, more := paginate(roles, roleKey, pg)
	res := listRolesResult{IsTruncated: more, Marker: next}
	for _, r := range items {
		res.Roles.Items = append(res.Roles.Items, s.toRole(r, false))
	}
	return res, nil
}

// updateRoleFields changes a role, NoSuchEntity if it is gone.
func (s *Service) updateRoleFields(ctx context.Context, roleName string, fn func(*store.IAMRole) error) (store.IAMRole, error) {
	r, err := s.store.UpdateIAMRole(ctx, roleName, fn)
	if errors.Is(err, store.ErrNotFound) {
		return r, roleKind.notFound(roleName)
	}
	return r, err
}

func (s *Service) updateRole(ctx context.Context, p awsquery.Params) (any, error) {
	roleName, err := nameParam(p, "RoleName", 64)
	if err != nil {
		return nil, err
	}
	desc, err := roleDescription(p)
	if err != nil {
		return nil, err
	}
	maxDur, hasMax, err := maxSessionDuration(p)
	if err != nil {
		return nil, err
	}
	_, err = s.updateRoleFields(ctx, roleName, func(r *store.IAMRole) error {
		if p.Has("Description") {
			r.Description = desc
		}
		if hasMax {
			r.MaxSessionDuration = maxDur
		}
		return nil
	})
	return nil, err
}

func (s *Service) updateRoleDescription(ctx context.Context, p awsquery.Params) (any, error) {
	roleName, err := nameParam(p, "RoleName", 64)
	if err != nil {
		return nil, err
	}
	if !p.Has("Description") {
		return nil, validationError("description", "", "Member must not be null")
	}
	desc, err := roleDescription(p)
	if err != nil {
		return nil, err
	}
	r, err := s.updateRoleFields(ctx, roleName, func(r *store.IAMRole) error {
		r.Description = desc
		return nil
	})
	if err != nil {
		return nil, err
	}
	return roleResult{Role: s.toRole(r, true)}, nil
}

func (s *Service) updateAssumeRolePolicy(ctx context.Context, p awsquery.Params) (any, error) {
	roleName, err := nameParam(p, "RoleName", 64)
	if err != nil {
		return nil, err
	}
	doc, ids, err := s.trustPolicy(ctx, p, "PolicyDocument")
	if err != nil {
		return nil, err
	}
	_, err = s.updateRoleFields(ctx, roleName, func(r *store.IAMRole) error {
		r.TrustPolicy, r.TrustIDs = doc, ids
		return nil
	})
	if err == nil {
		s.log.Info("iam role trust policy changed", "role", roleName)
	}
	return nil, err
}

func (s *Service) deleteRole(ctx context.Context, p awsquery.Params) (any, error) {
	roleName, err := nameParam(p, "RoleName", 64)
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteIAMRole(ctx, roleName, func(_ store.IAMRole, d store.RoleDependents) error {
		switch {
		case d.InlinePolicies > 0:
			return deleteConflict("Cannot delete entity, must delete policies first.")
		case d.AttachedPolicies > 0:
			return deleteConflict("Cannot delete entity, must detach all policies first.")
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, roleKind.notFound(roleName)
	}
	if err == nil {
		s.log.Info("iam role deleted", "role", roleName)
	}
	return nil, err
}

// --- what each role action touches

func onRole(s *Service, ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	n := p.String("RoleName")
	r, err := s.store.IAMRole(ctx, n)
	if err != nil {
		return []authz.Resource{authz.On(s.accountARN() + "role/" + n)}
	}
	res := authz.On(s.roleARN(r))
	res.Keys = resourceTags(r.Tags)
	return []authz.Resource{res}
}

func onNewRole(s *Service, _ context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On(s.roleARN(store.IAMRole{Path: pathOrRoot(p), Name: p.String("RoleName")}))}
}
