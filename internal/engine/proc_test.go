package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogTailCopiesNoStatement: serve's errors quote the tail of a server log;
// lines quoting what a client sent (which may hold a password the server could
// not recognise as one) stay out, the server's own messages stay in.
func TestLogTailCopiesNoStatement(t *testing.T) {
	log := strings.Join([]string{
		"2026-01-01 00:00:00.000 UTC [1] LOG:  starting PostgreSQL 15",
		"2026-01-01 00:00:01.000 UTC [2] u@d LOG:  statement: SELECT set_pw('u', 'Sekret-1')",
		"2026-01-01 00:00:01.000 UTC [2] u@d LOG:  execute <unnamed>: SELECT set_pw($1, $2)",
		"2026-01-01 00:00:01.000 UTC [2] u@d DETAIL:  parameters: $1 = 'u', $2 = 'Sekret-2'",
		"2026-01-01 00:00:01.000 UTC [2] u@d LOG:  duration: 0.1 ms  statement: SELECT 'Sekret-3'",
		"\tFROM t WHERE x = 'Sekret-4'",
		"2026-01-01 00:00:01.000 UTC [2] u@d ERROR:  division by zero",
		"2026-01-01 00:00:01.000 UTC [2] u@d STATEMENT:  SELECT 1/0, 'Sekret-5'",
		"2026-01-01 00:00:01.000 UTC [2] u@d LOG:  duration: 0.1 ms  bind <unnamed>: SELECT 'Sekret-6'",
		`2026-01-01 00:00:02.000 UTC [1] LOG:  could not bind IPv4 address "127.0.0.1": Address already in use`,
		`2026-01-01 00:00:02.000 UTC [3] rdsadmin@d FATAL:  password authentication failed for user "rdsadmin"`,
		"2026-01-01 00:00:02.000 UTC [1] LOG:  received SIGHUP, reloading configuration files",
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "postgres.log")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got := logTail(path)
	if strings.Contains(got, "Sekret") {
		t.Errorf("logTail copied a statement:\n%s", got)
	}
	for _, want := range []string{"starting PostgreSQL 15", "division by zero", "could not bind", "password authentication failed", "received SIGHUP"} {
		if !strings.Contains(got, want) {
			t.Errorf("logTail lost %q:\n%s", want, got)
		}
	}
}

// TestLogTailsQuoteTheCollectorsNewestHour: with a logging collector (Spec.LogDir) the
// errors also quote the end of its newest hourly file, statements left out as above, and
// a link planted under a newer hour's name is not followed.
func TestLogTailsQuoteTheCollectorsNewestHour(t *testing.T) {
	dir := t.TempDir()
	s := Spec{LogFile: filepath.Join(dir, "postgresql.log"), LogDir: filepath.Join(dir, "log")}
	if err := os.WriteFile(s.LogFile, []byte("LOG:  redirecting log output to logging collector process\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(s.LogDir, 0o700); err != nil {
		t.Fatal(err)
	}
	hour := "2026-01-01 00:00:03.000 UTC [1] LOG:  database system is ready to accept connections\n" +
		"2026-01-01 00:00:04.000 UTC [2] u@d LOG:  statement: SELECT 'Sekret-7'\n"
	if err := os.WriteFile(filepath.Join(s.LogDir, "postgresql.log.2026-01-01-00"), []byte(hour), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("Sekret-8\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(s.LogDir, "postgresql.log.2026-01-01-01")); err != nil {
		t.Fatal(err)
	}
	got := s.logTails()
	for _, want := range []string{"redirecting log output", "postgresql.log.2026-01-01-00 ends:", "ready to accept connections"} {
		if !strings.Contains(got, want) {
			t.Errorf("logTails lost %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Sekret") {
		t.Errorf("logTails quoted a statement or followed a link:\n%s", got)
	}
}
