package iam

import (
	"context"
	"errors"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// Tags of users and roles: TagUser, UntagUser, ListUserTags and their role forms. Tag keys
// are case-insensitive.

func (s *Service) tagEntity(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	name, err := kind.nameParam(p)
	if err != nil {
		return nil, err
	}
	add, err := tags(p)
	if err != nil {
		return nil, err
	}
	if len(add) == 0 {
		return nil, validationError("tags", "", "Member must not be null")
	}
	return nil, s.updateTags(ctx, kind, name, func(ts []store.Tag) ([]store.Tag, error) {
		// A new value replaces the old key's.
		for _, t := range add {
			ts = append(removeTag(ts, t.Key), t)
		}
		if len(ts) > maxTagsPerEntity {
			return nil, limitExceeded("The number of tags has reached the maximum limit.")
		}
		return ts, nil
	})
}

func (s *Service) untagEntity(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	name, err := kind.nameParam(p)
	if err != nil {
		return nil, err
	}
	keys := p.List("TagKeys", "member")
	if len(keys) == 0 {
		return nil, validationError("tagKeys", "", "Member must not be null")
	}
	return nil, s.updateTags(ctx, kind, name, func(ts []store.Tag) ([]store.Tag, error) {
		for _, k := range keys {
			ts = removeTag(ts, k)
		}
		return ts, nil
	})
}

func (s *Service) listEntityTags(ctx context.Context, kind entityKind, p awsquery.Params) (any, error) {
	name, err := kind.nameParam(p)
	if err != nil {
		return nil, err
	}
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	e, err := s.lookupEntity(ctx, kind, name)
	if err != nil {
		return nil, err
	}
	return tagPage(e.tags, pg), nil
}

// updateTags changes the tags of the named user or role in one transaction; NoSuchEntity if
// it is gone.
func (s *Service) updateTags(ctx context.Context, kind entityKind, name string, fn func([]store.Tag) ([]store.Tag, error)) error {
	var err error
	if kind == roleKind {
		_, err = s.store.UpdateIAMRole(ctx, name, func(r *store.IAMRole) (err error) {
			r.Tags, err = fn(r.Tags)
			return err
		})
	} else {
		_, err = s.store.UpdateIAMUser(ctx, name, func(u *store.IAMUser) (err error) {
			u.Tags, err = fn(u.Tags)
			return err
		})
	}
	if errors.Is(err, store.ErrNotFound) {
		return kind.notFound(name)
	}
	return err
}

func removeTag(ts []store.Tag, key string) []store.Tag {
	out := ts[:0:0]
	for _, t := range ts {
		if !strings.EqualFold(t.Key, key) {
			out = append(out, t)
		}
	}
	return out
}

// tagPage is one page of a user's or role's tags: they keep their order of creation.
func tagPage(tags []store.Tag, pg page) listTagsResult {
	items, next, more := paginateInOrder(tags, pg)
	r := listTagsResult{IsTruncated: more, Marker: next, Tags: members[xmlTag]{Items: []xmlTag{}}}
	for _, t := range items {
		r.Tags.Items = append(r.Tags.Items, xmlTag{Key: t.Key, Value: t.Value})
	}
	return r
}

// tagMembers shows tags as a Tags member, or nil (no element) when there are none.
func tagMembers(ts []store.Tag) *members[xmlTag] {
	if len(ts) == 0 {
		return nil
	}
	out := make([]xmlTag, len(ts))
	for i, t := range ts {
		out[i] = xmlTag{Key: t.Key, Value: t.Value}
	}
	return &members[xmlTag]{Items: out}
}
