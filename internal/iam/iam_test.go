package iam

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/principal"
)

func TestUsers(t *testing.T) {
	e := newEnv(t)
	u := e.user("Alice", "Path", "/eng/", "Tags.member.1.Key", "team", "Tags.member.1.Value", "db")
	if !regexp.MustCompile(`^AIDA[A-Z0-9]{17}$`).MatchString(u.UserID) {
		t.Fatalf("user id %q", u.UserID)
	}
	if u.Arn != "arn:aws:iam::123456789012:user/eng/Alice" || u.Path != "/eng/" || !u.CreateDate.Equal(testNow) {
		t.Fatalf("user %+v", u)
	}
	if u.Tags == nil || !reflect.DeepEqual(u.Tags.Items, []xmlTag{{"team", "db"}}) {
		t.Fatalf("tags %+v", u.Tags)
	}
	e.fail("EntityAlreadyExists", 409, "User with name ALICE already exists.", "CreateUser", "UserName", "ALICE")
	for _, bad := range []string{"", "has space", "slash/", strings.Repeat("a", 65)} {
		e.fail("ValidationError", 400, "userName", "CreateUser", "UserName", bad)
	}
	e.fail("ValidationError", 400, "path", "CreateUser", "UserName", "x", "Path", "noslash")
	e.fail("InvalidInput", 400, "aws:", "CreateUser", "UserName", "x", "Tags.member.1.Key", "aws:foo", "Tags.member.1.Value", "v")
	e.fail("InvalidInput", 400, "Duplicate tag keys", "CreateUser", "UserName", "x",
		"Tags.member.1.Key", "k", "Tags.member.1.Value", "1", "Tags.member.2.Key", "K", "Tags.member.2.Value", "2")

	got := e.do("GetUser", "UserName", "alice").(userResult).User
	if got.UserName != "Alice" || got.UserID != u.UserID || got.Tags == nil {
		t.Fatalf("GetUser %+v", got)
	}
	e.fail("NoSuchEntity", 404, "The user with name nobody cannot be found.", "GetUser", "UserName", "nobody")

	// No UserName: the caller. The root user sees itself as AWS shows it.
	root := e.do("GetUser").(userResult).User
	if root.UserID != testAccount || root.Arn != "arn:aws:iam::123456789012:root" || root.UserName != "" {
		t.Fatalf("root GetUser %+v", root)
	}
	self, err := e.svc.Do(e.as("alice"), "GetUser", params())
	if err != nil || self.(userResult).User.UserName != "Alice" {
		t.Fatalf("self GetUser %+v %v", self, err)
	}

	// Paging and path prefixes.
	for _, n := range []string{"bob", "carol", "dave"} {
		e.user(n)
	}
	var names []string
	marker := ""
	for pages := 0; ; pages++ {
		r := e.do("ListUsers", "MaxItems", "3", "Marker", marker).(listUsersResult)
		for _, u := range r.Users.Items {
			names = append(names, u.UserName)
			if u.Tags != nil {
				t.Fatal("ListUsers shows tags; AWS does not")
			}
		}
		if !r.IsTruncated {
			if r.Marker != "" || pages != 1 {
				t.Fatalf("last page %+v after %d pages", r, pages)
			}
			break
		}
		marker = r.Marker
	}
	if !reflect.DeepEqual(names, []string{"Alice", "bob", "carol", "dave"}) {
		t.Fatalf("ListUsers %v", names)
	}
	r := e.do("ListUsers", "PathPrefix", "/eng").(listUsersResult)
	if len(r.Users.Items) != 1 || r.Users.Items[0].UserName != "Alice" {
		t.Fatalf("PathPrefix %+v", r)
	}
	e.fail("ValidationError", 400, "maxItems", "ListUsers", "MaxItems", "0")

	// Tags: keys are case-insensitive.
	e.do("TagUser", "UserName", "alice", "Tags.member.1.Key", "TEAM", "Tags.member.1.Value", "infra",
		"Tags.member.2.Key", "env", "Tags.member.2.Value", "prod")
	tags := e.do("ListUserTags", "UserName", "alice").(listTagsResult).Tags.Items
	if !reflect.DeepEqual(tags, []xmlTag{{"TEAM", "infra"}, {"env", "prod"}}) {
		t.Fatalf("tags after TagUser %+v", tags)
	}
	e.do("UntagUser", "UserName", "alice", "TagKeys.member.1", "Team", "TagKeys.member.2", "absent")
	tags = e.do("ListUserTags", "UserName", "alice").(listTagsResult).Tags.Items
	if !reflect.DeepEqual(tags, []xmlTag{{"env", "prod"}}) {
		t.Fatalf("tags after UntagUser %+v", tags)
	}
	e.fail("NoSuchEntity", 404, "", "TagUser", "UserName", "nobody", "Tags.member.1.Key", "k", "Tags.member.1.Value", "v")
	var many []string
	for i := range 51 {
		many = append(many, "Tags.member."+strconv.Itoa(i+1)+".Key", "k"+strconv.Itoa(i), "Tags.member."+strconv.Itoa(i+1)+".Value", "v")
	}
	e.fail("LimitExceeded", 409, "", "TagUser", append([]string{"UserName", "bob"}, many...)...)

	e.do("DeleteUser", "UserName", "BOB")
	e.fail("NoSuchEntity", 404, "The user with name bob cannot be found.", "DeleteUser", "UserName", "bob")
	// A new user of the same name is a new user.
	if again := e.user("bob"); again.UserID == "" || again.UserID == u.UserID {
		t.Fatalf("recreated %+v", again)
	}
}

func TestDeleteUserConflicts(t *testing.T) {
	e := newEnv(t)
	e.user("u")
	e.do("CreateGroup", "GroupName", "g")
	steps := []struct {
		add, remove []string
		msg         string
	}{
		{[]string{"CreateLoginProfile", "UserName", "u", "Password", "Correct-Horse-1"}, []string{"DeleteLoginProfile", "UserName", "u"}, "login profile"},
		{[]string{"PutUserPolicy", "UserName", "u", "PolicyName", "p", "PolicyDocument", allow("rds:*", "*")}, []string{"DeleteUserPolicy", "UserName", "u", "PolicyName", "p"}, "delete policies"},
		{[]string{"AttachUserPolicy", "UserName", "u", "PolicyArn", "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"}, []string{"DetachUserPolicy", "UserName", "u", "PolicyArn", "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"}, "detach all policies"},
		{[]string{"AddUserToGroup", "UserName", "u", "GroupName", "g"}, []string{"RemoveUserFromGroup", "UserName", "u", "GroupName", "g"}, "groups"},
	}
	for _, s := range steps {
		e.do(s.add[0], s.add[1:]...)
		e.fail("DeleteConflict", 409, s.msg, "DeleteUser", "UserName", "u")
		e.do(s.remove[0], s.remove[1:]...)
	}
	k := e.key("u")
	e.fail("DeleteConflict", 409, "access keys", "DeleteUser", "UserName", "u")
	e.do("DeleteAccessKey", "UserName", "u", "AccessKeyId", k.AccessKeyID)
	e.do("DeleteUser", "UserName", "u")
}

func TestGroups(t *testing.T) {
	e := newEnv(t)
	g := e.do("CreateGroup", "GroupName", "Admins", "Path", "/ops/").(groupResult).Group
	if !regexp.MustCompile(`^AGPA[A-Z0-9]{17}$`).MatchString(g.GroupID) || g.Arn != "arn:aws:iam::123456789012:group/ops/Admins" {
		t.Fatalf("group %+v", g)
	}
	e.fail("EntityAlreadyExists", 409, "Group with name admins already exists.", "CreateGroup", "GroupName", "admins")
	e.do("CreateGroup", "GroupName", "devs")
	e.user("zed")
	e.user("amy")
	e.do("AddUserToGroup", "GroupName", "admins", "UserName", "zed")
	e.do("AddUserToGroup", "GroupName", "admins", "UserName", "zed") // idempotent, as in AWS
	e.do("AddUserToGroup", "GroupName", "admins", "UserName", "amy")
	e.do("AddUserToGroup", "GroupName", "devs", "UserName", "amy")
	e.fail("NoSuchEntity", 404, "The group with name nope cannot be found.", "AddUserToGroup", "GroupName", "nope", "UserName", "amy")
	e.fail("NoSuchEntity", 404, "The user with name nope cannot be found.", "AddUserToGroup", "GroupName", "devs", "UserName", "nope")

	gg := e.do("GetGroup", "GroupName", "ADMINS").(getGroupResult)
	if gg.Group.GroupName != "Admins" || len(gg.Users.Items) != 2 || gg.Users.Items[0].UserName != "amy" || gg.IsTruncated {
		t.Fatalf("GetGroup %+v", gg)
	}
	gg = e.do("GetGroup", "GroupName", "admins", "MaxItems", "1").(getGroupResult)
	if len(gg.Users.Items) != 1 || !gg.IsTruncated || gg.Marker == "" {
		t.Fatalf("GetGroup page %+v", gg)
	}
	lg := e.do("ListGroups").(listGroupsResult)
	if len(lg.Groups.Items) != 2 || lg.Groups.Items[0].GroupName != "Admins" {
		t.Fatalf("ListGroups %+v", lg)
	}
	if lg := e.do("ListGroups", "PathPrefix", "/ops/").(listGroupsResult); len(lg.Groups.Items) != 1 {
		t.Fatalf("ListGroups /ops/ %+v", lg)
	}
	fu := e.do("ListGroupsForUser", "UserName", "amy").(listGroupsResult)
	if len(fu.Groups.Items) != 2 {
		t.Fatalf("ListGroupsForUser %+v", fu)
	}

	e.fail("DeleteConflict", 409, "remove users", "DeleteGroup", "GroupName", "devs")
	e.do("RemoveUserFromGroup", "GroupName", "devs", "UserName", "amy")
	e.fail("NoSuchEntity", 404, "not in group", "RemoveUserFromGroup", "GroupName", "devs", "UserName", "amy")
	e.do("PutGroupPolicy", "GroupName", "devs", "PolicyName", "p", "PolicyDocument", allow("rds:Describe*", "*"))
	e.fail("DeleteConflict", 409, "delete policies", "DeleteGroup", "GroupName", "devs")
	e.do("DeleteGroupPolicy", "GroupName", "devs", "PolicyName", "p")
	e.do("AttachGroupPolicy", "GroupName", "devs", "PolicyArn", "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess")
	e.fail("DeleteConflict", 409, "detach all policies", "DeleteGroup", "GroupName", "devs")
	e.do("DetachGroupPolicy", "GroupName", "devs", "PolicyArn", "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess")
	e.do("DeleteGroup", "GroupName", "devs")
	e.fail("NoSuchEntity", 404, "", "GetGroup", "GroupName", "devs")

	// At most 10 groups per user.
	for i := range 9 {
		n := "g" + strconv.Itoa(i)
		e.do("CreateGroup", "GroupName", n)
		e.do("AddUserToGroup", "GroupName", n, "UserName", "zed")
	}
	e.do("CreateGroup", "GroupName", "eleventh")
	e.fail("LimitExceeded", 409, "GroupsPerUser: 10", "AddUserToGroup", "GroupName", "eleventh", "UserName", "zed")
}

func TestAccessKeys(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	e.user("bob")
	k1 := e.key("alice")
	if !regexp.MustCompile(`^AKIA[A-Z0-9]{16}$`).MatchString(k1.AccessKeyID) || len(k1.SecretAccessKey) != 40 || k1.Status != "Active" || k1.UserName != "alice" {
		t.Fatalf("key %+v", k1)
	}
	// No UserName: the caller's own key.
	out, err := e.svc.Do(e.as("alice"), "CreateAccessKey", params())
	if err != nil {
		t.Fatal(err)
	}
	k2 := out.(createAccessKeyResult).AccessKey
	e.fail("LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2", "CreateAccessKey", "UserName", "alice")
	e.fail("NoSuchEntity", 404, "", "CreateAccessKey", "UserName", "nobody")

	list := e.do("ListAccessKeys", "UserName", "alice").(listAccessKeysResult).AccessKeyMetadata.Items
	if len(list) != 2 || list[0].AccessKeyID == list[1].AccessKeyID || list[0].UserName != "alice" {
		t.Fatalf("ListAccessKeys %+v", list)
	}
	// The root user's keys are listed without a UserName.
	rootKeys := e.do("ListAccessKeys").(listAccessKeysResult).AccessKeyMetadata.Items
	if len(rootKeys) != 1 || rootKeys[0].AccessKeyID != rootKeyID || rootKeys[0].UserName != "" {
		t.Fatalf("root keys %+v", rootKeys)
	}

	ctx := context.Background()
	p, err := e.svc.Authenticate(ctx, k1.AccessKeyID, "")
	if err != nil || p.Type != principal.User || p.UserName != "alice" || p.ARN != "arn:aws:iam::123456789012:user/alice" || p.AccessKeyID != k1.AccessKeyID {
		t.Fatalf("Authenticate user: %+v %v", p, err)
	}
	if p, err := e.svc.Authenticate(ctx, rootKeyID, ""); err != nil || !p.IsRoot() || p.UserID != testAccount {
		t.Fatalf("Authenticate root: %+v %v", p, err)
	}
	if secret, ok, err := e.svc.LookupSecret(ctx, k1.AccessKeyID); err != nil || !ok || secret != k1.SecretAccessKey {
		t.Fatalf("LookupSecret: %v %v", ok, err)
	}

	// A key of another user is unknown to bob's requests.
	e.fail("NoSuchEntity", 404, "The Access Key with id "+k1.AccessKeyID+" cannot be found.", "UpdateAccessKey", "UserName", "bob", "AccessKeyId", k1.AccessKeyID, "Status", "Inactive")
	e.fail("ValidationError", 400, "status", "UpdateAccessKey", "UserName", "alice", "AccessKeyId", k1.AccessKeyID, "Status", "Paused")

	// Inactive: refused at once, by SigV4's lookup and by Authenticate.
	e.do("UpdateAccessKey", "UserName", "alice", "AccessKeyId", k1.AccessKeyID, "Status", "Inactive")
	if _, ok, err := e.svc.LookupSecret(ctx, k1.AccessKeyID); ok || err != nil {
		t.Fatalf("inactive key looked up: %v %v", ok, err)
	}
	expectError(t, "InvalidClientTokenId", 403, "", func() error { _, err := e.svc.Authenticate(ctx, k1.AccessKeyID, ""); return err })
	for _, k := range e.do("ListAccessKeys", "UserName", "alice").(listAccessKeysResult).AccessKeyMetadata.Items {
		if k.AccessKeyID == k1.AccessKeyID && k.Status != "Inactive" {
			t.Fatalf("status listed %+v", k)
		}
	}
	e.do("UpdateAccessKey", "UserName", "alice", "AccessKeyId", k1.AccessKeyID, "Status", "Active")
	if _, err := e.svc.Authenticate(ctx, k1.AccessKeyID, ""); err != nil {
		t.Fatal(err)
	}

	// Deleted: refused at once.
	if _, err := e.svc.Do(e.as("alice"), "DeleteAccessKey", params("AccessKeyId", k2.AccessKeyID)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := e.svc.LookupSecret(ctx, k2.AccessKeyID); ok {
		t.Fatal("deleted key looked up")
	}
	expectError(t, "InvalidClientTokenId", 403, "", func() error { _, err := e.svc.Authenticate(ctx, k2.AccessKeyID, ""); return err })
	e.fail("NoSuchEntity", 404, "", "DeleteAccessKey", "UserName", "alice", "AccessKeyId", k2.AccessKeyID)

	// The secret is stored for SigV4 but never shown again.
	if got := e.do("ListAccessKeys", "UserName", "alice"); strings.Contains(strings.ToLower(reflect.ValueOf(got).String()), "secret") {
		t.Fatal("ListAccessKeys shows a secret")
	}
}

func TestLoginProfilesAndPasswords(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	ctx := context.Background()
	// AWS's default policy: at least 8 characters, three of upper, lower, digits, symbols.
	for _, weak := range []string{"Ab1!", "alllowercase", "lowerUPPER", "12345678abc"} {
		ae := e.fail("PasswordPolicyViolation", 400, "Password should", "CreateLoginProfile", "UserName", "alice", "Password", weak)
		if strings.Contains(ae.Message, weak) {
			t.Fatal("the password was echoed")
		}
	}
	e.fail("ValidationError", 400, "password", "CreateLoginProfile", "UserName", "alice")
	const good = "Tr0ub4dor&3"
	lp := e.do("CreateLoginProfile", "UserName", "alice", "Password", good, "PasswordResetRequired", "true").(loginProfileResult).LoginProfile
	if lp.UserName != "alice" || !lp.PasswordResetRequired {
		t.Fatalf("profile %+v", lp)
	}
	e.fail("EntityAlreadyExists", 409, "Login Profile for user alice already exists.", "CreateLoginProfile", "UserName", "alice", "Password", good)
	if got := e.do("GetLoginProfile", "UserName", "alice").(loginProfileResult).LoginProfile; got != lp {
		t.Fatalf("GetLoginProfile %+v", got)
	}

	// Only a salted PBKDF2 hash is stored.
	u, _ := e.st.IAMUser(ctx, "alice")
	stored, err := e.st.LoginProfile(ctx, u.UserID)
	if err != nil || stored.Algorithm != "pbkdf2-sha256" || stored.Iterations != testIterations || len(stored.Salt) != 16 || len(stored.Hash) != 32 ||
		bytes.Contains(stored.Hash, []byte(good)) {
		t.Fatalf("stored %+v %v", stored, err)
	}

	check := func(user, pw string, want bool) {
		t.Helper()
		p, ok, err := e.svc.CheckPassword(ctx, user, pw)
		if err != nil || ok != want || ok && p.UserName != "alice" {
			t.Fatalf("CheckPassword(%s): %v %v %+v", user, ok, err, p)
		}
	}
	check("alice", good, true)
	check("ALICE", good, true)
	check("alice", good+"x", false)
	check("nobody", good, false)

	e.do("UpdateLoginProfile", "UserName", "alice", "Password", "N3w-passphrase", "PasswordResetRequired", "false")
	check("alice", good, false)
	check("alice", "N3w-passphrase", true)
	if got := e.do("GetLoginProfile", "UserName", "alice").(loginProfileResult).LoginProfile; got.PasswordResetRequired {
		t.Fatal("reset flag not cleared")
	}
	e.fail("PasswordPolicyViolation", 400, "", "UpdateLoginProfile", "UserName", "alice", "Password", "short")

	// An account password policy replaces the default.
	e.do("UpdateAccountPasswordPolicy", "MinimumPasswordLength", "12", "RequireSymbols", "true")
	pp := e.do("GetAccountPasswordPolicy").(passwordPolicyResult).PasswordPolicy
	if pp.MinimumPasswordLength != 12 || !pp.RequireSymbols || pp.RequireNumbers {
		t.Fatalf("password policy %+v", pp)
	}
	e.fail("PasswordPolicyViolation", 400, "minimum length of 12", "UpdateLoginProfile", "UserName", "alice", "Password", "Abcdefgh1!")
	e.fail("PasswordPolicyViolation", 400, "at least one symbol", "UpdateLoginProfile", "UserName", "alice", "Password", "abcdefghijklmn")
	e.do("UpdateLoginProfile", "UserName", "alice", "Password", "abcdefghijk!")
	e.fail("ValidationError", 400, "minimumPasswordLength", "UpdateAccountPasswordPolicy", "MinimumPasswordLength", "5")
	e.do("DeleteAccountPasswordPolicy")
	e.fail("NoSuchEntity", 404, "", "GetAccountPasswordPolicy")
	e.fail("NoSuchEntity", 404, "", "DeleteAccountPasswordPolicy")

	// A user without a profile cannot sign in; the user itself may manage its own.
	e.do("DeleteLoginProfile", "UserName", "alice")
	check("alice", "abcdefghijk!", false)
	e.fail("NoSuchEntity", 404, "Login Profile for User alice cannot be found.", "GetLoginProfile", "UserName", "alice")
	e.fail("NoSuchEntity", 404, "", "UpdateLoginProfile", "UserName", "alice", "Password", good)
	if _, err := e.svc.Do(e.as("alice"), "CreateLoginProfile", params("Password", good)); err != nil {
		t.Fatal(err)
	}
	check("alice", good, true)
}

func TestInlinePolicies(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["rds:Describe*"],"Resource":"*"}]}`
	e.do("PutUserPolicy", "UserName", "alice", "PolicyName", "Read", "PolicyDocument", doc)
	got := e.do("GetUserPolicy", "UserName", "alice", "PolicyName", "read").(getUserPolicyResult)
	if dec, err := url.QueryUnescape(got.PolicyDocument); err != nil || dec != doc || got.PolicyName != "Read" || got.UserName != "alice" {
		t.Fatalf("GetUserPolicy %+v (%v)", got, err)
	}
	if strings.ContainsAny(got.PolicyDocument, `{"+ `) {
		t.Fatalf("document not URL-encoded: %s", got.PolicyDocument)
	}
	// A Put of the same name replaces the document.
	e.do("PutUserPolicy", "UserName", "alice", "PolicyName", "READ", "PolicyDocument", allow("rds:*", "*"))
	e.do("PutUserPolicy", "UserName", "alice", "PolicyName", "Other", "PolicyDocument", allow("ec2:*", "*"))
	names := e.do("ListUserPolicies", "UserName", "alice").(listPolicyNamesResult).PolicyNames.Items
	if !reflect.DeepEqual(names, []string{"Other", "READ"}) {
		t.Fatalf("ListUserPolicies %v", names)
	}

	ae := e.fail("MalformedPolicyDocument", 400, "", "PutUserPolicy", "UserName", "alice", "PolicyName", "bad", "PolicyDocument", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`)
	if ae.Message != policy.ReasonNoActions {
		t.Fatalf("malformed reason %q", ae.Message)
	}
	e.fail("MalformedPolicyDocument", 400, policy.ReasonSyntax, "PutUserPolicy", "UserName", "alice", "PolicyName", "bad", "PolicyDocument", "{not json")
	e.fail("NoSuchEntity", 404, "The user with name nobody cannot be found.", "PutUserPolicy", "UserName", "nobody", "PolicyName", "p", "PolicyDocument", doc)
	// All of a user's inline policies together: at most 2048 characters.
	var actions []string
	for i := range 120 {
		actions = append(actions, `"rds:DescribeDBClusters`+strconv.Itoa(i)+`"`)
	}
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[` + strings.Join(actions, ",") + `],"Resource":"*"}]}`
	e.fail("LimitExceeded", 409, "Maximum policy size of 2048 bytes exceeded for user alice", "PutUserPolicy", "UserName", "alice", "PolicyName", "big", "PolicyDocument", big)

	e.do("DeleteUserPolicy", "UserName", "alice", "PolicyName", "other")
	e.fail("NoSuchEntity", 404, "The user policy with name other cannot be found.", "DeleteUserPolicy", "UserName", "alice", "PolicyName", "other")
	e.fail("NoSuchEntity", 404, "", "GetUserPolicy", "UserName", "alice", "PolicyName", "other")

	// The group forms.
	e.do("CreateGroup", "GroupName", "devs")
	e.do("PutGroupPolicy", "GroupName", "devs", "PolicyName", "g", "PolicyDocument", doc)
	gp := e.do("GetGroupPolicy", "GroupName", "devs", "PolicyName", "g").(getGroupPolicyResult)
	if dec, _ := url.QueryUnescape(gp.PolicyDocument); dec != doc || gp.GroupName != "devs" {
		t.Fatalf("GetGroupPolicy %+v", gp)
	}
	if n := e.do("ListGroupPolicies", "GroupName", "devs").(listPolicyNamesResult).PolicyNames.Items; !reflect.DeepEqual(n, []string{"g"}) {
		t.Fatalf("ListGroupPolicies %v", n)
	}
	e.fail("NoSuchEntity", 404, "The group policy with name x cannot be found.", "DeleteGroupPolicy", "GroupName", "devs", "PolicyName", "x")
	e.do("DeleteGroupPolicy", "GroupName", "devs", "PolicyName", "g")
}

func TestManagedPolicies(t *testing.T) {
	e := newEnv(t)
	doc1 := allow("rds:Describe*", "*")
	p := e.do("CreatePolicy", "PolicyName", "ReadDB", "Path", "/team/", "PolicyDocument", doc1, "Description", "read the databases").(policyResult).Policy
	const arn = "arn:aws:iam::123456789012:policy/team/ReadDB"
	if p.Arn != arn || !regexp.MustCompile(`^ANPA[A-Z0-9]{17}$`).MatchString(p.PolicyID) || p.DefaultVersionID != "v1" || !p.IsAttachable || p.AttachmentCount != 0 || p.Description != "read the databases" {
		t.Fatalf("CreatePolicy %+v", p)
	}
	e.fail("EntityAlreadyExists", 409, "A policy called readdb already exists.", "CreatePolicy", "PolicyName", "readdb", "PolicyDocument", doc1)
	e.fail("MalformedPolicyDocument", 400, policy.ReasonVersion, "CreatePolicy", "PolicyName", "old", "PolicyDocument",
		`{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"rds:*","Resource":"*"}]}`)
	e.fail("ValidationError", 400, "path", "CreatePolicy", "PolicyName", "x", "Path", "/a b/", "PolicyDocument", doc1)

	// Versions: at most 5; ids never reused; only a non-default version can be deleted.
	for i := 2; i <= 5; i++ {
		v := e.do("CreatePolicyVersion", "PolicyArn", arn, "PolicyDocument", allow("rds:Describe*", "arn:aws:rds:*:*:cluster:v"+strconv.Itoa(i))).(policyVersionResult).PolicyVersion
		if v.VersionID != "v"+strconv.Itoa(i) || v.IsDefaultVersion || v.Document != "" {
			t.Fatalf("version %+v", v)
		}
	}
	e.fail("LimitExceeded", 409, "up to 5 versions", "CreatePolicyVersion", "PolicyArn", arn, "PolicyDocument", doc1)
	e.fail("DeleteConflict", 409, "default version", "DeletePolicyVersion", "PolicyArn", arn, "VersionId", "v1")
	e.do("DeletePolicyVersion", "PolicyArn", arn, "VersionId", "v2")
	e.fail("NoSuchEntity", 404, "", "DeletePolicyVersion", "PolicyArn", arn, "VersionId", "v2")
	v6 := e.do("CreatePolicyVersion", "PolicyArn", arn, "PolicyDocument", allow("rds:*", "*"), "SetAsDefault", "true").(policyVersionResult).PolicyVersion
	if v6.VersionID != "v6" || !v6.IsDefaultVersion {
		t.Fatalf("v6 %+v", v6)
	}
	versions := e.do("ListPolicyVersions", "PolicyArn", arn).(listPolicyVersionsResult).Versions.Items
	var ids []string
	for _, v := range versions {
		ids = append(ids, v.VersionID)
		if v.IsDefaultVersion != (v.VersionID == "v6") || v.Document != "" {
			t.Fatalf("listed version %+v", v)
		}
	}
	if !reflect.DeepEqual(ids, []string{"v6", "v5", "v4", "v3", "v1"}) {
		t.Fatalf("ListPolicyVersions %v", ids)
	}
	gv := e.do("GetPolicyVersion", "PolicyArn", arn, "VersionId", "v1").(policyVersionResult).PolicyVersion
	if dec, _ := url.QueryUnescape(gv.Document); dec != doc1 || gv.IsDefaultVersion {
		t.Fatalf("GetPolicyVersion %+v", gv)
	}
	e.fail("NoSuchEntity", 404, "", "GetPolicyVersion", "PolicyArn", arn, "VersionId", "v9")
	e.fail("ValidationError", 400, "versionId", "GetPolicyVersion", "PolicyArn", arn, "VersionId", "1")
	e.do("SetDefaultPolicyVersion", "PolicyArn", arn, "VersionId", "v1")
	if p := e.do("GetPolicy", "PolicyArn", arn).(policyResult).Policy; p.DefaultVersionID != "v1" {
		t.Fatalf("default %+v", p)
	}
	e.fail("NoSuchEntity", 404, "", "SetDefaultPolicyVersion", "PolicyArn", arn, "VersionId", "v2")

	// Attachments and AttachmentCount.
	e.user("alice")
	e.do("CreateGroup", "GroupName", "devs")
	e.do("AttachUserPolicy", "UserName", "alice", "PolicyArn", arn)
	e.do("AttachUserPolicy", "UserName", "alice", "PolicyArn", arn) // idempotent
	e.do("AttachGroupPolicy", "GroupName", "devs", "PolicyArn", arn)
	e.do("AttachUserPolicy", "UserName", "alice", "PolicyArn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")
	if p := e.do("GetPolicy", "PolicyArn", arn).(policyResult).Policy; p.AttachmentCount != 2 {
		t.Fatalf("AttachmentCount %d", p.AttachmentCount)
	}
	att := e.do("ListAttachedUserPolicies", "UserName", "alice").(listAttachedPoliciesResult).AttachedPolicies.Items
	if !reflect.DeepEqual(att, []xmlAttachedPolicy{{"IAMReadOnlyAccess", "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}, {"ReadDB", arn}}) {
		t.Fatalf("ListAttachedUserPolicies %+v", att)
	}
	if att := e.do("ListAttachedUserPolicies", "UserName", "alice", "PathPrefix", "/team/").(listAttachedPoliciesResult).AttachedPolicies.Items; len(att) != 1 {
		t.Fatalf("PathPrefix %+v", att)
	}
	if att := e.do("ListAttachedGroupPolicies", "GroupName", "devs").(listAttachedPoliciesResult).AttachedPolicies.Items; len(att) != 1 || att[0].PolicyArn != arn {
		t.Fatalf("ListAttachedGroupPolicies %+v", att)
	}
	e.fail("NoSuchEntity", 404, "does not exist or is not attachable", "AttachUserPolicy", "UserName", "alice", "PolicyArn", "arn:aws:iam::aws:policy/NoSuchPolicy")
	e.fail("NoSuchEntity", 404, "does not exist or is not attachable", "AttachUserPolicy", "UserName", "alice", "PolicyArn", "arn:aws:iam::999999999999:policy/ReadDB")
	e.fail("InvalidInput", 400, "is not valid", "AttachUserPolicy", "UserName", "alice", "PolicyArn", "arn:aws:s3:::bucket/key/object")
	e.fail("NoSuchEntity", 404, "was not found", "DetachUserPolicy", "UserName", "alice", "PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess")

	// DeletePolicy: not while attached, not while it has other versions.
	e.fail("DeleteConflict", 409, "attached to entities", "DeletePolicy", "PolicyArn", arn)
	e.do("DetachUserPolicy", "UserName", "alice", "PolicyArn", arn)
	e.do("DetachGroupPolicy", "GroupName", "devs", "PolicyArn", arn)
	e.fail("DeleteConflict", 409, "more than one version", "DeletePolicy", "PolicyArn", arn)
	for _, v := range []string{"v3", "v4", "v5", "v6"} {
		e.do("DeletePolicyVersion", "PolicyArn", arn, "VersionId", v)
	}
	e.do("DeletePolicy", "PolicyArn", arn)
	e.fail("NoSuchEntity", 404, "Policy "+arn+" was not found.", "GetPolicy", "PolicyArn", arn)
}

func TestAWSManagedPolicies(t *testing.T) {
	e := newEnv(t)
	r := e.do("ListPolicies", "Scope", "AWS").(listPoliciesResult)
	var names []string
	for _, p := range r.Policies.Items {
		names = append(names, p.PolicyName)
		if !strings.HasPrefix(p.Arn, "arn:aws:iam::aws:policy/") || p.Path != "/" || !strings.HasPrefix(p.PolicyID, "ANPA") {
			t.Fatalf("AWS policy %+v", p)
		}
	}
	want := []string{"AdministratorAccess", "AmazonEC2ReadOnlyAccess", "AmazonRDSFullAccess", "AmazonRDSReadOnlyAccess", "IAMFullAccess", "IAMReadOnlyAccess"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("AWS managed policies %v", names)
	}
	const ro = "arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"
	p := e.do("GetPolicy", "PolicyArn", ro).(policyResult).Policy
	if p.PolicyID != "ANPAJKTTTYV2IIHKLZ346" || p.Description == "" || p.DefaultVersionID == "" {
		t.Fatalf("GetPolicy %+v", p)
	}
	v := e.do("GetPolicyVersion", "PolicyArn", ro, "VersionId", p.DefaultVersionID).(policyVersionResult).PolicyVersion
	dec, _ := url.QueryUnescape(v.Document)
	if !v.IsDefaultVersion || !strings.Contains(dec, `"rds:Describe*"`) || !strings.Contains(dec, `"rds:ListTagsForResource"`) {
		t.Fatalf("AWS document %s", dec)
	}
	// They cannot be changed: they are in the "aws" account.
	e.fail("AccessDenied", 403, "iam:DeletePolicy", "DeletePolicy", "PolicyArn", ro)
	e.fail("AccessDenied", 403, "iam:CreatePolicyVersion", "CreatePolicyVersion", "PolicyArn", ro, "PolicyDocument", allow("*", "*"))
	e.fail("AccessDenied", 403, "", "DeletePolicyVersion", "PolicyArn", ro, "VersionId", p.DefaultVersionID)
	e.fail("AccessDenied", 403, "", "SetDefaultPolicyVersion", "PolicyArn", ro, "VersionId", "v1")

	// Scope, OnlyAttached, paging across both kinds.
	e.do("CreatePolicy", "PolicyName", "Mine", "PolicyDocument", allow("rds:*", "*"))
	if l := e.do("ListPolicies", "Scope", "Local").(listPoliciesResult).Policies.Items; len(l) != 1 || l[0].PolicyName != "Mine" {
		t.Fatalf("Local %+v", l)
	}
	e.user("u")
	e.do("AttachUserPolicy", "UserName", "u", "PolicyArn", ro)
	if l := e.do("ListPolicies", "OnlyAttached", "true").(listPoliciesResult).Policies.Items; len(l) != 1 || l[0].Arn != ro || l[0].AttachmentCount != 1 {
		t.Fatalf("OnlyAttached %+v", l)
	}
	var all []string
	marker := ""
	for {
		r := e.do("ListPolicies", "MaxItems", "4", "Marker", marker).(listPoliciesResult)
		for _, p := range r.Policies.Items {
			all = append(all, p.PolicyName)
		}
		if !r.IsTruncated {
			break
		}
		marker = r.Marker
	}
	if !reflect.DeepEqual(all, append(want, "Mine")) {
		t.Fatalf("ListPolicies pages %v", all)
	}
	e.fail("ValidationError", 400, "scope", "ListPolicies", "Scope", "Mine")
}

func TestPoliciesForCollectsUserAndGroupPolicies(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	e.do("CreateGroup", "GroupName", "devs")
	e.do("AddUserToGroup", "GroupName", "devs", "UserName", "alice")
	e.do("PutUserPolicy", "UserName", "alice", "PolicyName", "user-inline", "PolicyDocument", allow("rds:DescribeDBClusters", "*"))
	e.do("PutGroupPolicy", "GroupName", "devs", "PolicyName", "group-inline", "PolicyDocument", allow("rds:CreateDBCluster", "*"))
	const userManaged = "arn:aws:iam::123456789012:policy/UserManaged"
	const groupManaged = "arn:aws:iam::123456789012:policy/GroupManaged"
	e.do("CreatePolicy", "PolicyName", "UserManaged", "PolicyDocument", allow("rds:DeleteDBCluster", "*"))
	e.do("CreatePolicy", "PolicyName", "GroupManaged", "PolicyDocument", allow("rds:ModifyDBCluster", "*"))
	// A non-default version must not count.
	e.do("CreatePolicyVersion", "PolicyArn", groupManaged, "PolicyDocument", allow("rds:RebootDBCluster", "*"))
	e.do("AttachUserPolicy", "UserName", "alice", "PolicyArn", userManaged)
	e.do("AttachGroupPolicy", "GroupName", "devs", "PolicyArn", groupManaged)
	e.do("AttachGroupPolicy", "GroupName", "devs", "PolicyArn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")

	ctx := context.Background()
	k := e.key("alice")
	p, err := e.svc.Authenticate(ctx, k.AccessKeyID, "")
	if err != nil {
		t.Fatal(err)
	}
	policies, names, err := e.svc.PoliciesFor(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"user-inline", userManaged, "group-inline", groupManaged, "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}
	if !reflect.DeepEqual(names, wantNames) || len(policies) != len(names) {
		t.Fatalf("PoliciesFor names %v", names)
	}
	decide := func(action string) policy.Decision {
		return policy.Evaluate(policy.Request{Action: action, Resource: "arn:aws:rds:us-east-1:123456789012:cluster:c1"}, policies).Decision
	}
	for _, a := range []string{"rds:DescribeDBClusters", "rds:CreateDBCluster", "rds:DeleteDBCluster", "rds:ModifyDBCluster", "iam:ListUsers"} {
		if d := decide(a); d != policy.Allow {
			t.Errorf("%s: %v", a, d)
		}
	}
	for _, a := range []string{"rds:RebootDBCluster", "iam:CreateUser", "ec2:DescribeVpcs"} {
		if d := decide(a); d != policy.ImplicitDeny {
			t.Errorf("%s: %v", a, d)
		}
	}
	// Switching the default version switches what applies.
	e.do("SetDefaultPolicyVersion", "PolicyArn", groupManaged, "VersionId", "v2")
	policies, _, _ = e.svc.PoliciesFor(ctx, p)
	if decide("rds:RebootDBCluster") != policy.Allow || decide("rds:ModifyDBCluster") != policy.ImplicitDeny {
		t.Fatal("the default version did not take effect")
	}
	// The root user has no policies (it is allowed everything); a deleted user none.
	if ps, ns, err := e.svc.PoliciesFor(ctx, e.svc.RootPrincipal(rootKeyID)); ps != nil || ns != nil || err != nil {
		t.Fatal("root has policies")
	}
	if ps, _, err := e.svc.PoliciesFor(ctx, principal.Principal{Type: principal.User, UserID: "AIDAGONEGONEGONEGONEG"}); ps != nil || err != nil {
		t.Fatalf("unknown user: %v %v", ps, err)
	}
}

func TestSimulatePrincipalPolicy(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "Tags.member.1.Key", "team", "Tags.member.1.Value", "db")
	e.do("CreateGroup", "GroupName", "devs")
	e.do("AddUserToGroup", "GroupName", "devs", "UserName", "alice")
	e.do("PutUserPolicy", "UserName", "alice", "PolicyName", "AllRDS", "PolicyDocument", allow("rds:*", "*"))
	e.do("PutGroupPolicy", "GroupName", "devs", "PolicyName", "ProtectProd", "PolicyDocument", deny("rds:Delete*", "arn:aws:rds:*:*:cluster:prod*"))
	e.do("AttachUserPolicy", "UserName", "alice", "PolicyArn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")
	e.do("PutUserPolicy", "UserName", "alice", "PolicyName", "Self", "PolicyDocument",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"arn:aws:iam::*:user/${aws:username}"},
		 {"Effect":"Allow","Action":"ec2:DescribeVpcs","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"db","ec2:Region":"us-east-1"}}}]}`)

	const prod = "arn:aws:rds:us-east-1:123456789012:cluster:prod-1"
	const dev = "arn:aws:rds:us-east-1:123456789012:cluster:dev-1"
	r := e.do("SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::123456789012:user/alice",
		"ActionNames.member.1", "rds:DeleteDBCluster", "ActionNames.member.2", "iam:CreateUser",
		"ResourceArns.member.1", prod, "ResourceArns.member.2", dev).(simulateResult)
	type row struct{ action, resource, decision, matched string }
	var got []row
	for _, er := range r.EvaluationResults.Items {
		var m []string
		for _, s := range er.MatchedStatements.Items {
			m = append(m, s.SourcePolicyType+":"+s.SourcePolicyID)
		}
		got = append(got, row{er.EvalActionName, er.EvalResourceName, er.EvalDecision, strings.Join(m, ",")})
	}
	want := []row{
		{"rds:DeleteDBCluster", prod, "explicitDeny", "group:ProtectProd"}, // deny beats allow
		{"rds:DeleteDBCluster", dev, "allowed", "user:AllRDS"},
		{"iam:CreateUser", prod, "implicitDeny", ""},
		{"iam:CreateUser", dev, "implicitDeny", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("results\n got %v\nwant %v", got, want)
	}

	// Resources default to "*"; global keys fill ${aws:username} and aws:PrincipalTag; keys
	// no one gave are reported missing.
	r = e.do("SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::123456789012:user/alice",
		"ActionNames.member.1", "iam:ListUsers", "ActionNames.member.2", "ec2:DescribeVpcs").(simulateResult)
	if len(r.EvaluationResults.Items) != 2 {
		t.Fatalf("%+v", r)
	}
	list, vpcs := r.EvaluationResults.Items[0], r.EvaluationResults.Items[1]
	if list.EvalResourceName != "*" || list.EvalDecision != "allowed" || list.MatchedStatements.Items[0].SourcePolicyID != "arn:aws:iam::aws:policy/IAMReadOnlyAccess" ||
		list.MatchedStatements.Items[0].SourcePolicyType != "aws-managed" {
		t.Fatalf("ListUsers %+v", list)
	}
	if vpcs.EvalDecision != "implicitDeny" || !reflect.DeepEqual(vpcs.MissingContextValues.Items, []string{"ec2:Region"}) {
		t.Fatalf("DescribeVpcs without ec2:Region %+v", vpcs)
	}
	r = e.do("SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::123456789012:user/alice",
		"ActionNames.member.1", "ec2:DescribeVpcs", "ActionNames.member.2", "iam:CreateAccessKey",
		"ResourceArns.member.1", "arn:aws:iam::123456789012:user/alice",
		"ContextEntries.member.1.ContextKeyName", "ec2:Region", "ContextEntries.member.1.ContextKeyType", "string",
		"ContextEntries.member.1.ContextKeyValues.member.1", "us-east-1").(simulateResult)
	for _, er := range r.EvaluationResults.Items {
		if er.EvalDecision != "allowed" || len(er.MissingContextValues.Items) != 0 {
			t.Fatalf("with context %+v", er)
		}
	}
	r = e.do("SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::123456789012:user/alice",
		"ActionNames.member.1", "iam:CreateAccessKey", "ResourceArns.member.1", "arn:aws:iam::123456789012:user/bob").(simulateResult)
	if r.EvaluationResults.Items[0].EvalDecision != "implicitDeny" {
		t.Fatal("${aws:username} matched another user")
	}

	// A group as the source; extra policies; errors.
	r = e.do("SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::123456789012:group/devs",
		"ActionNames.member.1", "rds:DeleteDBCluster", "ResourceArns.member.1", dev,
		"PolicyInputList.member.1", allow("rds:DeleteDBCluster", "*")).(simulateResult)
	if er := r.EvaluationResults.Items[0]; er.EvalDecision != "allowed" || er.MatchedStatements.Items[0].SourcePolicyID != "PolicyInputList.1" {
		t.Fatalf("group source %+v", er)
	}
	e.fail("NoSuchEntity", 404, "", "SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::123456789012:user/nobody", "ActionNames.member.1", "rds:*")
	e.fail("NoSuchEntity", 404, "", "SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::123456789012:user/other/alice", "ActionNames.member.1", "rds:*")
	e.fail("InvalidInput", 400, "", "SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::999999999999:user/alice", "ActionNames.member.1", "rds:*")
	e.fail("ValidationError", 400, "actionNames", "SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::123456789012:user/alice")
	e.fail("MalformedPolicyDocument", 400, "", "SimulatePrincipalPolicy", "PolicySourceArn", "arn:aws:iam::123456789012:user/alice",
		"ActionNames.member.1", "rds:*", "PolicyInputList.member.1", "{")
}

func TestAuthorizationNamesResources(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "Path", "/eng/", "Tags.member.1.Key", "team", "Tags.member.1.Value", "db")
	res, _ := e.svc.Authorization(e.root, "DeleteUser", params("UserName", "alice"))
	if len(res) != 1 || res[0].ARN != "arn:aws:iam::123456789012:user/eng/alice" || res[0].Keys["aws:ResourceTag/team"][0] != "db" {
		t.Fatalf("DeleteUser %+v", res)
	}
	res, _ = e.svc.Authorization(e.as("alice"), "CreateAccessKey", params())
	if res[0].ARN != "arn:aws:iam::123456789012:user/eng/alice" {
		t.Fatalf("own key %+v", res)
	}
	res, keys := e.svc.Authorization(e.root, "AttachGroupPolicy", params("GroupName", "g", "PolicyArn", "arn:aws:iam::aws:policy/IAMFullAccess"))
	if res[0].ARN != "arn:aws:iam::123456789012:group/g" || keys["iam:PolicyARN"][0] != "arn:aws:iam::aws:policy/IAMFullAccess" {
		t.Fatalf("AttachGroupPolicy %+v %v", res, keys)
	}
	res, keys = e.svc.Authorization(e.root, "CreateUser", params("UserName", "bob", "Tags.member.1.Key", "k", "Tags.member.1.Value", "v"))
	if res[0].ARN != "arn:aws:iam::123456789012:user/bob" || keys["aws:RequestTag/k"][0] != "v" || keys["aws:TagKeys"][0] != "k" {
		t.Fatalf("CreateUser %+v %v", res, keys)
	}
	if res, _ := e.svc.Authorization(e.root, "ListUsers", params()); res[0].ARN != "*" {
		t.Fatalf("ListUsers %+v", res)
	}
	if res, _ := e.svc.Authorization(e.root, "GetUser", params()); res[0].ARN != "arn:aws:iam::123456789012:root" {
		t.Fatalf("root GetUser %+v", res)
	}
}

// Every action answers any request with a result or a client error: never a panic, never
// an internal error, whoever calls (even an unauthenticated context).
func TestEveryActionIsSafeForAnyInput(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	actions := []string{"CreateUser", "GetUser", "ListUsers", "DeleteUser", "TagUser", "UntagUser", "ListUserTags",
		"CreateGroup", "GetGroup", "ListGroups", "DeleteGroup", "AddUserToGroup", "RemoveUserFromGroup", "ListGroupsForUser",
		"CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey",
		"CreateLoginProfile", "GetLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile",
		"GetAccountPasswordPolicy", "UpdateAccountPasswordPolicy", "DeleteAccountPasswordPolicy",
		"PutUserPolicy", "GetUserPolicy", "ListUserPolicies", "DeleteUserPolicy",
		"PutGroupPolicy", "GetGroupPolicy", "ListGroupPolicies", "DeleteGroupPolicy",
		"CreatePolicy", "GetPolicy", "ListPolicies", "DeletePolicy", "CreatePolicyVersion", "GetPolicyVersion",
		"ListPolicyVersions", "DeletePolicyVersion", "SetDefaultPolicyVersion",
		"AttachUserPolicy", "DetachUserPolicy", "ListAttachedUserPolicies",
		"AttachGroupPolicy", "DetachGroupPolicy", "ListAttachedGroupPolicies", "SimulatePrincipalPolicy", "NoSuchAction",
		"ChangePassword", "CreateAccountAlias", "ListAccountAliases", "DeleteAccountAlias",
		"CreateVirtualMFADevice", "EnableMFADevice", "ListMFADevices", "ListVirtualMFADevices", "DeactivateMFADevice", "DeleteVirtualMFADevice"}
	inputs := []awsquery.Params{
		params(),
		params("UserName", "alice", "GroupName", "x", "PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess", "VersionId", "v1",
			"AccessKeyId", "AKIA0000000000000000", "Status", "Inactive", "PolicyName", "p", "PolicyDocument", "{}", "Password", "x",
			"MaxItems", "-1", "Marker", "%%%", "PolicySourceArn", "arn:", "ActionNames.member.1", "", "Tags.member.1.Key", "",
			"OldPassword", "x", "NewPassword", "", "AccountAlias", "--", "VirtualMFADeviceName", "d", "SerialNumber", "arn:aws:iam::123456789012:mfa/d",
			"AuthenticationCode1", "123456", "AuthenticationCode2", "654321", "AssignmentStatus", "Any"),
		params("UserName", strings.Repeat("x", 300), "PolicyArn", "arn:aws:iam::123456789012:policy/"+strings.Repeat("/", 10)),
	}
	contexts := map[string]context.Context{"root": e.root, "alice": e.as("alice"), "anonymous": context.Background()}
	for who, ctx := range contexts {
		for _, a := range actions {
			for i, in := range inputs {
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("%s as %s, input %d: panic %v", a, who, i, r)
						}
					}()
					_, err := e.svc.Do(ctx, a, in)
					var ae *awsquery.Error
					if err != nil && (!errors.As(err, &ae) || ae.Status >= 500) {
						t.Errorf("%s as %s, input %d: %v", a, who, i, err)
					}
				}()
			}
		}
	}
	if _, err := e.svc.STS().Do(context.Background(), "GetCallerIdentity", params()); err == nil {
		t.Error("GetCallerIdentity without a caller")
	}
}
