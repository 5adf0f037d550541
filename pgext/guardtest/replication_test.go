package guardtest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/borealis-db/borealis/internal/engine"
)

// TestReplicationRoleIsOutOfReach: the role readers stream as (engine.Replicator) is
// Borealis' alone: the master, rds_superuser and the CREATEROLE delegates can neither
// alter, rename, drop, grant, take on nor log in as it, and nothing they try changes it.
func TestReplicationRoleIsOutOfReach(t *testing.T) {
	repl := engine.Replicator
	secret := randomHex(16)
	adminExec(t, fmt.Sprintf("CREATE ROLE %s LOGIN REPLICATION NOINHERIT PASSWORD '%s'", repl, secret))
	t.Cleanup(func() { dropRoles(t, repl, "rr_target") })
	adminExec(t, "CREATE ROLE rr_target LOGIN PASSWORD '"+rolePass+"'")
	before := roleRow(t, repl)

	for _, user := range []string{master, "cr", "pwmgr"} {
		for _, q := range []string{
			"ALTER ROLE " + repl + " PASSWORD 'x'",
			"ALTER ROLE " + repl + " NOLOGIN",
			"ALTER ROLE " + repl + " NOREPLICATION",
			"ALTER ROLE " + repl + " VALID UNTIL '2000-01-01'",
			"ALTER ROLE " + repl + " SET work_mem = '1MB'",
			"ALTER ROLE " + repl + " CONNECTION LIMIT 0",
			"ALTER ROLE " + repl + " RENAME TO rr_renamed",
			"DROP ROLE " + repl,
			"GRANT rr_target TO " + repl,
			"GRANT rds_superuser TO " + repl,
			"GRANT " + repl + " TO rr_target",
			"GRANT " + repl + " TO " + user,
			"SET ROLE " + repl,
			"SET SESSION AUTHORIZATION " + repl,
			"DROP OWNED BY " + repl,
			"REASSIGN OWNED BY " + repl + " TO rr_target",
		} {
			c := as(t, user)
			_, err := c.Exec(ctxT(t), q)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "42501" {
				t.Errorf("%s: %s: %v, want SQLSTATE 42501", user, q, err)
			}
			c.Close(context.Background())
		}
	}
	if after := roleRow(t, repl); after != before {
		t.Errorf("the replication role changed:\n%s\nwas\n%s", after, before)
	}
	// Not even with its secret: a database session as it is refused by pg_hba.
	if c, err := dial(ctxT(t), repl, secret); err == nil {
		c.Close(context.Background())
		t.Error("a database session as the replication role")
	}
}

// roleRow is everything about a role a change could touch.
func roleRow(t *testing.T, name string) string {
	t.Helper()
	var s string
	err := admin(t).QueryRow(ctxT(t), `SELECT row(a.*)::text || coalesce((SELECT string_agg(r.rolname, ',' ORDER BY r.rolname)
		FROM pg_auth_members m JOIN pg_roles r ON r.oid IN (m.roleid, m.member)
		WHERE a.oid IN (m.roleid, m.member) AND r.oid <> a.oid), '') ||
		coalesce((SELECT string_agg(setconfig::text, ';') FROM pg_db_role_setting WHERE setrole = a.oid), '')
		FROM pg_authid a WHERE rolname = $1`, name).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
