package rds

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/dblog"
	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/store"
)

// fakeLogs serves one log directory, for instance i1.
type fakeLogs struct{ dir string }

func (f fakeLogs) InstanceLogDir(_ context.Context, id string) (string, error) {
	if id != "i1" {
		return "", store.ErrNotFound
	}
	return f.dir, nil
}

// logService serves a log directory holding hourFile with content; it returns the file's path.
func logService(t *testing.T, content string) (*Service, string) {
	t.Helper()
	s := newTestService(t)
	dir := t.TempDir()
	path := filepath.Join(dir, strings.TrimPrefix(hourFile, "error/"))
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cfg.Logs = fakeLogs{dir}
	return s, path
}

// hourFile is the name of the test logs' hour.
const hourFile = "error/postgresql.log.2026-01-01-00"

func download(t *testing.T, s *Service, kv ...string) (downloadLogPortionResult, error) {
	t.Helper()
	return downloadFile(t, s, hourFile, kv...)
}

func downloadFile(t *testing.T, s *Service, name string, kv ...string) (downloadLogPortionResult, error) {
	t.Helper()
	out, err := s.Do(context.Background(), "DownloadDBLogFilePortion", query(append([]string{"DBInstanceIdentifier", "i1", "LogFileName", name}, kv...)...))
	if err != nil {
		return downloadLogPortionResult{}, err
	}
	return out.(downloadLogPortionResult), nil
}

func numberedLines(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "2026-01-01 00:%02d:00.000 UTC [1] line %d\n", i%60, i)
	}
	return b.String()
}

// TestDownloadDBLogFilePortionPagesByMarker: from Marker "0" in blocks of NumberOfLines,
// each Marker continuing where the last ended, AdditionalDataPending until the end; the
// blocks make the whole file.
func TestDownloadDBLogFilePortionPagesByMarker(t *testing.T) {
	content := numberedLines(10)
	s, _ := logService(t, content)
	var got strings.Builder
	marker := "0"
	for pages := 1; ; pages++ {
		r, err := download(t, s, "Marker", marker, "NumberOfLines", "3")
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(r.LogFileData, "\n"); n > 3 {
			t.Fatalf("%d lines in a block of 3", n)
		}
		got.WriteString(r.LogFileData)
		marker = r.Marker
		if !r.AdditionalDataPending {
			if pages != 4 {
				t.Errorf("%d pages, want 4", pages)
			}
			break
		}
	}
	if got.String() != content {
		t.Errorf("pages make %q", got.String())
	}
	// Without a Marker: the most recent lines, and the end as the Marker.
	r, err := download(t, s, "NumberOfLines", "2")
	if err != nil || r.LogFileData != strings.Join(strings.SplitAfter(content, "\n")[8:10], "") || r.AdditionalDataPending || r.Marker != fmt.Sprint(len(content)) {
		t.Errorf("tail: %+v %v", r, err)
	}
	if r, err := download(t, s); err != nil || r.LogFileData != content {
		t.Errorf("whole file: %+v %v", r, err)
	}
}

// TestDownloadDBLogFilePortionIsAtMostOneMegabyte: a long log comes in portions of 1 MB.
func TestDownloadDBLogFilePortionIsAtMostOneMegabyte(t *testing.T) {
	content := strings.Repeat("2026-01-01 00:00:00.000 UTC [1] "+strings.Repeat("x", 99)+"\n", 12000) // 1.5 MB
	s, _ := logService(t, content)
	r, err := download(t, s, "Marker", "0", "NumberOfLines", "100000")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.LogFileData) > maxLogPortion || !r.AdditionalDataPending || !strings.HasSuffix(r.LogFileData, "\n") {
		t.Errorf("%d bytes, pending %v", len(r.LogFileData), r.AdditionalDataPending)
	}
	r2, err := download(t, s, "Marker", r.Marker, "NumberOfLines", "100000")
	if err != nil || r.LogFileData+r2.LogFileData != content || r2.AdditionalDataPending {
		t.Errorf("second portion: %d bytes, pending %v, %v", len(r2.LogFileData), r2.AdditionalDataPending, err)
	}
}

// TestLogFileNamesNeverReachThePath: a LogFileName is one of the names listed or not found;
// a path, a traversal or a near miss reads nothing. A log file replaced by a symbolic link
// (to a file the caller may not read) or by a file of another owner is not served.
func TestLogFileNamesNeverReachThePath(t *testing.T) {
	s, path := logService(t, numberedLines(1))
	for _, name := range []string{"../../../../etc/passwd", "/etc/passwd", hourFile + "/../../../../etc/passwd",
		"error/../" + hourFile, hourFile + "\x00", strings.ToUpper(hourFile), path, "postgresql.log", "error/postgresql.log",
		"error/postgresql.log.2026-01-01-01", "error/postgresql.log.*"} {
		_, err := s.Do(context.Background(), "DownloadDBLogFilePortion", query("DBInstanceIdentifier", "i1", "LogFileName", name))
		if e := awsquery.AsError(err); e == nil || e.Code != "DBLogFileNotFoundFault" || e.Status != 404 {
			t.Errorf("%q: %v, want DBLogFileNotFoundFault", name, err)
		}
	}
	if _, err := s.Do(context.Background(), "DownloadDBLogFilePortion", query("DBInstanceIdentifier", "i9", "LogFileName", hourFile)); awsquery.AsError(err) == nil || awsquery.AsError(err).Code != "DBInstanceNotFound" {
		t.Errorf("another instance: %v", err)
	}

	// Planted: the log replaced by a link to /etc/shadow, then by a file of another owner.
	os.Remove(path)
	if err := os.Symlink("/etc/shadow", path); err != nil {
		t.Fatal(err)
	}
	if _, err := download(t, s); awsquery.AsError(err) == nil || awsquery.AsError(err).Code != "DBLogFileNotFoundFault" {
		t.Errorf("through a symbolic link: %v", err)
	}
	os.Remove(path)
	if err := os.WriteFile(path, []byte("planted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := download(t, s); awsquery.AsError(err) == nil {
			t.Errorf("a file of another owner was served")
		}
	}
}

// TestDescribeDBLogFilesFilters: the instance's log is listed with its size and time, and
// the filters RDS offers select it or not.
func TestDescribeDBLogFilesFilters(t *testing.T) {
	s, _ := logService(t, numberedLines(1))
	size := fmt.Sprint(len(numberedLines(1)))
	list := func(kv ...string) []xmlLogFile {
		t.Helper()
		out, err := s.Do(context.Background(), "DescribeDBLogFiles", query(append([]string{"DBInstanceIdentifier", "I1"}, kv...)...))
		if err != nil {
			t.Fatal(err)
		}
		return out.(describeDBLogFilesResult).Files.Items
	}
	if fs := list(); len(fs) != 1 || fs[0].LogFileName != hourFile || fmt.Sprint(fs[0].Size) != size || fs[0].LastWritten == 0 {
		t.Errorf("%+v", fs)
	}
	for _, kv := range [][]string{{"FilenameContains", "mysql"}, {"FileSize", size}, {"FileLastWritten", "99999999999999"}} {
		if fs := list(kv...); len(fs) != 0 {
			t.Errorf("%v: %+v", kv, fs)
		}
	}
	for _, kv := range [][]string{{"FilenameContains", "postgresql.log.2026-01-01"}, {"FileSize", "6"}, {"FileLastWritten", "0"}} {
		if fs := list(kv...); len(fs) != 1 {
			t.Errorf("%v: %+v", kv, fs)
		}
	}
	_, err := s.Do(context.Background(), "DescribeDBLogFiles", query("DBInstanceIdentifier", "nope"))
	if e := awsquery.AsError(err); e == nil || e.Code != "DBInstanceNotFound" || e.Status != 404 {
		t.Errorf("unknown instance: %v", err)
	}
}

// A narrow IAM user reads one instance's logs: the log actions are decided on the db
// instance's canonical ARN, so a policy on i1 does not open another instance's log, and a
// deny on prod-* holds however the caller spells the identifier.
func TestLogActionsAreAuthorizedOnTheInstance(t *testing.T) {
	s := fixture(t)
	const onlyI1 = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["rds:DescribeDBLogFiles","rds:DownloadDBLogFilePortion"],"Resource":"arn:aws:rds:us-east-1:123456789012:db:i1"}]}`
	for _, action := range []string{"DescribeDBLogFiles", "DownloadDBLogFilePortion"} {
		if d := decide(t, s, onlyI1, action, query("DBInstanceIdentifier", "I1", "LogFileName", hourFile)); d != policy.Allow {
			t.Errorf("%s on i1: %s", action, d)
		}
		if d := decide(t, s, onlyI1, action, query("DBInstanceIdentifier", "i2", "LogFileName", hourFile)); d == policy.Allow {
			t.Errorf("%s on i2 allowed by a policy on i1", action)
		}
		if d := decide(t, s, denyProd, action, query("DBInstanceIdentifier", "PROD-I", "LogFileName", hourFile)); d != policy.ExplicitDeny {
			t.Errorf("%s on PROD-I: %s, want explicitDeny", action, d)
		}
	}
}

// TestATrimmedLogFileIsGone: a file the retention removed (dblog.Trim) is no longer
// listed, and downloading it is RDS's DBLogFileNotFoundFault.
func TestATrimmedLogFileIsGone(t *testing.T) {
	s, path := logService(t, numberedLines(3))
	newer := filepath.Join(filepath.Dir(path), "postgresql.log.2026-01-01-01")
	if err := os.WriteFile(newer, []byte(numberedLines(1)), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2026, 1, 1, 0, 59, 0, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := download(t, s); err != nil {
		t.Fatal(err)
	}
	if _, err := dblog.Trim(filepath.Dir(path), old.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_, err := download(t, s)
	if e := awsquery.AsError(err); e == nil || e.Code != "DBLogFileNotFoundFault" || e.Status != 404 {
		t.Errorf("a trimmed file: %v, want DBLogFileNotFoundFault", err)
	}
	out, err := s.Do(context.Background(), "DescribeDBLogFiles", query("DBInstanceIdentifier", "i1"))
	if err != nil {
		t.Fatal(err)
	}
	if fs := out.(describeDBLogFilesResult).Files.Items; len(fs) != 1 || fs[0].LogFileName != "error/postgresql.log.2026-01-01-01" {
		t.Errorf("listed after the trim: %+v", fs)
	}
}
