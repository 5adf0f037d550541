package iam

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

const (
	hashAlgorithm = "pbkdf2-sha256"
	saltBytes     = 16
	hashBytes     = 32
	// passwordSymbols are the characters RequireSymbols asks for (IAM's list).
	passwordSymbols = "!@#$%^&*()_+-=[]{}|'"
)

// hashPassword derives a new salted hash. The password never leaves this function.
func (s *Service) hashPassword(password string) (salt, hash []byte, iterations int, err error) {
	salt = make([]byte, saltBytes)
	if _, err := rand.Read(salt); err != nil {
		return nil, nil, 0, err
	}
	iterations = s.cfg.PasswordIterations
	hash, err = pbkdf2.Key(sha256.New, password, salt, iterations, hashBytes)
	return salt, hash, iterations, err
}

// password reads the Password member. The value is never echoed in an error.
func password(p awsquery.Params, required bool) (string, bool, error) {
	return passwordMember(p, "Password", required)
}

// passwordMember reads a password member (Password, OldPassword, NewPassword). The value is
// never echoed in an error.
func passwordMember(p awsquery.Params, member string, required bool) (string, bool, error) {
	field := lowerFirst(member)
	if !p.Has(member) {
		if required {
			return "", false, validationError(field, "", "Member must not be null")
		}
		return "", false, nil
	}
	v := p.String(member)
	bad := len(v) == 0 || len(v) > maxPasswordLengthBytes
	for _, r := range v {
		if !(r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xFF) {
			bad = true
		}
	}
	if bad {
		return "", false, awsquery.Errorf(400, "ValidationError",
			`1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length between 1 and 128 and satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+`, field)
	}
	return v, true, nil
}

// checkPasswordPolicy applies the account password policy, or AWS's default policy when
// the account has none: at least 8 characters and three of upper case, lower case, numbers
// and symbols.
func (s *Service) checkPasswordPolicy(ctx context.Context, pw string) error {
	pp, ok, err := s.passwordPolicy(ctx)
	if err != nil {
		return err
	}
	return checkPasswordRules(pp, ok, pw)
}

// passwordPolicy returns the account password policy; ok is false when the account has
// none, and AWS's default rules apply.
func (s *Service) passwordPolicy(ctx context.Context) (pp store.PasswordPolicy, ok bool, err error) {
	pp, err = s.store.IAMPasswordPolicy(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return store.PasswordPolicy{}, false, nil
	}
	return pp, err == nil, err
}

// checkPasswordRules applies the length and character class rules of pp (hasPolicy) or of
// AWS's default policy to a new password.
func checkPasswordRules(pp store.PasswordPolicy, hasPolicy bool, pw string) error {
	var upper, lower, digit, symbol, listed bool
	for _, r := range pw {
		switch {
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			symbol = true
			listed = listed || strings.ContainsRune(passwordSymbols, r)
		}
	}
	length := len([]rune(pw))
	if !hasPolicy {
		kinds := 0
		for _, b := range []bool{upper, lower, digit, symbol} {
			if b {
				kinds++
			}
		}
		var v []string
		if length < 8 {
			v = append(v, "Password should have a minimum length of 8")
		}
		if kinds < 3 {
			v = append(v, "Password should have at least three of the following: uppercase letters, lowercase letters, numbers, symbols")
		}
		if len(v) > 0 {
			return passwordPolicyViolation("%s", strings.Join(v, "; "))
		}
		return nil
	}
	var v []string
	if length < pp.MinimumPasswordLength {
		v = append(v, fmt.Sprintf("Password should have a minimum length of %d", pp.MinimumPasswordLength))
	}
	if pp.RequireLowercaseCharacters && !lower {
		v = append(v, "Password should have at least one lowercase letter")
	}
	if pp.RequireUppercaseCharacters && !upper {
		v = append(v, "Password should have at least one uppercase letter")
	}
	if pp.RequireNumbers && !digit {
		v = append(v, "Password should have at least one number")
	}
	if pp.RequireSymbols && !listed {
		v = append(v, "Password should have at least one symbol")
	}
	if len(v) > 0 {
		return passwordPolicyViolation("%s", strings.Join(v, "; "))
	}
	return nil
}

// loginSubject is subject for the login profile actions, which the root user has none of.
func (s *Service) loginSubject(ctx context.Context, p awsquery.Params) (store.IAMUser, error) {
	sb, err := s.subject(ctx, p)
	if err != nil {
		return store.IAMUser{}, err
	}
	if sb.root {
		return store.IAMUser{}, invalidInput("The root user has no login profile: give UserName.")
	}
	return sb.user, nil
}

// loginProfile returns the user's login profile, or NoSuchEntity.
func (s *Service) loginProfile(ctx context.Context, u store.IAMUser) (store.LoginProfile, error) {
	lp, err := s.store.LoginProfile(ctx, u.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return lp, noLoginProfile(u.Name)
	}
	return lp, err
}

func noLoginProfile(userName string) error {
	return noSuchEntity("Login Profile for User %s cannot be found.", userName)
}

func (s *Service) createLoginProfile(ctx context.Context, p awsquery.Params) (any, error) {
	if _, err := optionalName(p, "UserName", 64); err != nil {
		return nil, err
	}
	pw, _, err := password(p, true)
	if err != nil {
		return nil, err
	}
	reset, err := optionalBool(p, "PasswordResetRequired")
	if err != nil {
		return nil, err
	}
	u, err := s.loginSubject(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := s.checkPasswordPolicy(ctx, pw); err != nil {
		return nil, err
	}
	salt, hash, iter, err := s.hashPassword(pw)
	if err != nil {
		return nil, err
	}
	lp := store.LoginProfile{UserID: u.UserID, Algorithm: hashAlgorithm, Iterations: iter, Salt: salt, Hash: hash, ResetRequired: reset, CreatedAt: s.now(), PasswordSetAt: s.now()}
	switch err := s.store.CreateLoginProfile(ctx, lp); {
	case errors.Is(err, store.ErrExists):
		return nil, alreadyExists("Login Profile for user %s already exists.", u.Name)
	case errors.Is(err, store.ErrNotFound):
		return nil, userKind.notFound(u.Name)
	case err != nil:
		return nil, err
	}
	s.log.Info("iam login profile created", "user", u.Name)
	return loginProfileResult{LoginProfile: xmlLoginProfile{UserName: u.Name, CreateDate: lp.CreatedAt, PasswordResetRequired: reset}}, nil
}

func (s *Service) getLoginProfile(ctx context.Context, p awsquery.Params) (any, error) {
	if _, err := optionalName(p, "UserName", 64); err != nil {
		return nil, err
	}
	u, err := s.loginSubject(ctx, p)
	if err != nil {
		return nil, err
	}
	lp, err := s.loginProfile(ctx, u)
	if err != nil {
		return nil, err
	}
	return loginProfileResult{LoginProfile: xmlLoginProfile{UserName: u.Name, CreateDate: lp.CreatedAt, PasswordResetRequired: lp.ResetRequired}}, nil
}

// updateLoginProfile is an administrator's change: a new password follows the password
// policy (its reuse rule too) and restarts the password's age; PasswordResetRequired is
// changed only when given.
func (s *Service) updateLoginProfile(ctx context.Context, p awsquery.Params) (any, error) {
	userName, err := nameParam(p, "UserName", 64)
	if err != nil {
		return nil, err
	}
	pw, hasPW, err := password(p, false)
	if err != nil {
		return nil, err
	}
	reset, hasReset, err := p.Bool("PasswordResetRequired")
	if err != nil {
		return nil, err
	}
	u, err := s.lookupUser(ctx, userName)
	if err != nil {
		return nil, err
	}
	lp, err := s.loginProfile(ctx, u)
	if err != nil {
		return nil, err
	}
	edit := func(lp *store.LoginProfile) {
		if hasReset {
			lp.ResetRequired = reset
		}
	}
	if !hasPW {
		_, err = s.store.UpdateLoginProfile(ctx, u.UserID, func(lp *store.LoginProfile) error { edit(lp); return nil })
	} else {
		err = s.replacePassword(ctx, u, lp, pw, edit)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, noLoginProfile(u.Name)
	}
	if err == nil && hasPW {
		s.log.Info("iam login profile password changed", "user", u.Name)
	}
	return nil, err
}

// replacePassword sets a new password on a profile read before, after the password policy's
// checks: length and character classes, then reuse.
func (s *Service) replacePassword(ctx context.Context, u store.IAMUser, before store.LoginProfile, pw string, edit func(*store.LoginProfile)) error {
	pp, hasPolicy, err := s.passwordPolicy(ctx)
	if err != nil {
		return err
	}
	if err := checkPasswordRules(pp, hasPolicy, pw); err != nil {
		return err
	}
	if err := checkReuse(before, pp.PasswordReusePrevention, pw); err != nil {
		return err
	}
	h, err := s.newHash(pw)
	if err != nil {
		return err
	}
	return s.storePassword(ctx, u.UserID, before, h, pp.PasswordReusePrevention, edit)
}

func (s *Service) deleteLoginProfile(ctx context.Context, p awsquery.Params) (any, error) {
	if _, err := optionalName(p, "UserName", 64); err != nil {
		return nil, err
	}
	u, err := s.loginSubject(ctx, p)
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteLoginProfile(ctx, u.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noLoginProfile(u.Name)
	}
	return nil, err
}

// CheckPassword checks an IAM user's console password. It takes the same time whether the
// user, its login profile or the password is wrong, and says nothing about which. ok is
// false for any mismatch; err is for store failures only. It knows nothing of expiry, resets
// or MFA: a console signs in with ConsoleSignIn.
func (s *Service) CheckPassword(ctx context.Context, userName, password string) (principal.Principal, bool, error) {
	u, _, ok, err := s.verifyPassword(ctx, userName, password)
	if err != nil || !ok {
		return principal.Principal{}, false, err
	}
	return s.userPrincipal(u), true, nil
}

// --- the account password policy

func (s *Service) getPasswordPolicy(ctx context.Context) (any, error) {
	pp, err := s.store.IAMPasswordPolicy(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchEntity("The Password Policy with domain name %s cannot be found.", s.cfg.AccountID)
	}
	if err != nil {
		return nil, err
	}
	return passwordPolicyResult{PasswordPolicy: xmlPasswordPolicy{
		MinimumPasswordLength:      pp.MinimumPasswordLength,
		RequireSymbols:             pp.RequireSymbols,
		RequireNumbers:             pp.RequireNumbers,
		RequireUppercaseCharacters: pp.RequireUppercaseCharacters,
		RequireLowercaseCharacters: pp.RequireLowercaseCharacters,
		AllowUsersToChangePassword: pp.AllowUsersToChangePassword,
		ExpirePasswords:            pp.MaxPasswordAge > 0,
		MaxPasswordAge:             pp.MaxPasswordAge,
		PasswordReusePrevention:    pp.PasswordReusePrevention,
		HardExpiry:                 pp.HardExpiry,
	}}, nil
}

// updatePasswordPolicy replaces the whole policy: members not given take their defaults, as
// IAM does.
func (s *Service) updatePasswordPolicy(ctx context.Context, p awsquery.Params) (any, error) {
	pp := store.PasswordPolicy{MinimumPasswordLength: 6}
	intIn := func(member string, lo, hi int, dst *int) error {
		n, ok, err := p.Int(member)
		if err != nil || !ok {
			return err
		}
		if n < lo || n > hi {
			return validationError(lowerFirst(member), p.String(member), fmt.Sprintf("Member must have value between %d and %d", lo, hi))
		}
		*dst = n
		return nil
	}
	if err := intIn("MinimumPasswordLength", 6, 128, &pp.MinimumPasswordLength); err != nil {
		return nil, err
	}
	if err := intIn("MaxPasswordAge", 1, 1095, &pp.MaxPasswordAge); err != nil {
		return nil, err
	}
	if err := intIn("PasswordReusePrevention", 1, 24, &pp.PasswordReusePrevention); err != nil {
		return nil, err
	}
	for _, b := range []struct {
		member string
		dst    *bool
	}{
		{"RequireSymbols", &pp.RequireSymbols},
		{"RequireNumbers", &pp.RequireNumbers},
		{"RequireUppercaseCharacters", &pp.RequireUppercaseCharacters},
		{"RequireLowercaseCharacters", &pp.RequireLowercaseCharacters},
		{"AllowUsersToChangePassword", &pp.AllowUsersToChangePassword},
		{"HardExpiry", &pp.HardExpiry},
	} {
		v, err := optionalBool(p, b.member)
		if err != nil {
			return nil, err
		}
		*b.dst = v
	}
	return nil, s.store.PutIAMPasswordPolicy(ctx, pp)
}

func (s *Service) deletePasswordPolicy(ctx context.Context) (any, error) {
	err := s.store.DeleteIAMPasswordPolicy(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchEntity("The account policy with name PasswordPolicy cannot be found.")
	}
	return nil, err
}
