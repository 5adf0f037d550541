package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
)

// TestRolePageShowsTrustPolicyAndBoundary: a role's page shows its trust policy as written
// (IAM sends it URL-encoded) and its boundary; a refused trust policy keeps the typed text.
func TestRolePageShowsTrustPolicyAndBoundary(t *testing.T) {
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}`
	call := func(_ context.Context, _ principal.Principal, _, action string, v url.Values, _ *http.Request) (any, error) {
		switch action {
		case "GetRole":
			r := roleView{RoleName: v.Get("RoleName"), Arn: "arn:aws:iam::123456789012:role/" + v.Get("RoleName"), MaxSessionDuration: 3600,
				AssumeRolePolicyDocument: strings.ReplaceAll(url.QueryEscape(trust), "+", "%20")}
			r.PermissionsBoundary.PermissionsBoundaryArn = "arn:aws:iam::123456789012:policy/B"
			return struct{ Role roleView }{r}, nil
		case "UpdateAssumeRolePolicy":
			return nil, awsquery.Errorf(http.StatusBadRequest, "MalformedPolicyDocument", "Syntax errors in policy.")
		}
		return nil, nil
	}
	c, err := New(Config{Call: call, Auth: &fakeAuth{}, AccountID: "123456789012", Region: "us-east-1", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.sessions.start(rec, httptest.NewRequest("POST", "/console/signin", nil),
		&session{principal: principal.Principal{ARN: "arn:aws:iam::123456789012:user/admin"}, user: "admin", stage: stageDone})
	ck := rec.Result().Cookies()[0]

	page := serve(c, ck, "GET", "/console/iam/roles/App", nil)
	body := page.Body.String()
	if page.Code != http.StatusOK || !strings.Contains(body, `&#34;Principal&#34;:{&#34;AWS&#34;:&#34;arn:aws:iam::123456789012:user/alice&#34;}`) ||
		!strings.Contains(body, "arn:aws:iam::123456789012:policy/B") || !strings.Contains(body, "1 h") {
		t.Fatalf("role page (%d):\n%s", page.Code, body)
	}
	typed := `{"Version": oops`
	refused := serve(c, ck, "POST", "/console/iam/roles/App/trust", url.Values{"trust_policy": {typed}})
	if refused.Code != http.StatusBadRequest || !strings.Contains(refused.Body.String(), `{&#34;Version&#34;: oops</textarea>`) ||
		!strings.Contains(refused.Body.String(), "MalformedPolicyDocument") {
		t.Fatalf("refused trust policy (%d):\n%s", refused.Code, refused.Body)
	}
}

// TestSwitchRoleRunsTheConsoleAsTheRoleSession: after "switch role" every API call of the
// console is the role session's, the header says who signed in, switching back restores
// the user, and a session that stops being valid ends the switch with a message.
func TestSwitchRoleRunsTheConsoleAsTheRoleSession(t *testing.T) {
	roleARN := "arn:aws:iam::123456789012:role/Ops"
	sessionARN := "arn:aws:sts::123456789012:assumed-role/Ops/admin"
	var callers []string
	var assumed url.Values
	call := func(_ context.Context, p principal.Principal, service, action string, v url.Values, _ *http.Request) (any, error) {
		callers = append(callers, action+" as "+p.ARN)
		if service == "sts" && action == "AssumeRole" {
			assumed = v
			var out struct {
				Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
			}
			out.Credentials.AccessKeyId, out.Credentials.SecretAccessKey, out.Credentials.SessionToken = "ASIAEXAMPLE", "secret", "token-ASIAEXAMPLE"
			return out, nil
		}
		return nil, nil
	}
	auth := &fakeAuth{roleSessions: map[string]principal.Principal{"ASIAEXAMPLE": {Type: principal.AssumedRole, ARN: sessionARN}}}
	c, err := New(Config{Call: call, Auth: auth, AccountID: "123456789012", Region: "us-east-1", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.sessions.start(rec, httptest.NewRequest("POST", "/console/signin", nil),
		&session{principal: principal.Principal{Type: principal.User, ARN: "arn:aws:iam::123456789012:user/admin"}, user: "admin", stage: stageDone})
	ck := rec.Result().Cookies()[0]

	// Another site cannot make the browser switch.
	forged := httptest.NewRequest("POST", "/console/switchrole", strings.NewReader(url.Values{"role_arn": {roleARN}}.Encode()))
	forged.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	forged.Header.Set("Sec-Fetch-Site", "cross-site")
	forged.AddCookie(ck)
	frec := httptest.NewRecorder()
	c.ServeHTTP(frec, forged)
	if frec.Code != http.StatusForbidden || assumed != nil {
		t.Fatalf("a cross-site switch answered %d, AssumeRole %v", frec.Code, assumed)
	}
	sw := serve(c, ck, "POST", "/console/switchrole", url.Values{"role_arn": {roleARN}, "back": {"/console/iam/roles/Ops"}})
	if sw.Code != http.StatusSeeOther || assumed.Get("RoleArn") != roleARN || assumed.Get("RoleSessionName") != "admin" || callers[len(callers)-1] != "AssumeRole as arn:aws:iam::123456789012:user/admin" {
		t.Fatalf("switch: %d %v %v", sw.Code, assumed, callers)
	}
	callers = nil
	page := serve(c, ck, "GET", "/console/iam/roles", nil)
	body := page.Body.String()
	if !strings.Contains(body, sessionARN+" · us-east-1") || !strings.Contains(body, "signed in as arn:aws:iam::123456789012:user/admin") || !strings.Contains(body, "Switch back") {
		t.Fatalf("header while switched:\n%s", body)
	}
	if len(callers) == 0 || callers[0] != "ListRoles as "+sessionARN {
		t.Fatalf("calls while switched: %v", callers)
	}
	if strings.Contains(body, "token-ASIAEXAMPLE") {
		t.Fatal("the session token is in the page")
	}
	serve(c, ck, "POST", "/console/switchrole/back", url.Values{})
	callers = nil
	serve(c, ck, "GET", "/console/iam/roles", nil)
	if callers[0] != "ListRoles as arn:aws:iam::123456789012:user/admin" {
		t.Fatalf("after switching back: %v", callers)
	}

	// The session expires (or its role is deleted): the next request is the user's again.
	serve(c, ck, "POST", "/console/switchrole", url.Values{"role_arn": {roleARN}})
	auth.mu.Lock()
	delete(auth.roleSessions, "ASIAEXAMPLE")
	auth.mu.Unlock()
	ended := serve(c, ck, "GET", "/console/iam/roles", nil)
	if ended.Code != http.StatusSeeOther {
		t.Fatalf("expired role session answered %d", ended.Code)
	}
	callers = nil
	again := serve(c, ck, "GET", "/console/iam/roles", nil).Body.String()
	if !strings.Contains(again, "The role session ended (ExpiredToken") || callers[0] != "ListRoles as arn:aws:iam::123456789012:user/admin" {
		t.Fatalf("after the session ended: %v\n%s", callers, again)
	}
}
