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

// fakeRDS holds one cluster "prod" with a writer, and answers the cluster actions the
// console runs, as RDS does for deletion protection.
type fakeRDS struct {
	protected bool
	reader    bool             // the cluster also has a reader, prod-r1 (tier 0)
	calls     []string         // actions, in order
	values    []url.Values     // their parameters
	failOn    map[string]error // actions that fail
}

func (f *fakeRDS) call(_ context.Context, _ principal.Principal, _, action string, v url.Values, _ *http.Request) (any, error) {
	f.calls = append(f.calls, action)
	f.values = append(f.values, v)
	if err := f.failOn[action]; err != nil {
		return nil, err
	}
	switch action {
	case "DescribeDBClusters":
		cl := clusterView{DBClusterIdentifier: "prod", Status: "available", DeletionProtection: f.protected,
			Endpoint: "prod.cluster-abc.borealis.internal", ReaderEndpoint: "prod.cluster-ro-abc.borealis.internal", Port: 5432, MasterUsername: "boss",
			Members: []clusterMember{{DBInstanceIdentifier: "prod-writer", IsClusterWriter: true, PromotionTier: 1}}}
		if f.reader {
			cl.Members = append(cl.Members, clusterMember{DBInstanceIdentifier: "prod-r1", PromotionTier: 0})
		}
		return struct {
			Items []clusterView `xml:"DBClusters>DBCluster"`
		}{[]clusterView{cl}}, nil
	case "DescribeDBInstances":
		in := []instanceView{{DBInstanceIdentifier: "prod-writer", DBClusterIdentifier: "prod", DBInstanceStatus: "available", PromotionTier: 1}}
		in[0].Endpoint.Address = "prod-writer.abc.borealis.internal"
		if f.reader {
			r := instanceView{DBInstanceIdentifier: "prod-r1", DBClusterIdentifier: "prod", DBInstanceStatus: "available", PromotionTier: 0}
			r.Endpoint.Address = "prod-r1.abc.borealis.internal"
			in = append(in, r)
		}
		return struct {
			Items []instanceView `xml:"DBInstances>DBInstance"`
		}{in}, nil
	case "CreateDBCluster":
		f.protected = v.Get("DeletionProtection") == "true"
	case "ModifyDBCluster":
		if p := v.Get("DeletionProtection"); p != "" {
			f.protected = p == "true"
		}
	case "DeleteDBCluster":
		if f.protected {
			return nil, awsquery.InvalidParameterCombination("Cannot delete protected Cluster, please disable deletion protection and try again.")
		}
	}
	return nil, nil
}

func (f *fakeRDS) called(action string) (url.Values, bool) {
	for i, a := range f.calls {
		if a == action {
			return f.values[i], true
		}
	}
	return nil, false
}

func rdsConsole(t *testing.T, f *fakeRDS) (*Console, *http.Cookie) {
	t.Helper()
	c, err := New(Config{Call: f.call, Auth: &fakeAuth{}, AccountID: "123456789012", Region: "us-east-1", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.sessions.start(rec, httptest.NewRequest("POST", "/console/signin", nil),
		&session{principal: principal.Principal{ARN: "arn:aws:iam::123456789012:user/admin"}, user: "admin", stage: stageDone})
	return c, rec.Result().Cookies()[0]
}

func body(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	b, _ := io.ReadAll(rec.Result().Body)
	return string(b)
}

// The cluster page shows deletion protection and turns it on and off with ModifyDBCluster;
// the create form sets it with CreateDBCluster's own parameter.
func TestConsoleShowsAndTogglesDeletionProtection(t *testing.T) {
	f := &fakeRDS{protected: true}
	c, ck := rdsConsole(t, f)
	if got := body(t, serve(c, ck, "GET", "/console/databases/prod", nil)); !strings.Contains(got, `id="deletion-protection">Enabled<`) ||
		!strings.Contains(got, `name="deletion_protection" value="true" checked`) {
		t.Fatalf("cluster page does not show protection on:\n%s", got)
	}
	rec := serve(c, ck, "POST", "/console/databases/prod/modify", url.Values{"what": {"deletion_protection"}})
	if v, ok := f.called("ModifyDBCluster"); rec.Code != http.StatusSeeOther || !ok || v.Get("DeletionProtection") != "false" || v.Get("DBClusterIdentifier") != "prod" {
		t.Fatalf("turning protection off: %d %v %v", rec.Code, f.calls, v)
	}
	if got := body(t, serve(c, ck, "GET", "/console/databases/prod", nil)); !strings.Contains(got, `id="deletion-protection">Disabled<`) ||
		!strings.Contains(got, "Deletion protection of prod turned off.") {
		t.Fatalf("cluster page after turning protection off:\n%s", got)
	}
	serve(c, ck, "POST", "/console/databases/prod/modify", url.Values{"what": {"deletion_protection"}, "deletion_protection": {"true"}})
	if !f.protected {
		t.Fatal("protection not turned on again")
	}

	f.calls, f.values = nil, nil
	serve(c, ck, "POST", "/console/databases", url.Values{"id": {"new"}, "username": {"boss"}, "password": {"Boss-pass-123"},
		"class": {"db.r6g.large"}, "deletion_protection": {"true"}})
	if v, ok := f.called("CreateDBCluster"); !ok || v.Get("DeletionProtection") != "true" {
		t.Fatalf("create with protection: %v %v", f.calls, v)
	}
	f.calls, f.values = nil, nil
	serve(c, ck, "POST", "/console/databases", url.Values{"id": {"new2"}, "username": {"boss"}, "password": {"Boss-pass-123"}, "class": {"db.r6g.large"}})
	if v, ok := f.called("CreateDBCluster"); !ok || v.Has("DeletionProtection") {
		t.Fatalf("create without protection: %v %v", f.calls, v)
	}
}

// Deleting a protected cluster shows RDS's refusal, and no instance is deleted on the way.
func TestConsoleDeleteOfAProtectedClusterShowsRDSError(t *testing.T) {
	f := &fakeRDS{protected: true}
	c, ck := rdsConsole(t, f)
	rec := serve(c, ck, "POST", "/console/databases/prod/delete", url.Values{"confirm": {"prod"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/databases/prod" {
		t.Fatalf("delete answered %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if _, ok := f.called("DeleteDBInstance"); ok {
		t.Fatalf("an instance of a protected cluster was deleted: %v", f.calls)
	}
	if got := body(t, serve(c, ck, "GET", "/console/databases/prod", nil)); !strings.Contains(got,
		"InvalidParameterCombination: Cannot delete protected Cluster, please disable deletion protection and try again.") {
		t.Fatalf("the cluster page after a refused delete:\n%s", got)
	}
}

// A create whose writer fails is undone even when the new cluster is protected.
func TestConsoleUndoesAProtectedCreate(t *testing.T) {
	f := &fakeRDS{failOn: map[string]error{"CreateDBInstance": awsquery.Errorf(400, "InvalidParameterValue", "Bad class.")}}
	c, ck := rdsConsole(t, f)
	serve(c, ck, "POST", "/console/databases", url.Values{"id": {"prod"}, "username": {"boss"}, "password": {"Boss-pass-123"},
		"class": {"db.bad"}, "deletion_protection": {"true"}})
	if want := "CreateDBCluster CreateDBInstance ModifyDBCluster DeleteDBCluster"; !strings.Contains(strings.Join(f.calls, " "), want) || f.protected {
		t.Fatalf("undo: %v, protected %v", f.calls, f.protected)
	}
}

// The new form, like every console form, is refused from another site.
func TestDeletionProtectionFormRefusesCrossSitePosts(t *testing.T) {
	f := &fakeRDS{protected: true}
	c, ck := rdsConsole(t, f)
	r := httptest.NewRequest("POST", "/console/databases/prod/modify", strings.NewReader("what=deletion_protection"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.AddCookie(ck)
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, r)
	if rec.Code != http.StatusForbidden || !f.protected || len(f.calls) != 0 {
		t.Fatalf("cross-site POST: %d, calls %v", rec.Code, f.calls)
	}
}
