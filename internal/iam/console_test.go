package iam

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/store"
)

func TestAccountAlias(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if a, err := e.svc.AccountAlias(ctx); err != nil || a != "" {
		t.Fatalf("no alias: %q %v", a, err)
	}
	if got := e.do("ListAccountAliases").(listAccountAliasesResult); len(got.AccountAliases.Items) != 0 || got.IsTruncated {
		t.Fatalf("ListAccountAliases %+v", got)
	}
	for _, bad := range []struct{ alias, msg string }{
		{"", "Member must not be null"},
		{"ab", "greater than or equal to 3"},
		{strings.Repeat("a", 64), "less than or equal to 63"},
		{"-abc", "regular expression"}, {"abc-", "regular expression"}, {"a--b", "regular expression"},
		{"Upper", "regular expression"}, {"a_b", "regular expression"},
	} {
		e.fail("ValidationError", 400, bad.msg, "CreateAccountAlias", "AccountAlias", bad.alias)
	}
	e.fail("InvalidInput", 400, "12-digit", "CreateAccountAlias", "AccountAlias", "210987654321")
	e.do("CreateAccountAlias", "AccountAlias", "acme-prod")
	e.do("CreateAccountAlias", "AccountAlias", "acme-prod") // the same again: nothing changes
	// One alias per account: a new one replaces the old.
	e.do("CreateAccountAlias", "AccountAlias", "acme-2")
	if got := e.do("ListAccountAliases").(listAccountAliasesResult); len(got.AccountAliases.Items) != 1 || got.AccountAliases.Items[0] != "acme-2" {
		t.Fatalf("ListAccountAliases %+v", got)
	}
	if a, _ := e.svc.AccountAlias(ctx); a != "acme-2" {
		t.Fatalf("AccountAlias %q", a)
	}
	e.fail("NoSuchEntity", 404, "The account alias acme-prod cannot be found.", "DeleteAccountAlias", "AccountAlias", "acme-prod")
	e.do("DeleteAccountAlias", "AccountAlias", "acme-2")
	e.fail("NoSuchEntity", 404, "", "DeleteAccountAlias", "AccountAlias", "acme-2")
	if a, _ := e.svc.AccountAlias(ctx); a != "" {
		t.Fatalf("after delete %q", a)
	}
}

// signIn is ConsoleSignIn that fails the test on a store error.
func (e *env) signIn(account, user, pw string) (ConsoleLogin, bool) {
	e.t.Helper()
	l, ok, err := e.svc.ConsoleSignIn(context.Background(), account, user, pw)
	if err != nil {
		e.t.Fatal(err)
	}
	return l, ok
}

// at moves the service's clock.
func (e *env) at(t time.Time) { e.svc.cfg.Now = func() time.Time { return t } }

func TestConsoleSignIn(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "Path", "/eng/", "Tags.member.1.Key", "team", "Tags.member.1.Value", "db")
	e.user("bob")
	const pw = "Tr0ub4dor&3"
	e.do("CreateLoginProfile", "UserName", "alice", "Password", pw)
	e.do("CreateAccountAlias", "AccountAlias", "acme")

	for _, account := range []string{testAccount, "acme", "ACME", " acme "} {
		l, ok := e.signIn(account, "alice", pw)
		if !ok || l.Principal.ARN != "arn:aws:iam::123456789012:user/eng/alice" || l.Principal.Tags["team"] != "db" ||
			l.ResetRequired || l.HardExpired || l.MFARequired || l.Principal.MFA {
			t.Fatalf("sign-in at %q: %v %+v", account, ok, l)
		}
	}
	for _, c := range []struct{ account, user, pw string }{
		{"210987654321", "alice", pw}, {"other", "alice", pw}, {"", "alice", pw},
		{testAccount, "alice", pw + "x"}, {testAccount, "bob", pw}, {testAccount, "carol", pw},
	} {
		if l, ok := e.signIn(c.account, c.user, c.pw); ok || l.Principal.ARN != "" {
			t.Fatalf("sign-in %+v accepted: %+v", c, l)
		}
	}
	// The old alias stops working when it is replaced.
	e.do("CreateAccountAlias", "AccountAlias", "acme-new")
	if _, ok := e.signIn("acme", "alice", pw); ok {
		t.Fatal("a replaced alias still signs in")
	}

	e.do("UpdateLoginProfile", "UserName", "alice", "PasswordResetRequired", "true")
	if l, ok := e.signIn(testAccount, "alice", pw); !ok || !l.ResetRequired || l.HardExpired {
		t.Fatalf("reset required: %v %+v", ok, l)
	}
	// CheckPassword still answers as before.
	if p, ok, err := e.svc.CheckPassword(context.Background(), "alice", pw); err != nil || !ok || p.UserName != "alice" {
		t.Fatalf("CheckPassword %v %v %+v", ok, err, p)
	}
}

func TestPasswordExpiry(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	const pw, pw2 = "Tr0ub4dor&3", "Corr3ct-horse"
	e.do("CreateLoginProfile", "UserName", "alice", "Password", pw)
	e.do("UpdateAccountPasswordPolicy", "MaxPasswordAge", "30", "AllowUsersToChangePassword", "true")

	e.at(testNow.AddDate(0, 0, 30).Add(-time.Second))
	if l, ok := e.signIn(testAccount, "alice", pw); !ok || l.ResetRequired {
		t.Fatalf("a day before expiry: %v %+v", ok, l)
	}
	e.at(testNow.AddDate(0, 0, 30))
	if l, ok := e.signIn(testAccount, "alice", pw); !ok || !l.ResetRequired || l.HardExpired {
		t.Fatalf("expired: %v %+v", ok, l)
	}
	// A new password restarts the age.
	if err := e.svc.ChangeOwnPassword(context.Background(), "alice", pw, pw2); err != nil {
		t.Fatal(err)
	}
	if l, ok := e.signIn(testAccount, "alice", pw2); !ok || l.ResetRequired {
		t.Fatalf("after the change: %v %+v", ok, l)
	}

	// HardExpiry: the user cannot change an expired password; an administrator can.
	e.do("UpdateAccountPasswordPolicy", "MaxPasswordAge", "30", "HardExpiry", "true", "AllowUsersToChangePassword", "true")
	e.at(testNow.AddDate(0, 0, 61))
	if l, ok := e.signIn(testAccount, "alice", pw2); !ok || l.ResetRequired || !l.HardExpired {
		t.Fatalf("hard expired: %v %+v", ok, l)
	}
	expectError(t, "AccessDenied", 403, "administrator", func() error {
		return e.svc.ChangeOwnPassword(context.Background(), "alice", pw2, "Another-0ne")
	})
	expectError(t, "AccessDenied", 403, "administrator", func() error {
		_, err := e.svc.Do(e.as("alice"), "ChangePassword", params("OldPassword", pw2, "NewPassword", "Another-0ne"))
		return err
	})
	e.do("UpdateLoginProfile", "UserName", "alice", "Password", "Admin-set-1", "PasswordResetRequired", "true")
	if l, ok := e.signIn(testAccount, "alice", "Admin-set-1"); !ok || !l.ResetRequired || l.HardExpired {
		t.Fatalf("after the administrator's reset: %v %+v", ok, l)
	}
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	e.user("bob")
	ctx := context.Background()
	const pw = "Tr0ub4dor&3"
	e.do("CreateLoginProfile", "UserName", "alice", "Password", pw, "PasswordResetRequired", "true")
	alice := e.as("alice")
	change := func(ctx context.Context, old, new string) error {
		_, err := e.svc.Do(ctx, "ChangePassword", params("OldPassword", old, "NewPassword", new))
		return err
	}

	// Validation first, then who may call.
	e.fail("ValidationError", 400, "oldPassword", "ChangePassword", "NewPassword", "x")
	e.fail("ValidationError", 400, "newPassword", "ChangePassword", "OldPassword", "x")
	e.fail("InvalidUserType", 400, "", "ChangePassword", "OldPassword", pw, "NewPassword", "Corr3ct-horse")
	expectError(t, "NoSuchEntity", 404, "Login Profile for User bob cannot be found.", func() error { return change(e.as("bob"), pw, "Corr3ct-horse") })
	ae := expectError(t, "AccessDenied", 403, "old password", func() error { return change(alice, pw+"x", "Corr3ct-horse") })
	if strings.Contains(ae.Message, pw) {
		t.Fatal("a password in an error")
	}
	expectError(t, "PasswordPolicyViolation", 400, "Password should", func() error { return change(alice, pw, "weak") })
	if _, ok := e.signIn(testAccount, "alice", pw); !ok {
		t.Fatal("a refused change changed the password")
	}

	// A good change clears PasswordResetRequired.
	if err := change(alice, pw, "Corr3ct-horse"); err != nil {
		t.Fatal(err)
	}
	if l, ok := e.signIn(testAccount, "alice", "Corr3ct-horse"); !ok || l.ResetRequired {
		t.Fatalf("after ChangePassword: %v %+v", ok, l)
	}

	// Reuse prevention counts the current password and keeps only as many hashes as needed.
	e.do("UpdateAccountPasswordPolicy", "PasswordReusePrevention", "3")
	for _, next := range []string{"Second-pass-2", "Third-pass-3"} {
		if err := change(alice, map[string]string{"Second-pass-2": "Corr3ct-horse", "Third-pass-3": "Second-pass-2"}[next], next); err != nil {
			t.Fatal(err)
		}
	}
	for _, old := range []string{"Third-pass-3", "Second-pass-2", "Corr3ct-horse"} {
		expectError(t, "PasswordPolicyViolation", 400, "last 3 passwords", func() error { return change(alice, "Third-pass-3", old) })
		e.fail("PasswordPolicyViolation", 400, "last 3 passwords", "UpdateLoginProfile", "UserName", "alice", "Password", old)
	}
	u, _ := e.st.IAMUser(ctx, "alice")
	if lp, _ := e.st.LoginProfile(ctx, u.UserID); len(lp.Previous) != 2 {
		t.Fatalf("kept %d previous hashes, want 2", len(lp.Previous))
	}
	// The fourth-last (the first) password is allowed again.
	if err := change(alice, "Third-pass-3", pw); err != nil {
		t.Fatal(err)
	}
}

func TestChangeOwnPasswordIsAuthorized(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "Path", "/p\"q/")
	const pw = "Tr0ub4dor&3"
	e.do("CreateLoginProfile", "UserName", "alice", "Password", pw, "PasswordResetRequired", "true")
	own := func(old, new string) error { return e.svc.ChangeOwnPassword(context.Background(), "alice", old, new) }

	// Without AllowUsersToChangePassword or a policy, as on AWS, the user may not change it.
	expectError(t, "AccessDenied", 403, "iam:ChangePassword", func() error { return own(pw, "Corr3ct-horse") })
	p := e.svc.userPrincipal(mustUser(e, "alice"))
	// The API's ChangePassword is authorized on the caller, whatever UserName the request adds.
	onSelf := onCaller(e.svc, e.as("alice"), params("UserName", "bob"), map[string][]string{})
	if len(onSelf) != 1 || onSelf[0].ARN != p.ARN {
		t.Fatalf("ChangePassword resources %+v", onSelf)
	}
	if err := e.svc.Authorize(context.Background(), p, "iam:ChangePassword", onSelf, p.ConditionKeys(testNow)); err == nil {
		t.Fatal("ChangePassword allowed without a grant")
	}
	e.do("UpdateAccountPasswordPolicy", "AllowUsersToChangePassword", "true")
	if err := e.svc.Authorize(context.Background(), p, "iam:GetAccountPasswordPolicy", onAny(e.svc, context.Background(), params(), nil), nil); err != nil {
		t.Fatalf("GetAccountPasswordPolicy under AllowUsersToChangePassword: %v", err)
	}
	if err := e.svc.Authorize(context.Background(), p, "iam:ChangePassword", onUser(e.svc, context.Background(), params("UserName", "bob"), map[string][]string{}), nil); err == nil {
		t.Fatal("AllowUsersToChangePassword covers another user")
	}
	// An explicit deny still wins over the grant.
	e.do("PutUserPolicy", "UserName", "alice", "PolicyName", "no", "PolicyDocument", deny("iam:ChangePassword", "*"))
	expectError(t, "AccessDenied", 403, "explicit deny", func() error { return own(pw, "Corr3ct-horse") })
	e.do("DeleteUserPolicy", "UserName", "alice", "PolicyName", "no")

	expectError(t, "AccessDenied", 403, "old password", func() error { return own("wrong", "Corr3ct-horse") })
	expectError(t, "NoSuchEntity", 404, "", func() error { return e.svc.ChangeOwnPassword(context.Background(), "nobody", pw, "Corr3ct-horse") })
	if err := own(pw, "Corr3ct-horse"); err != nil {
		t.Fatal(err)
	}
	if l, ok := e.signIn(testAccount, "alice", "Corr3ct-horse"); !ok || l.ResetRequired {
		t.Fatalf("after ChangeOwnPassword: %v %+v", ok, l)
	}
}

func mustUser(e *env, name string) store.IAMUser {
	e.t.Helper()
	u, err := e.st.IAMUser(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}
