package iam

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/principal"
	"github.com/borealis-db/borealis/internal/store"
)

// Console sign-in and password changes. The web console does not speak the IAM API for
// these: a user signing in has no access key yet. It calls ConsoleSignIn, then CheckMFA when
// asked, then ChangeOwnPassword when a reset is due, and each answers as IAM would.

// ConsoleLogin is the outcome of a console sign-in whose password was right. The console
// must not open a session while ResetRequired, HardExpired or MFARequired (until CheckMFA
// accepts a code) holds; after CheckMFA it sets Principal.MFA, which gives the session's
// requests aws:MultiFactorAuthPresent.
type ConsoleLogin struct {
	Principal     principal.Principal
	ResetRequired bool // PasswordResetRequired, or the password expired under the policy (and may be changed)
	HardExpired   bool // expired under HardExpiry: only an administrator can reset it
	MFARequired   bool // the user has an enabled MFA device: ask for a code
}

// ConsoleSignIn checks an IAM user's console password. account is the 12-digit account id
// or the account alias; a mismatch anywhere is ok=false with no hint of which part was
// wrong, in the same time (the password's hash is computed whatever else is wrong). err is
// for store failures only.
func (s *Service) ConsoleSignIn(ctx context.Context, account, userName, password string) (ConsoleLogin, bool, error) {
	thisAccount, err := s.isThisAccount(ctx, account)
	if err != nil {
		return ConsoleLogin{}, false, err
	}
	u, lp, ok, err := s.verifyPassword(ctx, userName, password)
	if err != nil {
		return ConsoleLogin{}, false, err
	}
	if !thisAccount || !ok {
		s.log.Info("iam console sign-in refused") // which part was wrong is not said, even here
		return ConsoleLogin{}, false, nil
	}
	login, err := s.loginState(ctx, u, lp)
	if err != nil {
		return ConsoleLogin{}, false, err
	}
	s.log.Info("iam console password accepted", "user", u.Name, "reset_required", login.ResetRequired,
		"hard_expired", login.HardExpired, "mfa_required", login.MFARequired)
	return login, true, nil
}

// ConsoleSession re-reads a console session's principal before each of its requests, so
// that it is decided as IAM is now: the user's tags as they are (aws:PrincipalTag), its
// name if renamed. ok is false when the session must end: the user was deleted (or
// replaced by a new one of the same name), or its console password was deleted, or set
// after verified (the session's last proof of the password). AWS keeps sessions when a
// login profile is deleted or a password reset; here removing console access, or resetting
// a password that may have leaked, ends the sessions it opened. The root user's sessions
// are kept as they are.
func (s *Service) ConsoleSession(ctx context.Context, p principal.Principal, verified time.Time) (principal.Principal, bool, error) {
	if p.Type != principal.User {
		return p, true, nil
	}
	u, err := s.store.IAMUserByID(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return principal.Principal{}, false, nil
	}
	if err != nil {
		return principal.Principal{}, false, err
	}
	lp, err := s.store.LoginProfile(ctx, u.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return principal.Principal{}, false, nil
	}
	if err != nil {
		return principal.Principal{}, false, err
	}
	if lp.CreatedAt.After(verified) || lp.PasswordSetAt.After(verified) {
		return principal.Principal{}, false, nil
	}
	fresh := s.userPrincipal(u)
	fresh.MFA = p.MFA
	return fresh, true, nil
}

// loginState is what a user whose password was right must still do before a session.
func (s *Service) loginState(ctx context.Context, u store.IAMUser, lp store.LoginProfile) (ConsoleLogin, error) {
	pp, hasPolicy, err := s.passwordPolicy(ctx)
	if err != nil {
		return ConsoleLogin{}, err
	}
	login := ConsoleLogin{Principal: s.userPrincipal(u)}
	if expired(pp, hasPolicy, lp, s.now()) && pp.HardExpiry {
		login.HardExpired = true
	} else {
		login.ResetRequired = lp.ResetRequired || expired(pp, hasPolicy, lp, s.now())
	}
	devices, err := s.store.MFADevicesOf(ctx, u.UserID)
	login.MFARequired = len(devices) > 0
	return login, err
}

// ChangeOwnPassword is ChangePassword for a signed-in user (also used when a reset is
// required); it returns the AWS error a real ChangePassword would, authorization included:
// the user needs iam:ChangePassword on itself, which AllowUsersToChangePassword in the
// password policy grants to every user.
func (s *Service) ChangeOwnPassword(ctx context.Context, userName, oldPassword, newPassword string) error {
	u, err := s.lookupUser(ctx, userName)
	if err != nil {
		return err
	}
	p := s.userPrincipal(u)
	arn := s.userARN(u)
	if err := s.Authorize(ctx, p, "iam:ChangePassword", []authz.Resource{authz.On(arn)}, p.ConditionKeys(s.cfg.Now())); err != nil {
		return err
	}
	return s.changePasswordOf(ctx, u, oldPassword, newPassword)
}

// changePassword is the ChangePassword action: the calling IAM user changes its own
// password, proving the old one.
func (s *Service) changePassword(ctx context.Context, p awsquery.Params) (any, error) {
	oldPW, _, err := passwordMember(p, "OldPassword", true)
	if err != nil {
		return nil, err
	}
	newPW, _, err := passwordMember(p, "NewPassword", true)
	if err != nil {
		return nil, err
	}
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if c.Type != principal.User {
		return nil, invalidUserType("Only IAM users can change their own password with ChangePassword; the root user's password is not an IAM password.")
	}
	u, err := s.store.IAMUserByID(ctx, c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, userKind.notFound(c.UserName)
	}
	if err != nil {
		return nil, err
	}
	return nil, s.changePasswordOf(ctx, u, oldPW, newPW)
}

// changePasswordOf checks the old password, then the policy (hard expiry, rules, reuse),
// and sets the new password, which clears PasswordResetRequired and restarts its age.
func (s *Service) changePasswordOf(ctx context.Context, u store.IAMUser, oldPW, newPW string) error {
	lp, err := s.loginProfile(ctx, u)
	if err != nil {
		return err
	}
	if ok, err := matches(lp.Current(), oldPW); err != nil || !ok {
		return errOr(err, accessDenied("The old password is incorrect."))
	}
	pp, hasPolicy, err := s.passwordPolicy(ctx)
	if err != nil {
		return err
	}
	if pp.HardExpiry && expired(pp, hasPolicy, lp, s.now()) {
		return accessDenied("The password has expired and the account password policy lets only an administrator reset it.")
	}
	err = s.replacePassword(ctx, u, lp, newPW, func(lp *store.LoginProfile) { lp.ResetRequired = false })
	if errors.Is(err, store.ErrNotFound) {
		return noLoginProfile(u.Name)
	}
	if err == nil {
		s.log.Info("iam user changed its password", "user", u.Name)
	}
	return err
}

func errOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func invalidUserType(format string, args ...any) error {
	return awsquery.Errorf(http.StatusBadRequest, "InvalidUserType", format, args...)
}

// passwordChangeGrant is what AllowUsersToChangePassword means, as AWS documents it: the
// same as attaching to every user a policy allowing iam:ChangePassword on itself and
// iam:GetAccountPasswordPolicy. Being a policy, an explicit deny still wins over it.
func (s *Service) passwordChangeGrant(ctx context.Context, p principal.Principal, action string) (*policy.Policy, error) {
	if p.Type != principal.User || action != "iam:ChangePassword" && action != "iam:GetAccountPasswordPolicy" {
		return nil, nil
	}
	pp, ok, err := s.passwordPolicy(ctx)
	if err != nil || !ok || !pp.AllowUsersToChangePassword {
		return nil, err
	}
	self, err := json.Marshal(p.ARN) // a path may hold any printable character
	if err != nil {
		return nil, err
	}
	return s.parsed.parse(`{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"AllowUsersToChangePassword","Effect":"Allow","Action":"iam:ChangePassword","Resource":` + string(self) + `},` +
		`{"Sid":"AllowUsersToReadPasswordPolicy","Effect":"Allow","Action":"iam:GetAccountPasswordPolicy","Resource":"*"}]}`)
}
