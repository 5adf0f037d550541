package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// The cluster page lists each instance with its role, promotion tier and endpoint, and
// shows the reader endpoint with its psql lines, built as the cluster endpoint's are.
func TestClusterPageShowsReadersAndTheReaderEndpoint(t *testing.T) {
	f := &fakeRDS{reader: true}
	c, ck := rdsConsole(t, f)
	c.cfg.NamesResolve, c.cfg.EndpointHostaddr = true, "127.0.0.1"
	got := body(t, serve(c, ck, "GET", "/console/databases/prod", nil))
	row := func(id string) string {
		m := regexp.MustCompile(`(?s)<tr id="instance-` + id + `">.*?</tr>`).FindString(got)
		if m == "" {
			t.Fatalf("no row for %s:\n%s", id, got)
		}
		return m
	}
	if w := row("prod-writer"); !strings.Contains(w, `class="role">Writer<`) || !strings.Contains(w, `class="tier">1<`) ||
		!strings.Contains(w, "prod-writer.abc.borealis.internal") {
		t.Errorf("writer row:\n%s", w)
	}
	if r := row("prod-r1"); !strings.Contains(r, `class="role">Reader<`) || !strings.Contains(r, `class="tier">0<`) ||
		!strings.Contains(r, "prod-r1.abc.borealis.internal") {
		t.Errorf("reader row:\n%s", r)
	}
	for id, want := range map[string]string{
		"psql":                 `psql "host=prod.cluster-abc.borealis.internal port=5432 dbname=postgres user=boss sslmode=verify-full sslrootcert=global-bundle.pem"`,
		"psql-hostaddr":        `psql "host=prod.cluster-abc.borealis.internal hostaddr=127.0.0.1 port=5432 dbname=postgres user=boss sslmode=verify-full sslrootcert=global-bundle.pem"`,
		"psql-reader":          `psql "host=prod.cluster-ro-abc.borealis.internal port=5432 dbname=postgres user=boss sslmode=verify-full sslrootcert=global-bundle.pem"`,
		"psql-reader-hostaddr": `psql "host=prod.cluster-ro-abc.borealis.internal hostaddr=127.0.0.1 port=5432 dbname=postgres user=boss sslmode=verify-full sslrootcert=global-bundle.pem"`,
	} {
		if !strings.Contains(got, `<pre id="`+id+`">`+strings.ReplaceAll(want, `"`, "&#34;")+`</pre>`) {
			t.Errorf("no %s line %s:\n%s", id, want, got)
		}
	}
	// The failover form offers the reader, and RDS's own choice.
	if !strings.Contains(got, `action="/console/databases/prod/failover"`) || !strings.Contains(got, `<option value="prod-r1">prod-r1 (tier 0)</option>`) ||
		!strings.Contains(got, `<option value="">`) {
		t.Errorf("failover form:\n%s", got)
	}
	if !strings.Contains(got, "<legend>Add reader</legend>") || !strings.Contains(got, `id="promotion_tier"`) {
		t.Errorf("add reader form:\n%s", got)
	}

	// Without readers there is nothing to fail over to; without DNS only the hostaddr line.
	f.reader = false
	c.cfg.NamesResolve = false
	got = body(t, serve(c, ck, "GET", "/console/databases/prod", nil))
	if strings.Contains(got, "/failover") {
		t.Errorf("a failover form without readers:\n%s", got)
	}
	if !strings.Contains(got, `<pre id="psql-reader">psql &#34;host=prod.cluster-ro-abc.borealis.internal hostaddr=127.0.0.1 `) || strings.Contains(got, `id="psql-reader-hostaddr"`) {
		t.Errorf("reader line without DNS:\n%s", got)
	}
}

// Add reader is CreateDBInstance into the cluster with the promotion tier; the tier is
// RDS's to check, and its error is what the page shows.
func TestAddReaderCallsCreateDBInstanceWithTheTier(t *testing.T) {
	f := &fakeRDS{}
	c, ck := rdsConsole(t, f)
	rec := serve(c, ck, "POST", "/console/databases/prod/instances", url.Values{"instance": {" prod-r1 "}, "class": {"db.r6g.large"}, "promotion_tier": {"0"}})
	v, ok := f.called("CreateDBInstance")
	if rec.Code != http.StatusSeeOther || !ok || v.Get("DBInstanceIdentifier") != "prod-r1" || v.Get("DBClusterIdentifier") != "prod" ||
		v.Get("PromotionTier") != "0" || v.Get("DBInstanceClass") != "db.r6g.large" || v.Get("Engine") != "aurora-postgresql" {
		t.Fatalf("add reader: %d %v %v", rec.Code, f.calls, v)
	}
	f.calls, f.values = nil, nil
	serve(c, ck, "POST", "/console/databases/prod/instances", url.Values{"instance": {"prod-r2"}, "class": {"db.r6g.large"}, "promotion_tier": {""}})
	if v, _ := f.called("CreateDBInstance"); v.Has("PromotionTier") {
		t.Fatalf("an empty tier was sent: %v", v)
	}

	f.failOn = map[string]error{"CreateDBInstance": awsquery.InvalidParameterValue("Invalid value 16 for PromotionTier: valid values are 0 through 15.")}
	rec = serve(c, ck, "POST", "/console/databases/prod/instances", url.Values{"instance": {"prod-r3"}, "class": {"db.r6g.large"}, "promotion_tier": {"16"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/databases/prod" {
		t.Fatalf("refused add answered %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if got := body(t, serve(c, ck, "GET", "/console/databases/prod", nil)); !strings.Contains(got, "InvalidParameterValue: Invalid value 16 for PromotionTier") {
		t.Fatalf("the page after a refused add:\n%s", got)
	}
}

// Failover is FailoverDBCluster, with the target when one is chosen; a refusal (IAM or
// RDS) is shown on the cluster page as every other action's.
func TestFailoverCallsFailoverDBCluster(t *testing.T) {
	f := &fakeRDS{reader: true}
	c, ck := rdsConsole(t, f)
	rec := serve(c, ck, "POST", "/console/databases/prod/failover", url.Values{"target": {"prod-r1"}})
	v, ok := f.called("FailoverDBCluster")
	if rec.Code != http.StatusSeeOther || !ok || v.Get("DBClusterIdentifier") != "prod" || v.Get("TargetDBInstanceIdentifier") != "prod-r1" {
		t.Fatalf("failover to prod-r1: %d %v %v", rec.Code, f.calls, v)
	}
	if got := body(t, serve(c, ck, "GET", "/console/databases/prod", nil)); !strings.Contains(got, "Failing over prod to prod-r1.") {
		t.Fatalf("the page after failover:\n%s", got)
	}
	f.calls, f.values = nil, nil
	serve(c, ck, "POST", "/console/databases/prod/failover", url.Values{"target": {""}})
	if v, ok := f.called("FailoverDBCluster"); !ok || v.Has("TargetDBInstanceIdentifier") {
		t.Fatalf("failover without a target: %v %v", f.calls, v)
	}

	f.failOn = map[string]error{"FailoverDBCluster": awsquery.Errorf(403, "AccessDenied",
		"User: arn:aws:iam::123456789012:user/admin is not authorized to perform: rds:FailoverDBCluster")}
	serve(c, ck, "POST", "/console/databases/prod/failover", url.Values{"target": {"prod-r1"}})
	if got := body(t, serve(c, ck, "GET", "/console/databases/prod", nil)); !strings.Contains(got, "AccessDenied: User: arn:aws:iam::123456789012:user/admin is not authorized to perform: rds:FailoverDBCluster") {
		t.Fatalf("the page after a denied failover:\n%s", got)
	}
}

// The new forms, as every console form, are refused from another site: no instance added,
// no failover.
func TestReaderFormsRefuseCrossSitePosts(t *testing.T) {
	for _, path := range []string{"/console/databases/prod/failover", "/console/databases/prod/instances"} {
		f := &fakeRDS{reader: true}
		c, ck := rdsConsole(t, f)
		r := httptest.NewRequest("POST", path, strings.NewReader("target=prod-r1&instance=evil&class=db.r6g.large"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", "https://evil.example")
		r.AddCookie(ck)
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, r)
		if rec.Code != http.StatusForbidden || len(f.calls) != 0 {
			t.Fatalf("cross-site POST %s: %d, calls %v", path, rec.Code, f.calls)
		}
	}
}
