package iam

import (
	"context"
	"errors"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// Access key statuses.
const (
	keyActive   = "Active"
	keyInactive = "Inactive"
)

func (s *Service) createAccessKey(ctx context.Context, p awsquery.Params) (any, error) {
	sb, err := s.subject(ctx, p)
	if err != nil {
		return nil, err
	}
	k := store.AccessKey{
		ID:        newAccessKeyID(),
		Secret:    newSecret(),
		Principal: sb.keyPrincipal(),
		Status:    keyActive,
		CreatedAt: s.now(),
	}
	err = s.store.CreateAccessKey(ctx, k, func(existing []store.AccessKey) error {
		if len(existing) >= maxAccessKeysPerUser {
			return limitExceeded("Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeysPerUser)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, userKind.notFound(sb.userName())
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("iam access key created", "user", sb.userName(), "root", sb.root, "access_key", k.ID)
	return createAccessKeyResult{AccessKey: xmlAccessKey{
		UserName: sb.userName(), AccessKeyID: k.ID, Status: k.Status, SecretAccessKey: k.Secret, CreateDate: k.CreatedAt,
	}}, nil
}

func (s *Service) listAccessKeys(ctx context.Context, p awsquery.Params) (any, error) {
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	sb, err := s.subject(ctx, p)
	if err != nil {
		return nil, err
	}
	keys, err := s.store.AccessKeysOf(ctx, sb.keyPrincipal())
	if err != nil {
		return nil, err
	}
	items, next, more := paginateInOrder(keys, pg)
	r := listAccessKeysResult{IsTruncated: more, Marker: next}
	for _, k := range items {
		r.AccessKeyMetadata.Items = append(r.AccessKeyMetadata.Items, xmlAccessKeyMetadata{
			UserName: sb.userName(), AccessKeyID: k.ID, Status: k.Status, CreateDate: k.CreatedAt,
		})
	}
	return r, nil
}

// ownKey returns the subject's access key named by AccessKeyId, or NoSuchEntity: a key of
// another user is as unknown as a key that does not exist.
func (s *Service) ownKey(ctx context.Context, p awsquery.Params) (subject, store.AccessKey, error) {
	id, err := required(p, "AccessKeyId")
	if err != nil {
		return subject{}, store.AccessKey{}, err
	}
	sb, err := s.subject(ctx, p)
	if err != nil {
		return sb, store.AccessKey{}, err
	}
	k, err := s.store.AccessKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && k.Principal != sb.keyPrincipal() {
		return sb, k, noSuchEntity("The Access Key with id %s cannot be found.", awsquery.Clip(id))
	}
	return sb, k, err
}

func (s *Service) updateAccessKey(ctx context.Context, p awsquery.Params) (any, error) {
	status := p.String("Status")
	switch status {
	case keyActive, keyInactive:
	case "Expired":
		return nil, invalidInput("An access key cannot be set to Expired.")
	default:
		return nil, validationError("status", status, "Member must satisfy enum value set: [Active, Inactive, Expired]")
	}
	sb, k, err := s.ownKey(ctx, p)
	if err != nil {
		return nil, err
	}
	_, err = s.store.UpdateAccessKey(ctx, k.ID, func(k *store.AccessKey) error {
		k.Status = status
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchEntity("The Access Key with id %s cannot be found.", k.ID)
	}
	if err == nil {
		s.log.Info("iam access key status changed", "user", sb.userName(), "root", sb.root, "access_key", k.ID, "status", status)
	}
	return nil, err
}

func (s *Service) deleteAccessKey(ctx context.Context, p awsquery.Params) (any, error) {
	sb, k, err := s.ownKey(ctx, p)
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteAccessKey(ctx, k.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchEntity("The Access Key with id %s cannot be found.", k.ID)
	}
	if err == nil {
		s.log.Info("iam access key deleted", "user", sb.userName(), "root", sb.root, "access_key", k.ID)
	}
	return nil, err
}

// Authenticate turns a verified access key into the caller: the root user or an IAM user
// with its tags or, with a session token, the session it names. An inactive, deleted or
// orphaned key is refused with InvalidClientTokenId, as AWS does; an expired session with
// ExpiredToken.
func (s *Service) Authenticate(ctx context.Context, accessKeyID, sessionToken string) (principal.Principal, error) {
	if sessionToken != "" {
		c, _, err := s.openSession(accessKeyID, sessionToken)
		if err != nil {
			return principal.Principal{}, err
		}
		return s.sessionPrincipal(ctx, accessKeyID, c)
	}
	k, err := s.store.AccessKey(ctx, accessKeyID)
	if errors.Is(err, store.ErrNotFound) || err == nil && k.Status != keyActive {
		return principal.Principal{}, invalidToken()
	}
	if err != nil {
		return principal.Principal{}, err
	}
	if k.Principal == "root" {
		return s.RootPrincipal(accessKeyID), nil
	}
	u, err := s.store.IAMUserByID(ctx, k.Principal)
	if errors.Is(err, store.ErrNotFound) {
		return principal.Principal{}, invalidToken()
	}
	if err != nil {
		return principal.Principal{}, err
	}
	p := s.userPrincipal(u)
	p.AccessKeyID = accessKeyID
	return p, nil
}

// RootPrincipal is the account's root user, signing with accessKeyID.
func (s *Service) RootPrincipal(accessKeyID string) principal.Principal {
	return principal.Principal{Type: principal.Root, AccountID: s.cfg.AccountID, ARN: s.rootARN(), UserID: s.cfg.AccountID, AccessKeyID: accessKeyID}
}

func (s *Service) userPrincipal(u store.IAMUser) principal.Principal {
	return principal.Principal{
		Type: principal.User, AccountID: s.cfg.AccountID, ARN: s.userARN(u),
		UserID: u.UserID, UserName: u.Name, Tags: tagMap(u.Tags),
	}
}

// LookupSecret is a sigv4.Lookup: the secret of an active access key whose owner exists.
func (s *Service) LookupSecret(ctx context.Context, accessKeyID string) (secret string, ok bool, err error) {
	k, err := s.store.AccessKey(ctx, accessKeyID)
	if errors.Is(err, store.ErrNotFound) || err == nil && k.Status != keyActive {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if k.Principal != "root" {
		if _, err := s.store.IAMUserByID(ctx, k.Principal); errors.Is(err, store.ErrNotFound) {
			return "", false, nil
		} else if err != nil {
			return "", false, err
		}
	}
	return k.Secret, true, nil
}
