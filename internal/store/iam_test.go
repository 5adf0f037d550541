package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

var errRefused = errors.New("refused")

func refuseIf(cond bool) error {
	if cond {
		return errRefused
	}
	return nil
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestIAMUsersAreUniqueRegardlessOfCase(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	u := IAMUser{UserID: "AIDAAAAAAAAAAAAAAAAAA", Name: "Alice", Path: "/eng/", Tags: []Tag{{"team", "db"}}, CreatedAt: time.Unix(1700000000, 0).UTC()}
	mustNil(t, s.CreateIAMUser(ctx, u))
	if err := s.CreateIAMUser(ctx, IAMUser{UserID: "AIDABBBBBBBBBBBBBBBBB", Name: "ALICE", Path: "/"}); !errors.Is(err, ErrExists) {
		t.Fatalf("same name in another case: %v", err)
	}
	if err := s.CreateIAMUser(ctx, IAMUser{UserID: u.UserID, Name: "bob", Path: "/"}); !errors.Is(err, ErrExists) {
		t.Fatalf("same id: %v", err)
	}
	for _, get := range []func() (IAMUser, error){
		func() (IAMUser, error) { return s.IAMUser(ctx, "alice") },
		func() (IAMUser, error) { return s.IAMUserByID(ctx, u.UserID) },
	} {
		if got, err := get(); err != nil || !reflect.DeepEqual(got, u) {
			t.Fatalf("got %+v, %v; want %+v", got, err, u)
		}
	}
	if _, err := s.IAMUser(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	got, err := s.UpdateIAMUser(ctx, "ALICE", func(u *IAMUser) error { u.Tags = nil; return nil })
	if err != nil || got.Tags != nil {
		t.Fatalf("update: %+v %v", got, err)
	}
	if _, err := s.UpdateIAMUser(ctx, "alice", func(u *IAMUser) error { u.Name = "carol"; return nil }); err == nil {
		t.Fatal("a rename slipped through UpdateIAMUser")
	}
	mustNil(t, s.CreateIAMUser(ctx, IAMUser{UserID: "AIDACCCCCCCCCCCCCCCCC", Name: "aaron", Path: "/"}))
	users, err := s.IAMUsers(ctx)
	if err != nil || len(users) != 2 || users[0].Name != "aaron" || users[1].Name != "Alice" {
		t.Fatalf("list: %+v %v", users, err)
	}
	// The IAM tables survive a restart (the migrations ran once).
	s.Close()
	s2, err := Open(ctx, path)
	mustNil(t, err)
	defer s2.Close()
	if _, err := s2.IAMUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
}

func TestIAMUserDeletionSeesEveryDependent(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	const uid, gid = "AIDAUSER0000000000000", "AGPAGROUP000000000000"
	mustNil(t, s.CreateIAMUser(ctx, IAMUser{UserID: uid, Name: "u", Path: "/"}))
	mustNil(t, s.CreateIAMGroup(ctx, IAMGroup{GroupID: gid, Name: "g", Path: "/"}))
	mustNil(t, s.AddIAMGroupMember(ctx, gid, uid, func(int) error { return nil }))
	mustNil(t, s.PutInlinePolicy(ctx, InlinePolicy{OwnerID: uid, Name: "p", Document: "{}"}, func([]InlinePolicy) error { return nil }))
	mustNil(t, s.AttachPolicy(ctx, uid, "arn:aws:iam::aws:policy/AdministratorAccess", false, func([]string) error { return nil }))
	mustNil(t, s.CreateLoginProfile(ctx, LoginProfile{UserID: uid, Algorithm: "pbkdf2-sha256", Iterations: 1, Salt: []byte("s"), Hash: []byte("h")}))
	mustNil(t, s.CreateAccessKey(ctx, AccessKey{ID: "AKIAUSER", Principal: uid, Status: "Active"}, func([]AccessKey) error { return nil }))

	var seen UserDependents
	err := s.DeleteIAMUser(ctx, "U", func(_ IAMUser, d UserDependents) error { seen = d; return errRefused })
	want := UserDependents{AccessKeys: 1, Groups: 1, InlinePolicies: 1, AttachedPolicies: 1, LoginProfile: true}
	if !errors.Is(err, errRefused) || seen != want {
		t.Fatalf("dependents %+v (%v), want %+v", seen, err, want)
	}
	mustNil(t, s.DeleteAccessKey(ctx, "AKIAUSER"))
	mustNil(t, s.DeleteLoginProfile(ctx, uid))
	mustNil(t, s.DeleteInlinePolicy(ctx, uid, "P"))
	mustNil(t, s.DetachPolicy(ctx, uid, "arn:aws:iam::aws:policy/AdministratorAccess"))
	mustNil(t, s.RemoveIAMGroupMember(ctx, gid, uid))
	err = s.DeleteIAMUser(ctx, "u", func(_ IAMUser, d UserDependents) error { return refuseIf(d != UserDependents{}) })
	mustNil(t, err)
	if _, err := s.IAMUserByID(ctx, uid); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted user: %v", err)
	}
	if err := s.DeleteIAMUser(ctx, "u", func(IAMUser, UserDependents) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestIAMGroupsAndMembership(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	mustNil(t, s.CreateIAMUser(ctx, IAMUser{UserID: "AIDA1", Name: "bob", Path: "/"}))
	mustNil(t, s.CreateIAMUser(ctx, IAMUser{UserID: "AIDA2", Name: "amy", Path: "/"}))
	mustNil(t, s.CreateIAMGroup(ctx, IAMGroup{GroupID: "AGPA1", Name: "Admins", Path: "/"}))
	mustNil(t, s.CreateIAMGroup(ctx, IAMGroup{GroupID: "AGPA2", Name: "devs", Path: "/"}))
	if err := s.CreateIAMGroup(ctx, IAMGroup{GroupID: "AGPA3", Name: "ADMINS", Path: "/"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate group: %v", err)
	}
	none := func(int) error { return nil }
	mustNil(t, s.AddIAMGroupMember(ctx, "AGPA1", "AIDA1", none))
	mustNil(t, s.AddIAMGroupMember(ctx, "AGPA1", "AIDA1", func(int) error { return errRefused })) // already a member: no quota check
	mustNil(t, s.AddIAMGroupMember(ctx, "AGPA1", "AIDA2", none))
	var had int
	err := s.AddIAMGroupMember(ctx, "AGPA2", "AIDA1", func(n int) error { had = n; return errRefused })
	if !errors.Is(err, errRefused) || had != 1 {
		t.Fatalf("quota check saw %d: %v", had, err)
	}
	if err := s.AddIAMGroupMember(ctx, "AGPA9", "AIDA1", none); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
	if err := s.AddIAMGroupMember(ctx, "AGPA1", "AIDA9", none); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	members, err := s.IAMGroupMembers(ctx, "AGPA1")
	if err != nil || len(members) != 2 || members[0].Name != "amy" {
		t.Fatalf("members %+v %v", members, err)
	}
	groups, err := s.IAMGroupsForUser(ctx, "AIDA1")
	if err != nil || len(groups) != 1 || groups[0].Name != "Admins" {
		t.Fatalf("groups %+v %v", groups, err)
	}
	var deps GroupDependents
	err = s.DeleteIAMGroup(ctx, "admins", func(_ IAMGroup, d GroupDependents) error { deps = d; return errRefused })
	if !errors.Is(err, errRefused) || deps.Members != 2 {
		t.Fatalf("group dependents %+v %v", deps, err)
	}
	if err := s.RemoveIAMGroupMember(ctx, "AGPA2", "AIDA1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove a non-member: %v", err)
	}
	mustNil(t, s.DeleteIAMGroup(ctx, "devs", func(_ IAMGroup, d GroupDependents) error { return refuseIf(d != GroupDependents{}) }))
}

func TestInlinePoliciesReplaceByNameAndSeeTheOthers(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	mustNil(t, s.CreateIAMGroup(ctx, IAMGroup{GroupID: "AGPA1", Name: "g", Path: "/"}))
	put := func(name, doc string, check func([]InlinePolicy) error) error {
		return s.PutInlinePolicy(ctx, InlinePolicy{OwnerID: "AGPA1", Name: name, Document: doc}, check)
	}
	ok := func([]InlinePolicy) error { return nil }
	mustNil(t, put("One", "1", ok))
	mustNil(t, put("two", "2", ok))
	var others []InlinePolicy
	mustNil(t, put("ONE", "1b", func(o []InlinePolicy) error { others = o; return nil }))
	if len(others) != 1 || others[0].Name != "two" {
		t.Fatalf("the check saw %+v", others)
	}
	if err := put("three", "3", func([]InlinePolicy) error { return errRefused }); !errors.Is(err, errRefused) {
		t.Fatal(err)
	}
	list, err := s.InlinePolicies(ctx, "AGPA1")
	if err != nil || len(list) != 2 || list[0].Name != "ONE" || list[0].Document != "1b" {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := s.PutInlinePolicy(ctx, InlinePolicy{OwnerID: "AIDAGONE", Name: "x", Document: "{}"}, ok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("owner gone: %v", err)
	}
	if _, err := s.InlinePolicy(ctx, "AGPA1", "three"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused policy was stored: %v", err)
	}
	if err := s.DeleteInlinePolicy(ctx, "AGPA1", "three"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestManagedPoliciesAttachmentsAndEffectivePolicies(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	const arn = "arn:aws:iam::123456789012:policy/team/ReadDB"
	mp := ManagedPolicy{ARN: arn, PolicyID: "ANPA1", Name: "ReadDB", Path: "/team/", DefaultVersion: "v1", NextVersion: 2,
		Versions: []PolicyVersion{{ID: "v1", Document: "doc1"}}}
	mustNil(t, s.CreateManagedPolicy(ctx, mp))
	dup := mp
	dup.ARN, dup.Name = "arn:aws:iam::123456789012:policy/readdb", "readdb"
	if err := s.CreateManagedPolicy(ctx, dup); !errors.Is(err, ErrExists) {
		t.Fatalf("same name on another path: %v", err)
	}
	if _, err := s.UpdateManagedPolicy(ctx, arn, func(p *ManagedPolicy) error {
		p.Versions = append(p.Versions, PolicyVersion{ID: "v2", Document: "doc2"})
		p.NextVersion = 3
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	mustNil(t, s.CreateIAMUser(ctx, IAMUser{UserID: "AIDA1", Name: "u", Path: "/"}))
	mustNil(t, s.CreateIAMGroup(ctx, IAMGroup{GroupID: "AGPA1", Name: "g", Path: "/"}))
	mustNil(t, s.AddIAMGroupMember(ctx, "AGPA1", "AIDA1", func(int) error { return nil }))
	ok := func([]string) error { return nil }
	if err := s.AttachPolicy(ctx, "AIDA1", "arn:aws:iam::123456789012:policy/missing", true, ok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("attach a missing local policy: %v", err)
	}
	mustNil(t, s.AttachPolicy(ctx, "AIDA1", arn, true, ok))
	mustNil(t, s.AttachPolicy(ctx, "AGPA1", arn, true, ok))
	mustNil(t, s.AttachPolicy(ctx, "AGPA1", "arn:aws:iam::aws:policy/IAMReadOnlyAccess", false, ok))
	mustNil(t, s.AttachPolicy(ctx, "AGPA1", arn, true, func([]string) error { return errRefused })) // already attached
	mustNil(t, s.PutInlinePolicy(ctx, InlinePolicy{OwnerID: "AIDA1", Name: "mine", Document: "u-doc"}, func([]InlinePolicy) error { return nil }))
	mustNil(t, s.PutInlinePolicy(ctx, InlinePolicy{OwnerID: "AGPA1", Name: "ours", Document: "g-doc"}, func([]InlinePolicy) error { return nil }))

	counts, err := s.AttachmentCounts(ctx)
	if err != nil || counts[arn] != 2 || counts["arn:aws:iam::aws:policy/IAMReadOnlyAccess"] != 1 {
		t.Fatalf("counts %v %v", counts, err)
	}
	var n int
	err = s.DeleteManagedPolicy(ctx, arn, func(_ ManagedPolicy, a int) error { n = a; return refuseIf(a > 0) })
	if !errors.Is(err, errRefused) || n != 2 {
		t.Fatalf("delete attached: %d %v", n, err)
	}

	e, err := s.EffectivePoliciesOf(ctx, "AIDA1")
	mustNil(t, err)
	if len(e.Holders) != 2 || e.Holders[0].Kind != "user" || e.Holders[1].Kind != "group" {
		t.Fatalf("holders %+v", e.Holders)
	}
	if h := e.Holders[0]; len(h.Inline) != 1 || h.Inline[0].Document != "u-doc" || !reflect.DeepEqual(h.Attached, []string{arn}) {
		t.Fatalf("user holder %+v", h)
	}
	if h := e.Holders[1]; len(h.Inline) != 1 || h.Inline[0].Document != "g-doc" || len(h.Attached) != 2 {
		t.Fatalf("group holder %+v", h)
	}
	if len(e.Managed) != 1 || e.Managed[arn].DefaultVersion != "v1" || len(e.Managed[arn].Versions) != 2 {
		t.Fatalf("managed %+v", e.Managed)
	}
	if _, err := s.EffectivePoliciesOf(ctx, "AIDAGONE"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}

	mustNil(t, s.DetachPolicy(ctx, "AIDA1", arn))
	mustNil(t, s.DetachPolicy(ctx, "AGPA1", arn))
	if err := s.DetachPolicy(ctx, "AGPA1", arn); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	mustNil(t, s.DeleteManagedPolicy(ctx, arn, func(_ ManagedPolicy, a int) error { return refuseIf(a > 0) }))
	if _, err := s.ManagedPolicy(ctx, arn); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestAccessKeysLoginProfilesAndPasswordPolicy(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	mustNil(t, s.CreateIAMUser(ctx, IAMUser{UserID: "AIDA1", Name: "u", Path: "/"}))
	limit2 := func(k []AccessKey) error { return refuseIf(len(k) >= 2) }
	t0 := time.Unix(1700000000, 0).UTC()
	mustNil(t, s.CreateAccessKey(ctx, AccessKey{ID: "AKIA2", Principal: "AIDA1", Status: "Active", CreatedAt: t0.Add(time.Second)}, limit2))
	mustNil(t, s.CreateAccessKey(ctx, AccessKey{ID: "AKIA1", Principal: "AIDA1", Status: "Active", CreatedAt: t0}, limit2))
	if err := s.CreateAccessKey(ctx, AccessKey{ID: "AKIA3", Principal: "AIDA1", Status: "Active"}, limit2); !errors.Is(err, errRefused) {
		t.Fatalf("third key: %v", err)
	}
	mustNil(t, s.CreateAccessKey(ctx, AccessKey{ID: "AKIAROOT", Principal: "root", Status: "Active"}, limit2))
	if err := s.CreateAccessKey(ctx, AccessKey{ID: "AKIA4", Principal: "AIDAGONE", Status: "Active"}, limit2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key of a missing user: %v", err)
	}
	keys, err := s.AccessKeysOf(ctx, "AIDA1")
	if err != nil || len(keys) != 2 || keys[0].ID != "AKIA1" || keys[1].ID != "AKIA2" {
		t.Fatalf("keys %+v %v", keys, err)
	}
	if _, err := s.UpdateAccessKey(ctx, "AKIA1", func(k *AccessKey) error { k.Status = "Inactive"; return nil }); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.AccessKey(ctx, "AKIA1"); k.Status != "Inactive" {
		t.Fatalf("status %s", k.Status)
	}

	lp := LoginProfile{UserID: "AIDA1", Algorithm: "pbkdf2-sha256", Iterations: 10, Salt: []byte{1, 2}, Hash: []byte{3, 4}, CreatedAt: t0}
	mustNil(t, s.CreateLoginProfile(ctx, lp))
	if err := s.CreateLoginProfile(ctx, lp); !errors.Is(err, ErrExists) {
		t.Fatalf("second profile: %v", err)
	}
	if err := s.CreateLoginProfile(ctx, LoginProfile{UserID: "AIDAGONE"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("profile of a missing user: %v", err)
	}
	if got, err := s.LoginProfile(ctx, "AIDA1"); err != nil || !reflect.DeepEqual(got, lp) {
		t.Fatalf("profile %+v %v", got, err)
	}
	if got, err := s.UpdateLoginProfile(ctx, "AIDA1", func(p *LoginProfile) error { p.ResetRequired = true; return nil }); err != nil || !got.ResetRequired {
		t.Fatalf("update %+v %v", got, err)
	}
	mustNil(t, s.DeleteLoginProfile(ctx, "AIDA1"))
	if err := s.DeleteLoginProfile(ctx, "AIDA1"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}

	if _, err := s.IAMPasswordPolicy(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no policy yet: %v", err)
	}
	pp := PasswordPolicy{MinimumPasswordLength: 12, RequireSymbols: true}
	mustNil(t, s.PutIAMPasswordPolicy(ctx, pp))
	pp.RequireNumbers = true
	mustNil(t, s.PutIAMPasswordPolicy(ctx, pp))
	if got, err := s.IAMPasswordPolicy(ctx); err != nil || got != pp {
		t.Fatalf("policy %+v %v", got, err)
	}
	mustNil(t, s.DeleteIAMPasswordPolicy(ctx))
	if err := s.DeleteIAMPasswordPolicy(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestAccountAliasIsOnePerAccount(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	if _, err := s.AccountAlias(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no alias yet: %v", err)
	}
	mustNil(t, s.SetAccountAlias(ctx, "first"))
	mustNil(t, s.SetAccountAlias(ctx, "second"))
	if a, err := s.AccountAlias(ctx); err != nil || a != "second" {
		t.Fatalf("alias %q %v", a, err)
	}
	if err := s.DeleteAccountAlias(ctx, "first"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a replaced alias: %v", err)
	}
	mustNil(t, s.DeleteAccountAlias(ctx, "second"))
	if _, err := s.AccountAlias(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestMFADevicesFollowTheirUser(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	u := IAMUser{UserID: "AIDAAAAAAAAAAAAAAAAAA", Name: "alice", Path: "/", CreatedAt: time.Unix(1700000000, 0).UTC()}
	mustNil(t, s.CreateIAMUser(ctx, u))
	d := MFADevice{SerialNumber: "arn:aws:iam::123456789012:mfa/Phone", Name: "Phone", Path: "/", Seed: []byte("12345678901234567890"), CreatedAt: u.CreatedAt}
	mustNil(t, s.CreateMFADevice(ctx, d))
	if err := s.CreateMFADevice(ctx, MFADevice{SerialNumber: "arn:aws:iam::123456789012:mfa/x/phone", Name: "PHONE", Path: "/x/"}); !errors.Is(err, ErrExists) {
		t.Fatalf("same name in another case: %v", err)
	}
	enable := func(userID string) error {
		_, err := s.UpdateMFADevice(ctx, d.SerialNumber, func(d *MFADevice, devicesOf func(string) (int, error)) error {
			n, err := devicesOf(userID)
			if err != nil || n != 0 {
				return errOr(err, errRefused)
			}
			d.UserID, d.LastStep = userID, 42
			return nil
		})
		return err
	}
	if err := enable("AIDANOBODYNOBODYNOBOD"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("enable for a missing user: %v", err)
	}
	mustNil(t, enable(u.UserID))
	if ds, err := s.MFADevicesOf(ctx, u.UserID); err != nil || len(ds) != 1 || ds[0].LastStep != 42 || string(ds[0].Seed) != "12345678901234567890" {
		t.Fatalf("devices of alice: %+v %v", ds, err)
	}
	err := s.DeleteIAMUser(ctx, "alice", func(_ IAMUser, dep UserDependents) error { return refuseIf(dep.MFADevices > 0) })
	if !errors.Is(err, errRefused) {
		t.Fatalf("deleting a user with an MFA device: %v", err)
	}
	mustNil(t, s.DeleteMFADevice(ctx, d.SerialNumber, func(d MFADevice) error { return refuseIf(d.UserID == "") }))
	if _, err := s.MFADevice(ctx, d.SerialNumber); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}
