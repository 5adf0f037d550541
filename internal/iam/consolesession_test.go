package iam

import (
	"context"
	"testing"
	"time"
)

// A console session is decided on the user as IAM has it now: a tag changed after sign-in
// is the tag of the next request, and a session whose user or console password is gone,
// or whose password was set by someone else after sign-in, ends.
func TestConsoleSessionIsTheUserAsItIsNow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const pw = "Tr0ub4dor&3"
	e.user("alice", "Tags.member.1.Key", "team", "Tags.member.1.Value", "db")
	e.do("CreateLoginProfile", "UserName", "alice", "Password", pw)
	l, ok := e.signIn(testAccount, "alice", pw)
	if !ok {
		t.Fatal("sign-in refused")
	}
	signedIn := testNow
	p := l.Principal
	p.MFA = true

	e.do("TagUser", "UserName", "alice", "Tags.member.1.Key", "team", "Tags.member.1.Value", "web")
	got, ok, err := e.svc.ConsoleSession(ctx, p, signedIn)
	if err != nil || !ok || got.Tags["team"] != "web" || !got.MFA || got.ARN != p.ARN {
		t.Fatalf("after TagUser: %v %v %+v", ok, err, got)
	}
	e.do("UntagUser", "UserName", "alice", "TagKeys.member.1", "team")
	if got, ok, _ := e.svc.ConsoleSession(ctx, p, signedIn); !ok || len(got.Tags) != 0 {
		t.Fatalf("after UntagUser: %v %+v", ok, got)
	}

	// An administrator's new password ends the sessions signed in before it.
	e.do("UpdateLoginProfile", "UserName", "alice", "Password", "N3w-Tr0ub4dor&3")
	if _, ok, _ := e.svc.ConsoleSession(ctx, p, signedIn.Add(-time.Second)); ok {
		t.Fatal("a session from before the password reset lives on")
	}
	if _, ok, _ := e.svc.ConsoleSession(ctx, p, signedIn); !ok {
		t.Fatal("a session that proved the current password ended")
	}

	e.do("DeleteLoginProfile", "UserName", "alice")
	if _, ok, err := e.svc.ConsoleSession(ctx, p, signedIn); ok || err != nil {
		t.Fatalf("session lives on without a console password: %v %v", ok, err)
	}
	e.do("CreateLoginProfile", "UserName", "alice", "Password", pw)
	if _, ok, _ := e.svc.ConsoleSession(ctx, p, signedIn.Add(-time.Second)); ok {
		t.Fatal("a new console password revived an old session")
	}

	e.do("DeleteLoginProfile", "UserName", "alice")
	e.do("DeleteUser", "UserName", "alice")
	e.user("alice") // a new user of the same name is not the one who signed in
	e.do("CreateLoginProfile", "UserName", "alice", "Password", pw)
	if _, ok, err := e.svc.ConsoleSession(ctx, p, signedIn); ok || err != nil {
		t.Fatalf("a deleted user's session lives on: %v %v", ok, err)
	}

	root := e.svc.RootPrincipal("")
	if got, ok, err := e.svc.ConsoleSession(ctx, root, signedIn); !ok || err != nil || got.ARN != root.ARN {
		t.Fatalf("root session: %v %v %+v", ok, err, got)
	}
}
