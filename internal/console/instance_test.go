package console

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/principal"
)

// fakeLogs answers the instance page's calls: one event, one log file of two portions.
type fakeLogs struct {
	calls  []url.Values
	failOn map[string]error
}

func (f *fakeLogs) call(_ context.Context, _ principal.Principal, _, action string, v url.Values, _ *http.Request) (any, error) {
	v.Set("Action", action)
	f.calls = append(f.calls, v)
	if err := f.failOn[action]; err != nil {
		return nil, err
	}
	type portion struct {
		LogFileData           string
		Marker                string
		AdditionalDataPending bool
	}
	switch action {
	case "DescribeEvents":
		return struct {
			Items []eventView `xml:"Events>Event"`
		}{[]eventView{{Date: "2026-01-01T00:00:00Z", Message: "DB instance restarted", EventCategories: []string{"availability"}}}}, nil
	case "DescribeDBLogFiles":
		return struct {
			Items []logFileView `xml:"DescribeDBLogFiles>DescribeDBLogFilesDetails"`
		}{[]logFileView{{LogFileName: "error/postgresql.log", LastWritten: 1767225600000, Size: 42}}}, nil
	case "DownloadDBLogFilePortion":
		if v.Get("Marker") == "0" {
			return portion{"first <b>line</b>\n", "18", true}, nil
		}
		return portion{"second line\n", "30", false}, nil
	}
	return nil, nil
}

func logsConsole(t *testing.T, f *fakeLogs) (*Console, *http.Cookie) {
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

// The instance page shows its events and log files, a portion of a log from a marker with
// a link to the next one (escaped: a log is the database users' text), and downloads a
// whole log portion by portion, each an RDS call as the signed-in user.
func TestInstancePageShowsEventsAndLogs(t *testing.T) {
	f := &fakeLogs{}
	c, ck := logsConsole(t, f)
	got := body(t, serve(c, ck, "GET", "/console/instances/prod-writer?cluster=prod&file=error/postgresql.log&marker=0", nil))
	for _, want := range []string{`<td class="event-message">DB instance restarted</td>`, "<td>error/postgresql.log</td>", "2026-01-01 00:00:00 UTC",
		`<pre id="log-portion">first &lt;b&gt;line&lt;/b&gt;`, `id="log-next" href="/console/instances/prod-writer?cluster=prod&amp;file=error%2fpostgresql.log&amp;marker=18"`} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks %q:\n%s", want, got)
		}
	}
	if v := f.calls[0]; v.Get("Action") != "DescribeEvents" || v.Get("SourceType") != "db-instance" || v.Get("SourceIdentifier") != "prod-writer" {
		t.Errorf("events call %v", v)
	}
	rec := serve(c, ck, "GET", "/console/instances/prod-writer/log?file=error/postgresql.log", nil)
	if got := body(t, rec); rec.Code != 200 || got != "first <b>line</b>\nsecond line\n" || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("download: %d %q %v", rec.Code, got, rec.Header())
	}

	// IAM refuses the logs: the events still show, the refusal says why.
	f.failOn = map[string]error{"DescribeDBLogFiles": awsquery.Errorf(403, "AccessDenied", "User: arn:aws:iam::123456789012:user/admin is not authorized to perform: rds:DescribeDBLogFiles")}
	got = body(t, serve(c, ck, "GET", "/console/instances/prod-writer", nil))
	if !strings.Contains(got, "AccessDenied: User: arn:aws:iam::123456789012:user/admin is not authorized to perform: rds:DescribeDBLogFiles") ||
		!strings.Contains(got, "DB instance restarted") {
		t.Errorf("page with the logs refused:\n%s", got)
	}
	f.failOn = map[string]error{"DownloadDBLogFilePortion": awsquery.Errorf(403, "AccessDenied", "denied")}
	if rec := serve(c, ck, "GET", "/console/instances/prod-writer/log?file=error/postgresql.log", nil); rec.Code != 403 {
		t.Errorf("download refused by IAM answered %d", rec.Code)
	}
}
