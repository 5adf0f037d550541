package guardtest

import (
	"context"
	"maps"
	"os"
	"strings"
	"testing"
	"time"
)

// withPgaudit restarts the shared server with pgaudit preloaded after the guard and the
// settings given, as a parameter group would set them; cleanup restarts it without.
func withPgaudit(t *testing.T, extra map[string]string) {
	t.Helper()
	if _, err := os.Stat("/usr/lib/postgresql/15/lib/pgaudit.so"); err != nil {
		t.Skip("pgaudit is not installed (scripts/install-deps.sh installs postgresql-15-pgaudit)")
	}
	s := settings("on")
	s["shared_preload_libraries"] = srv.libPath + ",pgaudit,auto_explain"
	maps.Copy(s, extra)
	restart := func(s map[string]string) {
		srv.spec.Settings = s
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.l.Restart(ctx, srv.spec); err != nil {
			t.Fatalf("restart: %v", err)
		}
	}
	restart(s)
	t.Cleanup(func() { restart(settings("on")) })
}

// TestPgauditKeepsNoPasswordAndCannotBeSilenced: with pgaudit preloaded and logging
// everything (pgaudit.log = all, parameters too; log_statement = all and auto_explain's
// plans of every statement, nested ones too, beside), the
// master creates the extension as on Aurora, and its audit lines land in the server log;
// the statements that carry passwords (CREATE/ALTER ROLE ... PASSWORD, psql's \password,
// user mappings, dblink connection strings, a syntax error in one) leave none there. The
// master cannot turn the audit off for itself: pgaudit's settings are the parameter
// group's (superuser settings), by SET, set_config, ALTER ROLE or ALTER DATABASE.
func TestPgauditKeepsNoPasswordAndCannotBeSilenced(t *testing.T) {
	withPgaudit(t, map[string]string{
		"pgaudit.log":           "all",
		"pgaudit.log_parameter": "on",
		"pgaudit.log_catalog":   "off",
		"log_statement":         "all",
		// auto_explain logs each plan with its query text.
		"auto_explain.log_min_duration":      "0",
		"auto_explain.log_nested_statements": "on",
	})
	m := as(t, master)
	mustExec(t, m, "CREATE EXTENSION IF NOT EXISTS pgaudit")
	mustExec(t, m, "CREATE EXTENSION IF NOT EXISTS dblink")
	mustExec(t, m, "CREATE EXTENSION IF NOT EXISTS postgres_fdw")
	t.Cleanup(func() {
		adminExec(t, "DROP EXTENSION IF EXISTS pgaudit", "DROP EXTENSION IF EXISTS dblink",
			"DROP SERVER IF EXISTS pa_srv CASCADE", "DROP EXTENSION IF EXISTS postgres_fdw",
			"DROP ROLE IF EXISTS pa_new", "DROP ROLE IF EXISTS pa_t")
	})

	// The master cannot silence the audit of its own statements.
	for _, c := range []struct{ sql, param string }{
		{"SET pgaudit.log = 'none'", "pgaudit.log"},
		{"SELECT set_config('pgaudit.log', 'none', false)", "pgaudit.log"},
		{"ALTER ROLE " + master + " SET pgaudit.log = 'none'", "pgaudit.log"},
		{"ALTER DATABASE " + database + " SET pgaudit.log = 'none'", "pgaudit.log"},
		{"SET pgaudit.role = 'rdsadmin'", "pgaudit.role"},
		{"ALTER ROLE CURRENT_USER SET pgaudit.log_level = 'debug5'", "pgaudit.log_level"},
	} {
		_, err := m.Exec(ctxT(t), c.sql)
		wantPgError(t, "master: "+c.sql, err, "42501", `permission denied to set parameter "`+c.param+`"`)
	}

	log0 := logSize(t)
	var secrets []string
	secret := func(tag string) string {
		s := "Sekret-" + tag + "-" + randomHex(4)
		secrets = append(secrets, s)
		return s
	}
	for _, q := range []string{
		"CREATE ROLE pa_new LOGIN PASSWORD '" + secret("create") + "'",
		"CREATE ROLE pa_t LOGIN",
		"ALTER ROLE pa_t WITH ENCRYPTED PASSWORD '" + secret("alter") + "' VALID UNTIL 'infinity'",
		// psql's \password sends a verifier it computed: still nothing to keep.
		"ALTER USER pa_t PASSWORD 'md5" + strings.Repeat("0", 20) + secret("verifier") + "'",
		"CREATE SERVER pa_srv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'x')",
		"CREATE USER MAPPING FOR pa_t SERVER pa_srv OPTIONS (user 'pa_t', password '" + secret("mapping") + "')",
		"ALTER USER MAPPING FOR pa_t SERVER pa_srv OPTIONS (SET password '" + secret("mapping-alter") + "')",
		"DO $$ BEGIN EXECUTE 'ALTER ROLE pa_t PASS' || 'WORD ''" + secret("concat") + "'''; END $$",
		// A planned statement beside a built password command: auto_explain's plan lines.
		"DO $$ BEGIN PERFORM 1 FROM pg_roles WHERE rolname = '" + secret("planned") + "'; EXECUTE 'ALTER ROLE pa_t PASS' || 'WORD ''" + secret("planned-concat") + "'''; END $$",
	} {
		mustExec(t, m, q)
	}
	for _, q := range []string{
		"SELECT dblink_connect('pa', 'host=127.0.0.1 port=1 dbname=x user=pa_t password=" + secret("dblink") + "')",
		"ALTER ROLE pa_t PASSWORD '" + secret("syntax") + "' WITH GARBAGE",
		"CREATE ROLE pa_new2 PASSWORD '" + secret("unterminated"),
	} {
		if _, err := m.Exec(ctxT(t), q); err == nil {
			t.Errorf("%s: no error", q)
		}
	}
	// The extended protocol with the password in a bind parameter of a statement that
	// names it.
	if err := m.PgConn().ExecParams(ctxT(t), "SELECT set_config('application_name', $1, false) AS password",
		[][]byte{[]byte(secret("bind"))}, nil, nil, nil).Read().Err; err != nil {
		t.Errorf("bind: %v", err)
	}
	mustExec(t, m, "SELECT 'pgaudit-done'")

	log := waitLog(t, log0, "pgaudit-done")
	if !strings.Contains(log, "AUDIT: SESSION,") {
		t.Errorf("no pgaudit line in the server log:\n%s", log)
	}
	for _, s := range secrets {
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, s) {
				t.Errorf("password %s in the server log: %s", s, line)
			}
		}
	}
	if t.Failed() && testing.Verbose() {
		t.Log(log)
	}
}
