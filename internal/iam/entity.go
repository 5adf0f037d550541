package iam

import (
	"context"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/store"
)

// entityKind says which entity an action shared by users, groups and roles is about
// (PutUserPolicy, PutGroupPolicy, PutRolePolicy, ...).
type entityKind int

const (
	userKind entityKind = iota
	groupKind
	roleKind
)

func (k entityKind) String() string {
	switch k {
	case groupKind:
		return policy.EntityGroup
	case roleKind:
		return policy.EntityRole
	}
	return policy.EntityUser
}

// member is the request member that names an entity of the kind.
func (k entityKind) member() string {
	switch k {
	case groupKind:
		return "GroupName"
	case roleKind:
		return "RoleName"
	}
	return "UserName"
}

// nameParam reads the member naming an existing entity of the kind (botocore's
// existingUserNameType and groupNameType: 128 characters; roleNameType: 64).
func (k entityKind) nameParam(p awsquery.Params) (string, error) {
	if k == roleKind {
		return nameParam(p, k.member(), 64)
	}
	return nameParam(p, k.member(), 128)
}

// notFound is NoSuchEntity for a user, group or role that does not exist.
func (k entityKind) notFound(name string) error {
	return noSuchEntity("The %s with name %s cannot be found.", k, name)
}

// exists is EntityAlreadyExists for a name a user, group or role has already.
func (k entityKind) exists(name string) error {
	kind := k.String()
	return alreadyExists("%s with name %s already exists.", strings.ToUpper(kind[:1])+kind[1:], name)
}

// entity is what the actions shared by the kinds need of a user, group or role.
type entity struct {
	id, name string
	tags     []store.Tag // users and roles
	boundary string      // users and roles: the permissions boundary's ARN, or ""
}

// lookupEntity returns the named user, group or role, or NoSuchEntity.
func (s *Service) lookupEntity(ctx context.Context, kind entityKind, name string) (entity, error) {
	switch kind {
	case groupKind:
		g, err := s.lookupGroup(ctx, name)
		return entity{id: g.GroupID, name: g.Name}, err
	case roleKind:
		r, err := s.lookupRole(ctx, name)
		return entity{id: r.RoleID, name: r.Name, tags: r.Tags, boundary: r.PermissionsBoundary}, err
	}
	u, err := s.lookupUser(ctx, name)
	return entity{id: u.UserID, name: u.Name, tags: u.Tags, boundary: u.PermissionsBoundary}, err
}

// owner reads UserName, GroupName or RoleName and finds the entity: its id and name.
func (s *Service) owner(ctx context.Context, kind entityKind, p awsquery.Params) (id, entityName string, err error) {
	n, err := kind.nameParam(p)
	if err != nil {
		return "", "", err
	}
	e, err := s.lookupEntity(ctx, kind, n)
	return e.id, e.name, err
}
