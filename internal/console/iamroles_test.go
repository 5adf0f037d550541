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
