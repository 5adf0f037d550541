package iam

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// The account alias: a name that stands for the 12-digit account id at console sign-in.
// An account has at most one; creating another replaces it, as AWS documents.

const aliasPattern = `^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`

// accountAlias reads and checks the AccountAlias member against the model's constraints
// (3 to 63 of a-z, 0-9 and single hyphens, not at either end).
func accountAlias(p awsquery.Params) (string, error) {
	v := p.String("AccountAlias")
	switch {
	case v == "":
		return "", validationError("accountAlias", "", "Member must not be null")
	case len(v) < 3:
		return "", validationError("accountAlias", v, "Member must have length greater than or equal to 3")
	case len(v) > 63:
		return "", validationError("accountAlias", v, "Member must have length less than or equal to 63")
	case !validAlias(v):
		return "", validationError("accountAlias", v, "Member must satisfy regular expression pattern: "+aliasPattern)
	}
	return v, nil
}

// validAlias is aliasPattern, which Go's regexp cannot say (no lookahead).
func validAlias(v string) bool {
	if v[0] == '-' || v[len(v)-1] == '-' || strings.Contains(v, "--") {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// isAccountID reports whether v looks like an account id: the console's account field
// takes either, so an alias may not look like one.
func isAccountID(v string) bool {
	if len(v) != 12 {
		return false
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (s *Service) createAccountAlias(ctx context.Context, p awsquery.Params) (any, error) {
	alias, err := accountAlias(p)
	if err != nil {
		return nil, err
	}
	if isAccountID(alias) {
		return nil, invalidInput("An account alias cannot be a 12-digit number: it would read as an account ID at sign-in.")
	}
	old, err := s.AccountAlias(ctx)
	if err != nil || old == alias {
		return nil, err
	}
	if err := s.store.SetAccountAlias(ctx, alias); err != nil {
		return nil, err
	}
	s.log.Info("iam account alias set", "alias", alias, "replaced", old)
	return nil, nil
}

func (s *Service) listAccountAliases(ctx context.Context, p awsquery.Params) (any, error) {
	pg, err := paging(p)
	if err != nil {
		return nil, err
	}
	alias, err := s.AccountAlias(ctx)
	if err != nil {
		return nil, err
	}
	var all []string
	if alias != "" {
		all = append(all, alias)
	}
	items, next, more := paginate(all, func(a string) string { return a }, pg)
	return listAccountAliasesResult{AccountAliases: members[string]{Items: items}, IsTruncated: more, Marker: next}, nil
}

func (s *Service) deleteAccountAlias(ctx context.Context, p awsquery.Params) (any, error) {
	alias, err := accountAlias(p)
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteAccountAlias(ctx, alias)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchEntity("The account alias %s cannot be found.", alias)
	}
	if err == nil {
		s.log.Info("iam account alias deleted", "alias", alias)
	}
	return nil, err
}

// AccountAlias returns the account alias, "" if none. The console shows it and accepts it in
// place of the account id at sign-in.
func (s *Service) AccountAlias(ctx context.Context) (string, error) {
	a, err := s.store.AccountAlias(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("iam: account alias: %w", err)
	}
	return a, nil
}

// isThisAccount reports whether a sign-in's account field names this account: its id, or
// its alias in any case (aliases are lower case; people type them otherwise).
func (s *Service) isThisAccount(ctx context.Context, account string) (bool, error) {
	account = strings.TrimSpace(account)
	if account == s.cfg.AccountID {
		return true, nil
	}
	alias, err := s.AccountAlias(ctx)
	return err == nil && alias != "" && strings.EqualFold(account, alias), err
}
