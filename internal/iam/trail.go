package iam

import (
	"context"
	"errors"

	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// UserPrincipal names an IAM user by name, for recording a failed console sign-in as the
// user it was aimed at; ok is false when there is no such user (the trail then hides the
// name typed, which may be a password typed in the wrong field).
func (s *Service) UserPrincipal(ctx context.Context, userName string) (principal.Principal, bool, error) {
	u, err := s.store.IAMUser(ctx, userName)
	if errors.Is(err, store.ErrNotFound) {
		return principal.Principal{}, false, nil
	}
	if err != nil {
		return principal.Principal{}, false, err
	}
	return s.userPrincipal(u), true, nil
}
