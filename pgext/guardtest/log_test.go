package guardtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// setServerLogging sets logging parameters with ALTER SYSTEM (as rdsadmin),
// reloads and waits until new sessions see them; cleanup resets them.
func setServerLogging(t *testing.T, settings map[string]string) {
	t.Helper()
	a := admin(t)
	for k, v := range settings {
		mustExec(t, a, "ALTER SYSTEM SET "+k+" = "+quoteLit(v))
	}
	mustExec(t, a, "SELECT pg_reload_conf()")
	t.Cleanup(func() {
		c := admin(t)
		for k := range settings {
			mustExec(t, c, "ALTER SYSTEM RESET "+k)
		}
		mustExec(t, c, "SELECT pg_reload_conf()")
	})
	deadline := time.Now().Add(10 * time.Second)
	for k, v := range settings {
		for {
			var got string
			if err := admin(t).QueryRow(ctxT(t), "SELECT setting FROM pg_settings WHERE name = $1", k).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got == v {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is %q after reload, want %q", k, got, v)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestNoPasswordInServerLog runs password statements, refused and accepted,
// every way they reach the server, with every statement logged (log_statement
// = all, log_min_duration_statement = 0, the default log_min_error_statement),
// and greps the server's log file for each password. The engine copies the
// tail of that file into some of serve's errors, so serve's log is clean too.
func TestNoPasswordInServerLog(t *testing.T) {
	setServerLogging(t, map[string]string{
		"log_statement":              "all",
		"log_min_duration_statement": "0",
		"log_error_verbosity":        "verbose",
	})
	adminExec(t,
		"CREATE ROLE lg_t LOGIN",
		// The password managers administer lg_t (PostgreSQL 16's CREATEROLE rule).
		"GRANT lg_t TO cr, pwmgr WITH ADMIN OPTION",
		"CREATE EXTENSION IF NOT EXISTS postgres_fdw",
		"CREATE SERVER lg_srv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'x')",
	)
	t.Cleanup(func() {
		c := admin(t)
		for _, q := range []string{
			"DROP SERVER IF EXISTS lg_srv CASCADE",
			"DROP EXTENSION IF EXISTS postgres_fdw",
			"DROP FUNCTION IF EXISTS public.lg_setpw(text, text)",
			"DROP ROLE IF EXISTS lg_t",
			"DROP ROLE IF EXISTS lg_new",
		} {
			if _, err := c.Exec(context.Background(), q); err != nil {
				t.Error(q, err)
			}
		}
	})
	log0 := logSize(t)

	var secrets []string
	secret := func(tag string) string {
		s := "Sekret-" + tag + "-" + randomHex(4)
		secrets = append(secrets, s)
		return s
	}
	type step struct {
		c      *pgx.Conn
		sql    string
		mode   execMode
		refuse bool // want an error
	}
	cr, m, u1, pw, a := as(t, "cr"), as(t, master), as(t, "u1"), as(t, "pwmgr"), admin(t)
	// A function that takes the password as an argument: the statement that
	// calls it never says "password".
	mustExec(t, u1, `CREATE FUNCTION public.lg_setpw(r text, p text) RETURNS void LANGUAGE plpgsql AS
		$$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', r, p); END $$`)
	mustExec(t, a, "GRANT EXECUTE ON FUNCTION public.lg_setpw(text, text) TO pwmgr")
	steps := []step{
		// Refused: cr is not in rds_password.
		{cr, "CREATE ROLE lg_new PASSWORD '" + secret("create") + "'", simple, true},
		{cr, "ALTER USER lg_t WITH ENCRYPTED PASSWORD '" + secret("alter") + "'", simple, true},
		{cr, "SELECT 1; ALTER ROLE lg_t PASSWORD '" + secret("multi") + "'", simple, true},
		{cr, "ALTER ROLE lg_t PASSWORD '" + secret("ext") + "'", extended, true},
		{cr, "ALTER ROLE lg_t PASSWORD '" + secret("prep") + "'", prepared, true},
		{cr, "DO $$ BEGIN ALTER ROLE lg_t PASSWORD '" + secret("do") + "'; END $$", simple, true},
		{cr, "DO $$ BEGIN EXECUTE 'ALTER ROLE lg_t PASSWORD ''" + secret("exec") + "'''; END $$", simple, true},
		{u1, "ALTER ROLE CURRENT_USER PASSWORD '" + secret("self") + "'", simple, true},
		// Syntax errors echo a token.
		{cr, "ALTER ROLE lg_t PASSWORD '" + secret("unterminated"), simple, true},
		{cr, "ALTER ROLE lg_t PASSWORD 'x' \"" + secret("junk") + "\"", simple, true},
		{cr, "CREATE ROLE lg_new PASSWORD E'\\x" + secret("escape") + "'", simple, true},
		// User mappings: u1 may not use the server.
		{u1, "CREATE USER MAPPING FOR u1 SERVER lg_srv OPTIONS (user 'u1', password '" + secret("um-refused") + "')", simple, true},
		// Connection strings with credentials.
		{u1, "SELECT 'postgresql://u1:" + secret("uri") + "@127.0.0.1/x'::int", simple, true},
		// Accepted.
		{m, "ALTER ROLE lg_t PASSWORD '" + secret("master") + "'", simple, false},
		{m, "ALTER ROLE lg_t PASSWORD '" + secret("master-ext") + "'", extended, false},
		{pw, "DO $$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', 'lg_t', '" + secret("pwmgr-do") + "'); END $$", simple, false},
		{a, "CREATE USER MAPPING FOR u1 SERVER lg_srv OPTIONS (user 'u1', password '" + secret("um") + "')", simple, false},
		{a, "ALTER USER MAPPING FOR u1 SERVER lg_srv OPTIONS (SET password '" + secret("um-alter") + "')", simple, false},
	}
	for i, s := range steps {
		err := execIn(ctxT(t), s.c, s.mode, s.sql)
		if (err != nil) != s.refuse {
			t.Errorf("step %d (%s): refuse=%v, got %v", i, s.c.Config().User, s.refuse, err)
		}
		if s.mode == prepared {
			s.c.Exec(ctxT(t), "DEALLOCATE ALL")
		}
	}
	// A connection string in a bind parameter (log lines' DETAIL).
	if err := m.PgConn().ExecParams(ctxT(t), "SELECT $1::text", [][]byte{[]byte("host=x password=" + secret("param"))}, nil, nil, nil).Read().Err; err != nil {
		t.Errorf("bind parameter: %v", err)
	}
	// Statements that never say "password": hidden from the STATEMENT,
	// CONTEXT, QUERY and duration lines. log_statement = all (and, in the
	// extended protocol, log_min_duration_statement's parse and bind lines)
	// write a statement before it runs, so these run without them: see
	// pgext/guard/logfilter.c.
	for _, r := range []string{"u1", "pwmgr"} {
		r := r
		mustExec(t, a, "ALTER ROLE "+r+" SET log_statement = 'none'")
		t.Cleanup(func() { adminExec(t, "ALTER ROLE "+r+" RESET log_statement") })
	}
	u1b, pwb := as(t, "u1"), as(t, "pwmgr")
	for _, q := range []string{
		"SELECT public.lg_setpw('lg_t', '" + secret("fn-refused") + "')",
		"DO $$ BEGIN EXECUTE 'ALTER ROLE lg_t PASS' || 'WORD ''" + secret("concat") + "'''; END $$",
	} {
		_, err := u1b.Exec(ctxT(t), q)
		wantPgError(t, "u1: "+q, err, "42501", errPasswords)
	}
	mustExec(t, pwb, "SELECT public.lg_setpw('lg_t', '"+secret("fn")+"')")
	mustExec(t, pwb, "DO $$ BEGIN EXECUTE 'ALTER ROLE lg_t PASS' || 'WORD ''"+secret("concat-ok")+"'''; END $$")

	// The client still gets PostgreSQL's and the guard's errors.
	_, err := cr.Exec(ctxT(t), "ALTER ROLE lg_t PASSWORD 'x'")
	wantPgError(t, "cr: ALTER ROLE PASSWORD", err, "42501", errPasswords)
	_, err = cr.Exec(ctxT(t), "GRANT rds_password TO cr")
	wantPgError(t, "cr: GRANT rds_password", err, "42501", errGrantPassword)

	log := waitLog(t, log0, "must be a member of rds_password")
	for _, s := range secrets {
		if strings.Contains(log, s) {
			for _, line := range strings.Split(log, "\n") {
				if strings.Contains(line, s) {
					t.Errorf("password %s in the server log: %s", s, line)
				}
			}
		}
	}
	// The statements were logged, only without their passwords.
	for _, want := range []string{"statement: ***", "duration: ", `ERROR:  42501: must be a member of rds_password to alter passwords`} {
		if !strings.Contains(log, want) {
			t.Errorf("server log lacks %q", want)
		}
	}
	if t.Failed() && testing.Verbose() {
		t.Log(log)
	}
	serverUp(t)
}

func logSize(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(srv.spec.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// waitLog returns what the server log got after offset from, once it holds
// want (backends write their lines themselves, as they go).
func waitLog(t *testing.T, from int64, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(srv.spec.LogFile)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) < from {
			from = 0
		}
		s := string(b[from:])
		if strings.Contains(s, want) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
}
