package guardtest

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestMasterCannotMoveOrKeepTheLogs: where the server writes its logs, how they turn over
// and their mode are serve's (it lists and trims them by rds.log_retention_period): the
// master, even through EXECUTE, cannot set them for a session, a role, a database or the
// server, nor be granted the right to. PostgreSQL refuses it itself (these are
// server-wide settings and ALTER SYSTEM is the bootstrap superuser's); the test pins it.
func TestMasterCannotMoveOrKeepTheLogs(t *testing.T) {
	m := as(t, master)
	settings := []string{"log_directory", "log_filename", "log_rotation_age", "log_rotation_size",
		"log_truncate_on_rotation", "log_file_mode", "logging_collector", "log_destination"}
	values := map[string]string{"log_directory": "'/tmp'", "log_filename": "'keep.log'", "log_rotation_age": "0",
		"log_rotation_size": "0", "log_truncate_on_rotation": "on", "log_file_mode": "0644", "logging_collector": "off", "log_destination": "'csvlog'"}
	before := map[string]string{}
	for _, s := range settings {
		var v string
		if err := m.QueryRow(ctxT(t), "SELECT setting FROM pg_settings WHERE name = $1", s).Scan(&v); err != nil {
			t.Fatal(err)
		}
		before[s] = v
	}
	for _, s := range settings {
		v := values[s]
		for _, q := range []string{
			"SET " + s + " = " + v,
			"SELECT set_config('" + s + "', " + quoteLit(stripQuotes(v)) + ", false)",
			"ALTER ROLE " + master + " SET " + s + " = " + v,
			"ALTER DATABASE " + database + " SET " + s + " = " + v,
			"ALTER SYSTEM SET " + s + " = " + v,
			"DO $$ BEGIN EXECUTE 'ALTER SYSTEM SET " + s + " = " + escapeDo(v) + "'; END $$",
			"GRANT ALTER SYSTEM ON PARAMETER " + s + " TO " + master,
			"GRANT SET ON PARAMETER " + s + " TO " + master,
		} {
			_, err := m.Exec(ctxT(t), q)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || (pe.Code != "55P02" && pe.Code != "42501" && pe.Code != "25001") {
				t.Errorf("%s as the master: %v", q, err)
			}
		}
	}
	for _, s := range settings {
		var v string
		if err := admin(t).QueryRow(ctxT(t), "SELECT setting FROM pg_settings WHERE name = $1", s).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != before[s] {
			t.Errorf("%s is %q, was %q", s, v, before[s])
		}
	}
	serverUp(t)
}

func stripQuotes(v string) string {
	if len(v) > 1 && v[0] == '\'' {
		return v[1 : len(v)-1]
	}
	return v
}

func escapeDo(v string) string {
	out := ""
	for _, r := range v {
		if r == '\'' {
			out += "''"
		} else {
			out += string(r)
		}
	}
	return out
}
