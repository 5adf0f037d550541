package iam

import (
	"context"
	"errors"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

func (s *Service) toUser(u store.IAMUser, detail bool) xmlUser {
	x := xmlUser{Path: u.Path, UserName: u.Name, UserID: u.UserID, Arn: s.userARN(u), CreateDate: u.CreatedAt}
	if detail {
		x.Tags = tagMembers(u.Tags)
		x.PermissionsBoundary = toBoundary(u.PermissionsBoundary)
	}
	return x
}

func (s *Service) toGroup(g store.IAMGroup) xmlGroup {
	return xmlGroup{Path: g.Path, GroupName: g.Name, GroupID: g.GroupID, Arn: s.groupARN(g), CreateDate: g.CreatedAt}
}

func userKey(u store.IAMUser) string   { return strings.ToLower(u.Name) }
func groupKey(g store.IAMGroup) string { return strings.ToLower(g.Name) }

func (s *Service) createUser(ctx context.Context, p awsquery.Params) (any, error) {
	userName, err := nameParam(p, "UserName", 64)
	if err != nil {
		return nil, err
	}
	path, err := entityPath(p)
	if err != nil {
		return nil, err
	}
	ts, err := tags(p)
	if err != nil {
		return nil, err
	}
	u := store.IAMUser{UserID: newID("AIDA"), Name: userName, Path: path, Tags: ts, CreatedAt: s.now()}
	var local bool
	if u.PermissionsBoundary, local, err = s.optionalBoundary(ctx, p); err != nil {
		return nil, err
	}
	if err := createBoundedError(userKind, userName, u.PermissionsBoundary, s.store.CreateIAMUserBounded(ctx, u, local)); err != nil {
		return nil, err
	}
	s.log.Info("iam user created", "user", userName, "user_id", u.UserID)
	return userResult{User: s.toUser(u, true)}, nil
}

func (s *Service) getUser(ctx context.Context, p awsquery.Params) (any, error) {
	sb, err := s.subject(ctx, p)
	if err != nil {
		return nil, err
	}
	if sb.root {
		// AWS shows the root user without a name or path.
		return userResult{User: xmlUser{UserID: s.cfg.AccountID, Arn: s.rootARN(), CreateDate: s.cfg.AccountCreated.UTC()}}, nil
	}
	return userResult{User: s.toUser(sb.user, true)}, nil
}

func (s *Service) listUsers(ctx context.Context, p awsquery.Params) (any, error) {
	users, pg, err := underPathPrefix(ctx, p, s.store.IAMUsers, func(u store.IAMUser) string { return u.Path })
	if err != nil {
		return nil, err
	}
	items, next, more := paginate(users, userKey, pg)
	r := listUsersResult{IsTruncated: more, Marker: next}
	for _, u := range items {
		r.Users.Items = append(r.Users.Items, s.toUser(u, false))
	}
	return r, nil
}

func (s *Service) deleteUser(ctx context.Context, p awsquery.Params) (any, error) {
	userName, err := nameParam(p, "UserName", 128)
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteIAMUser(ctx, userName, func(_ store.IAMUser, d store.UserDependents) error {
		switch {
		case d.LoginProfile:
			return deleteConflict("Cannot delete entity, must delete login profile first.")
		case d.AccessKeys > 0:
			return deleteConflict("Cannot delete entity, must delete access keys first.")
		case d.MFADevices > 0:
			return deleteConflict("Cannot delete entity, must delete MFA device first.")
		case d.InlinePolicies > 0:
			return deleteConflict("Cannot delete entity, must delete policies first.")
		case d.AttachedPolicies > 0:
			return deleteConflict("Cannot delete entity, must detach all policies first.")
		case d.Groups > 0:
			return deleteConflict("Cannot delete entity, must remove user from all groups first.")
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, userKind.notFound(userName)
	}
	if err == nil {
		s.log.Info("iam user deleted", "user", userName)
	}
	return nil, err
}

// --- groups

func (s *Service) createGroup(ctx context.Context, p awsquery.Params) (any, error) {
	groupName, err := nameParam(p, "GroupName", 128)
	if err != nil {
		return nil, err
	}
	path, err := entityPath(p)
	if err != nil {
		return nil, err
	}
	g := store.IAMGroup{GroupID: newID("AGPA"), Name: groupName, Path: path, CreatedAt: s.now()}
	if err := s.store.CreateIAMGroup(ctx, g); errors.Is(err, store.ErrExists) {
		return nil, groupKind.exists(groupName)
	} else if err != nil {
		return nil, err
	}
	return groupResult{Group: s.toGroup(g)}, nil
}

func (s *Service) getGroup(ctx context.Context, p awsquery.Params) (any, error) {
	groupName, err := nameParam(p, "GroupName", 128)
	if err != nil {
		return nil, err
	}
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	g, err := s.lookupGroup(ctx, groupName)
	if err != nil {
		return nil, err
	}
	users, err := s.store.IAMGroupMembers(ctx, g.GroupID)
	if err != nil {
		return nil, err
	}
	items, next, more := paginate(users, userKey, pg)
	r := getGroupResult{Group: s.toGroup(g), IsTruncated: more, Marker: next}
	for _, u := range items {
		r.Users.Items = append(r.Users.Items, s.toUser(u, false))
	}
	return r, nil
}

func (s *Service) listGroups(ctx context.Context, p awsquery.Params) (any, error) {
	groups, pg, err := underPathPrefix(ctx, p, s.store.IAMGroups, func(g store.IAMGroup) string { return g.Path })
	if err != nil {
		return nil, err
	}
	return s.groupList(groups, pg), nil
}

func (s *Service) groupList(groups []store.IAMGroup, pg page) listGroupsResult {
	items, next, more := paginate(groups, groupKey, pg)
	r := listGroupsResult{IsTruncated: more, Marker: next}
	for _, g := range items {
		r.Groups.Items = append(r.Groups.Items, s.toGroup(g))
	}
	return r
}

func (s *Service) listGroupsForUser(ctx context.Context, p awsquery.Params) (any, error) {
	userName, err := nameParam(p, "UserName", 128)
	if err != nil {
		return nil, err
	}
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	u, err := s.lookupUser(ctx, userName)
	if err != nil {
		return nil, err
	}
	groups, err := s.store.IAMGroupsForUser(ctx, u.UserID)
	if err != nil {
		return nil, err
	}
	return s.groupList(groups, pg), nil
}

func (s *Service) deleteGroup(ctx context.Context, p awsquery.Params) (any, error) {
	groupName, err := nameParam(p, "GroupName", 128)
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteIAMGroup(ctx, groupName, func(_ store.IAMGroup, d store.GroupDependents) error {
		switch {
		case d.Members > 0:
			return deleteConflict("Cannot delete entity, must remove users from group first.")
		case d.InlinePolicies > 0:
			return deleteConflict("Cannot delete entity, must delete policies first.")
		case d.AttachedPolicies > 0:
			return deleteConflict("Cannot delete entity, must detach all policies first.")
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, groupKind.notFound(groupName)
	}
	return nil, err
}

// groupAndUser reads GroupName and UserName and finds both.
func (s *Service) groupAndUser(ctx context.Context, p awsquery.Params) (store.IAMGroup, store.IAMUser, error) {
	groupName, err := nameParam(p, "GroupName", 128)
	if err != nil {
		return store.IAMGroup{}, store.IAMUser{}, err
	}
	userName, err := nameParam(p, "UserName", 128)
	if err != nil {
		return store.IAMGroup{}, store.IAMUser{}, err
	}
	g, err := s.lookupGroup(ctx, groupName)
	if err != nil {
		return g, store.IAMUser{}, err
	}
	u, err := s.lookupUser(ctx, userName)
	return g, u, err
}

func (s *Service) addUserToGroup(ctx context.Context, p awsquery.Params) (any, error) {
	g, u, err := s.groupAndUser(ctx, p)
	if err != nil {
		return nil, err
	}
	err = s.store.AddIAMGroupMember(ctx, g.GroupID, u.UserID, func(n int) error {
		if n >= maxGroupsPerUser {
			return limitExceeded("Cannot exceed quota for GroupsPerUser: %d", maxGroupsPerUser)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) { // deleted meanwhile
		return nil, userKind.notFound(u.Name)
	}
	return nil, err
}

func (s *Service) removeUserFromGroup(ctx context.Context, p awsquery.Params) (any, error) {
	g, u, err := s.groupAndUser(ctx, p)
	if err != nil {
		return nil, err
	}
	err = s.store.RemoveIAMGroupMember(ctx, g.GroupID, u.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchEntity("User %s is not in group %s.", u.Name, g.Name)
	}
	return nil, err
}
