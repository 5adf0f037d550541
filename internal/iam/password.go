package iam

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// The rules of the account password policy that depend on a user's password history:
// expiry (MaxPasswordAge, HardExpiry) and reuse (PasswordReusePrevention).

// matches reports whether pw is the password h was derived from, in constant time for a
// given work factor. An unusable hash matches nothing.
func matches(h store.PasswordHash, pw string) (bool, error) {
	if h.Algorithm != hashAlgorithm || h.Iterations <= 0 || len(h.Hash) == 0 {
		return false, nil
	}
	got, err := pbkdf2.Key(sha256.New, pw, h.Salt, h.Iterations, len(h.Hash))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, h.Hash) == 1, nil
}

// checkReuse refuses a new password that is one of the last n passwords of lp (IAM counts
// the current password as the first of them). Each comparison costs one PBKDF2 run: with
// n up to 24 a change can take seconds, which is the price of keeping only slow hashes.
func checkReuse(lp store.LoginProfile, n int, pw string) error {
	if n <= 0 {
		return nil
	}
	hashes := append([]store.PasswordHash{lp.Current()}, lp.Previous...)
	for _, h := range hashes[:min(n, len(hashes))] {
		same, err := matches(h, pw)
		if err != nil {
			return err
		}
		if same {
			return passwordPolicyViolation("Password should not be one of your last %d passwords", n)
		}
	}
	return nil
}

// newHash derives the hash of a new password. The password never leaves this function.
func (s *Service) newHash(pw string) (store.PasswordHash, error) {
	salt, hash, iter, err := s.hashPassword(pw)
	return store.PasswordHash{Algorithm: hashAlgorithm, Iterations: iter, Salt: salt, Hash: hash}, err
}

// setPassword makes h lp's password, set now, keeping as many earlier hashes as a reuse
// rule of n passwords needs (none without one: a hash not needed is not stored).
func setPassword(lp *store.LoginProfile, h store.PasswordHash, n int, now time.Time) {
	var previous []store.PasswordHash
	if n > 1 {
		previous = append([]store.PasswordHash{lp.Current()}, lp.Previous...)
		previous = previous[:min(n-1, len(previous))]
	}
	lp.Algorithm, lp.Iterations, lp.Salt, lp.Hash = h.Algorithm, h.Iterations, h.Salt, h.Hash
	lp.Previous = previous
	lp.PasswordSetAt = now
}

// expired reports whether lp's password is older than the policy's MaxPasswordAge.
func expired(pp store.PasswordPolicy, hasPolicy bool, lp store.LoginProfile, now time.Time) bool {
	return hasPolicy && pp.MaxPasswordAge > 0 && !now.Before(lp.SetAt().AddDate(0, 0, pp.MaxPasswordAge))
}

// errChangedMeanwhile refuses a password change whose profile changed between reading and
// writing it: the checks made against the old state no longer hold.
var errChangedMeanwhile = awsquery.Errorf(http.StatusConflict, "ConcurrentModification",
	"The login profile was changed by another request. Try again.")

// storePassword writes a new password hash into a user's profile unless the profile's
// password changed since before (read earlier, outside the transaction, because PBKDF2 is
// too slow to run while holding the store's one writer). edit makes the other changes.
func (s *Service) storePassword(ctx context.Context, userID string, before store.LoginProfile, h store.PasswordHash, n int, edit func(*store.LoginProfile)) error {
	_, err := s.store.UpdateLoginProfile(ctx, userID, func(lp *store.LoginProfile) error {
		if subtle.ConstantTimeCompare(lp.Hash, before.Hash) != 1 {
			return errChangedMeanwhile
		}
		setPassword(lp, h, n, s.now())
		if edit != nil {
			edit(lp)
		}
		return nil
	})
	return err
}

// verifyPassword checks an IAM user's console password. It takes the same time whether the
// user, its login profile or the password is wrong. ok is false for any mismatch; err is for
// store failures only.
func (s *Service) verifyPassword(ctx context.Context, userName, password string) (store.IAMUser, store.LoginProfile, bool, error) {
	u, err := s.store.IAMUser(ctx, userName)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return u, store.LoginProfile{}, false, err
	}
	var lp store.LoginProfile
	found := err == nil
	if found {
		lp, err = s.store.LoginProfile(ctx, u.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return u, lp, false, err
		}
		found = err == nil && lp.Algorithm == hashAlgorithm && lp.Iterations > 0 && len(lp.Hash) > 0
	}
	h := lp.Current()
	if !found {
		// Spend the work anyway, so that timing does not tell which users exist.
		h = store.PasswordHash{Algorithm: hashAlgorithm, Salt: make([]byte, saltBytes), Hash: make([]byte, hashBytes), Iterations: s.cfg.PasswordIterations}
	}
	match, err := matches(h, password)
	if err != nil {
		return u, lp, false, err
	}
	return u, lp, found && match, nil
}
