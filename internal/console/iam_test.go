package console

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
)

// fakeIAM answers the few IAM actions a user's page needs, in IAM's response shapes.
type fakeIAM struct{ actions []string }

const fakeSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

func (f *fakeIAM) call(_ context.Context, _ principal.Principal, _, action string, v url.Values, _ *http.Request) (any, error) {
	f.actions = append(f.actions, action)
	switch action {
	case "GetUser":
		return struct{ User iamUserView }{iamUserView{UserName: v.Get("UserName"), Arn: "arn:aws:iam::123456789012:user/" + v.Get("UserName")}}, nil
	case "CreateAccessKey":
		return struct{ AccessKey newKeyView }{newKeyView{AccessKeyId: "AKIAEXAMPLE", SecretAccessKey: fakeSecret}}, nil
	case "GetLoginProfile":
		return nil, awsquery.Errorf(http.StatusNotFound, "NoSuchEntity", "The user with name %s cannot be found.", v.Get("UserName"))
	case "PutUserPolicy":
		if !json.Valid([]byte(v.Get("PolicyDocument"))) {
			return nil, awsquery.Errorf(http.StatusBadRequest, "MalformedPolicyDocument", "Syntax errors in policy.")
		}
	}
	return nil, nil
}

// signedInConsole is a console over fake, with a signed-in session's cookie.
func signedInConsole(t *testing.T, fake *fakeIAM, logs io.Writer) (*Console, *http.Cookie) {
	t.Helper()
	c, err := New(Config{Call: fake.call, Auth: &fakeAuth{}, AccountID: "123456789012", Region: "us-east-1", Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.sessions.start(rec, httptest.NewRequest("POST", "/console/signin", nil),
		&session{principal: principal.Principal{ARN: "arn:aws:iam::123456789012:user/admin"}, user: "admin", stage: stageDone})
	return c, rec.Result().Cookies()[0]
}

func serve(c *Console, ck *http.Cookie, method, path string, form url.Values) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.AddCookie(ck)
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, r)
	return rec
}

func TestNewAccessKeySecretIsRenderedOnce(t *testing.T) {
	var logs bytes.Buffer
	fake := &fakeIAM{}
	c, ck := signedInConsole(t, fake, &logs)
	rec := serve(c, ck, "POST", "/console/iam/users/alice/access-keys", url.Values{})
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), fakeSecret) {
		t.Fatalf("create answered %d without the secret:\n%s", rec.Code, rec.Body)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("the secret's page may be cached: %q", rec.Header().Get("Cache-Control"))
	}
	again := serve(c, ck, "GET", "/console/iam/users/alice", nil)
	if again.Code != http.StatusOK || strings.Contains(again.Body.String(), fakeSecret) || strings.Contains(again.Body.String(), "New access key") {
		t.Fatalf("the user's page after the create (%d) shows the key again:\n%s", again.Code, again.Body)
	}
	for _, s := range c.sessions.byHash {
		if strings.Contains(s.notice+s.errText, fakeSecret) {
			t.Fatal("the secret is in the session")
		}
	}
	if strings.Contains(logs.String(), fakeSecret) {
		t.Fatalf("the secret is in the log:\n%s", logs.String())
	}
}

func TestRefusedInlinePolicyKeepsTheTypedText(t *testing.T) {
	fake := &fakeIAM{}
	c, ck := signedInConsole(t, fake, io.Discard)
	typed := `{"Version": "2012-10-17", "Statement": [ oops`
	rec := serve(c, ck, "POST", "/console/iam/users/alice/inline", url.Values{"policy_name": {"mine"}, "policy_document": {typed}})
	body := rec.Body.String()
	if rec.Code != http.StatusBadRequest || !strings.Contains(body, "MalformedPolicyDocument: Syntax errors in policy.") {
		t.Fatalf("a malformed policy answered %d:\n%s", rec.Code, body)
	}
	if !strings.Contains(body, `{&#34;Version&#34;: &#34;2012-10-17&#34;, &#34;Statement&#34;: [ oops</textarea>`) || !strings.Contains(body, `value="mine"`) {
		t.Fatalf("the typed policy is not in the editor:\n%s", body)
	}
	rec = serve(c, ck, "POST", "/console/iam/users/alice/inline", url.Values{"policy_name": {"mine"}, "policy_document": {`{"Version":"2012-10-17","Statement":[]}`}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/iam/users/alice?policy=mine#inline" {
		t.Fatalf("a valid policy answered %d to %q", rec.Code, rec.Header().Get("Location"))
	}
}

func TestViewHelpers(t *testing.T) {
	if got := policyDocument("%7B%22Version%22%3A%20%222012-10-17%22%7D"); got != `{"Version": "2012-10-17"}` {
		t.Fatalf("policyDocument: %q", got)
	}
	if got := policyDocument("100%"); got != "100%" {
		t.Fatalf("an undecodable document: %q", got)
	}
	if got := splitActions(" rds:CreateDBCluster,iam:ListUsers\n s3:GetObject ,"); !reflect.DeepEqual(got, []string{"rds:CreateDBCluster", "iam:ListUsers", "s3:GetObject"}) {
		t.Fatalf("splitActions: %q", got)
	}
	v := simulateValues("arn:aws:iam::1:user/a", []string{"rds:A", "rds:B"}, "arn:x")
	if v.Get("ActionNames.member.2") != "rds:B" || v.Get("ResourceArns.member.1") != "arn:x" || v.Get("PolicySourceArn") != "arn:aws:iam::1:user/a" {
		t.Fatalf("simulateValues: %v", v)
	}
	if h := (holder{Kind: "Group", Name: "db admins"}); h.Path() != "/console/iam/groups/db%20admins" || h.values("PolicyName", "p").Get("GroupName") != "db admins" {
		t.Fatalf("holder: %q %v", h.Path(), h.values())
	}
	if day("2024-05-01T10:00:00Z") != "2024-05-01" {
		t.Fatal("day")
	}
}
