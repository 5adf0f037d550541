package console

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/principal"
)

// rawXML is a result whose XML is given as RDS writes it, element names from the model.
type rawXML struct {
	Inner string `xml:",innerxml"`
}

// failingRDS answers the describes with a cluster and writer that cannot start, each with
// the reason serve gives in StatusInfos.
func failingRDS(_ context.Context, _ principal.Principal, _, action string, _ url.Values, _ *http.Request) (any, error) {
	switch action {
	case "DescribeDBClusters":
		return rawXML{`<DBClusters><DBCluster><DBClusterIdentifier>prod</DBClusterIdentifier><Status>incompatible-parameters</Status>` +
			`<Endpoint>prod.cluster-abc.us-east-1.rds.borealis.localhost</Endpoint><Port>5432</Port><MasterUsername>boss</MasterUsername>` +
			`<StatusInfos><DBClusterStatusInfo><StatusType>cluster</StatusType><Normal>false</Normal><Status>incompatible-parameters</Status>` +
			`<Message>The cluster reason &lt;b&gt;.</Message></DBClusterStatusInfo></StatusInfos></DBCluster></DBClusters>`}, nil
	case "DescribeDBInstances":
		return rawXML{`<DBInstances><DBInstance><DBInstanceIdentifier>prod-writer</DBInstanceIdentifier><DBClusterIdentifier>prod</DBClusterIdentifier>` +
			`<DBInstanceStatus>incompatible-parameters</DBInstanceStatus><StatusInfos><DBInstanceStatusInfo><StatusType>instance</StatusType>` +
			`<Normal>false</Normal><Status>incompatible-parameters</Status><Message>The instance reason.</Message></DBInstanceStatusInfo>` +
			`</StatusInfos></DBInstance></DBInstances>`}, nil
	}
	return nil, nil
}

func consoleWith(t *testing.T, cfg Config) (*Console, *http.Cookie) {
	t.Helper()
	cfg.Auth, cfg.AccountID, cfg.Region, cfg.Log = &fakeAuth{}, "123456789012", "us-east-1", slog.New(slog.DiscardHandler)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.sessions.start(rec, httptest.NewRequest("POST", "/console/signin", nil),
		&session{principal: principal.Principal{ARN: "arn:aws:iam::123456789012:user/admin"}, user: "admin", stage: stageDone})
	return c, rec.Result().Cookies()[0]
}

// The cluster page and the list say why the cluster and its instance are not available,
// as DescribeDBClusters and DescribeDBInstances do (escaped as any text).
func TestConsoleShowsTheStatusReason(t *testing.T) {
	c, ck := consoleWith(t, Config{Call: failingRDS})
	page := body(t, serve(c, ck, "GET", "/console/databases/prod", nil))
	for _, want := range []string{
		`id="cluster-status-reason">The cluster reason &lt;b&gt;.<`,
		`id="status-reason-prod-writer">The instance reason.<`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("cluster page lacks %s:\n%s", want, page)
		}
	}
	list := body(t, serve(c, ck, "GET", "/console/databases", nil))
	for _, want := range []string{"The cluster reason &lt;b&gt;.", "The instance reason."} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	// A failure status is settled: the page does not reload under the forms that fix it.
	if strings.Contains(page, `http-equiv="refresh"`) || strings.Contains(list, `http-equiv="refresh"`) {
		t.Error("a page with a failed cluster reloads itself")
	}
	// An available cluster shows no reason line.
	f := &fakeRDS{}
	c, ck = rdsConsole(t, f)
	if page := body(t, serve(c, ck, "GET", "/console/databases/prod", nil)); strings.Contains(page, "status-reason") {
		t.Errorf("a reason for an available cluster:\n%s", page)
	}
}

// The connection line connects by the endpoint name, verify-full, when serve answers DNS
// for it; hostaddr only in the line for a host whose resolver does not ask serve, and
// then the address the endpoints listen on, not a fixed one.
func TestConsoleConnectsByTheEndpointName(t *testing.T) {
	const name = `psql "host=prod.cluster-abc.us-east-1.rds.borealis.localhost port=5432 dbname=postgres user=boss sslmode=verify-full sslrootcert=global-bundle.pem"`
	const viaAddr = `psql "host=prod.cluster-abc.us-east-1.rds.borealis.localhost hostaddr=10.1.2.3 port=5432 dbname=postgres user=boss sslmode=verify-full sslrootcert=global-bundle.pem"`
	for _, tc := range []struct {
		cfg          Config
		psql, second string
	}{
		{Config{NamesResolve: true, EndpointHostaddr: "10.1.2.3"}, name, viaAddr},
		{Config{NamesResolve: false, EndpointHostaddr: "10.1.2.3"}, viaAddr, ""},
		{Config{NamesResolve: true}, name, ""},
	} {
		tc.cfg.Call = failingRDS
		c, ck := consoleWith(t, tc.cfg)
		page := body(t, serve(c, ck, "GET", "/console/databases/prod", nil))
		if !strings.Contains(page, `<pre id="psql">`+htmlEscape(tc.psql)+`</pre>`) {
			t.Errorf("%+v: #psql is not %s:\n%s", tc.cfg, tc.psql, page)
		}
		if got := strings.Contains(page, `id="psql-hostaddr"`); got != (tc.second != "") ||
			tc.second != "" && !strings.Contains(page, `<pre id="psql-hostaddr">`+htmlEscape(tc.second)+`</pre>`) {
			t.Errorf("%+v: #psql-hostaddr is not %q:\n%s", tc.cfg, tc.second, page)
		}
		if strings.Contains(page, "127.0.0.1") {
			t.Errorf("%+v: a fixed address in the page", tc.cfg)
		}
	}
}

func htmlEscape(s string) string { return strings.ReplaceAll(s, `"`, "&#34;") }
