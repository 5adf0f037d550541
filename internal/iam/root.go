package iam

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"

	"crypto/pbkdf2"

	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// The root user's console password. On AWS the root user signs in with the account's
// email and password; Borealis has no email, so the first start makes a random password
// and hands it to the operator once (serve writes it to a 0600 file), keeping only a hash.

const rootPasswordKey = "root_console_password"

type rootPassword struct {
	Salt       []byte `json:"salt"`
	Hash       []byte `json:"hash"`
	Iterations int    `json:"iterations"`
}

// EnsureRootPassword makes the root console password on first start: give is called with
// it, to put it where the operator finds it, before its hash is stored. If the process
// dies between the two, the next start makes another and calls give again.
func (s *Service) EnsureRootPassword(ctx context.Context, give func(password string) error) error {
	if _, err := s.store.Meta(ctx, rootPasswordKey); err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	pw := rand.Text() // 26 base32 characters, 130 bits
	salt, hash, iterations, err := s.hashPassword(pw)
	if err != nil {
		return err
	}
	doc, err := json.Marshal(rootPassword{Salt: salt, Hash: hash, Iterations: iterations})
	if err != nil {
		return err
	}
	if err := give(pw); err != nil {
		return err
	}
	_, err = s.store.InitMeta(ctx, rootPasswordKey, string(doc))
	return err
}

// RootSignIn checks the root user's console password; account is the account id or
// alias. Like ConsoleSignIn it says nothing about which part was wrong.
func (s *Service) RootSignIn(ctx context.Context, account, password string) (principal.Principal, bool, error) {
	thisAccount, err := s.isThisAccount(ctx, account)
	if err != nil {
		return principal.Principal{}, false, err
	}
	raw, err := s.store.Meta(ctx, rootPasswordKey)
	var rp rootPassword
	if err == nil {
		err = json.Unmarshal([]byte(raw), &rp)
	} else if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	if err != nil {
		return principal.Principal{}, false, err
	}
	if rp.Iterations == 0 { // none yet: spend the same work anyway
		rp = rootPassword{Salt: make([]byte, saltBytes), Hash: make([]byte, hashBytes), Iterations: s.cfg.PasswordIterations}
	}
	got, err := pbkdf2.Key(sha256.New, password, rp.Salt, rp.Iterations, len(rp.Hash))
	if err != nil {
		return principal.Principal{}, false, err
	}
	if subtle.ConstantTimeCompare(got, rp.Hash) != 1 || !thisAccount || len(raw) == 0 {
		s.log.Info("iam root console sign-in refused")
		return principal.Principal{}, false, nil
	}
	s.log.Info("iam root console password accepted")
	return s.RootPrincipal(""), true, nil
}
