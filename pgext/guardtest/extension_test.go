package guardtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// setAllowedExtensions sets rds.allowed_extensions with ALTER SYSTEM (as
// rdsadmin), reloads, and waits until the session c sees the new value.
func setAllowedExtensions(t *testing.T, c *pgx.Conn, value string) {
	t.Helper()
	a := admin(t)
	q := "ALTER SYSTEM RESET rds.allowed_extensions"
	want := "*"
	if value != "" {
		q = "ALTER SYSTEM SET rds.allowed_extensions = " + quoteLit(value)
		want = value
	}
	mustExec(t, a, q)
	mustExec(t, a, "SELECT pg_reload_conf()")
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got string
		if err := c.QueryRow(ctxT(t), "SHOW rds.allowed_extensions").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rds.allowed_extensions is %q, want %q after reload", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExtensions(t *testing.T) {
	t.Cleanup(func() {
		a := admin(t)
		for _, q := range []string{"DROP EXTENSION IF EXISTS sslinfo, hstore, pgcrypto, earthdistance, cube"} {
			if _, err := a.Exec(context.Background(), q); err != nil {
				t.Error(q, err)
			}
		}
	})
	m := as(t, master)
	ctx := ctxT(t)

	// The seed page's example: sslinfo is untrusted in PostgreSQL 15.
	mustExec(t, m, "create extension sslinfo")
	var used bool
	if err := m.QueryRow(ctx, "select ssl_is_used()").Scan(&used); err != nil || !used {
		t.Errorf("ssl_is_used() = %v, %v; want true over TLS", used, err)
	}
	var cipher string
	if err := m.QueryRow(ctx, "select ssl_cipher()").Scan(&cipher); err != nil || cipher == "" {
		t.Errorf("ssl_cipher() = %q, %v", cipher, err)
	}
	// As for PostgreSQL's trusted extensions: the caller owns the extension,
	// the bootstrap superuser its objects.
	var owner, funcOwners string
	if err := m.QueryRow(ctx, "SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'sslinfo'").Scan(&owner); err != nil || owner != master {
		t.Errorf("sslinfo owned by %q, %v; want %s", owner, err, master)
	}
	if err := m.QueryRow(ctx, `SELECT string_agg(DISTINCT p.proowner::regrole::text, ',')
		FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid JOIN pg_extension e ON e.oid = d.refobjid
		WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass AND e.extname = 'sslinfo'`).Scan(&funcOwners); err != nil || funcOwners != "rdsadmin" {
		t.Errorf("sslinfo's functions owned by %q, %v; want rdsadmin", funcOwners, err)
	}
	// The session is still the master user's.
	var cu, su string
	if err := m.QueryRow(ctx, "SELECT current_user, session_user").Scan(&cu, &su); err != nil || cu != master || su != master {
		t.Errorf("after CREATE EXTENSION: current_user %q, session_user %q, %v", cu, su, err)
	}
	mustExec(t, m, "ALTER EXTENSION sslinfo UPDATE")
	mustExec(t, m, "DROP EXTENSION sslinfo")

	// A failing elevated statement, alone or in a transaction, gives the
	// caller back its identity.
	_, err := m.Exec(ctx, "CREATE EXTENSION sslinfo VERSION '9.9'")
	wantPgError(t, "CREATE EXTENSION sslinfo VERSION 9.9", err, "22023", `extension "sslinfo" has no installation script nor update path for version "9.9"`)
	if err := m.QueryRow(ctx, "SELECT current_user").Scan(&cu); err != nil || cu != master {
		t.Errorf("after a failed CREATE EXTENSION: current_user %q, %v", cu, err)
	}
	tx, err := m.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "CREATE EXTENSION sslinfo"); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, "SELECT current_user").Scan(&cu); err != nil || cu != master {
		t.Errorf("in a transaction after CREATE EXTENSION: current_user %q, %v", cu, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// The caller must be allowed to create in the target schema.
	_, err = m.Exec(ctx, "CREATE EXTENSION sslinfo SCHEMA pg_catalog")
	wantPgError(t, "SCHEMA pg_catalog", err, "42501", "permission denied for schema pg_catalog")

	// Not for roles outside rds_superuser, even with CREATEROLE.
	_, err = as(t, "cr").Exec(ctx, "CREATE EXTENSION sslinfo")
	wantPgError(t, "cr: CREATE EXTENSION sslinfo", err, "42501", `permission denied to create extension "sslinfo"`)

	// Unknown extensions get PostgreSQL's own error.
	_, err = m.Exec(ctx, "CREATE EXTENSION no_such_ext")
	wantPgError(t, "no_such_ext", err, "0A000", `extension "no_such_ext" is not available`)
	_, err = m.Exec(ctx, `CREATE EXTENSION "../../../tmp/x"`)
	if err == nil {
		t.Error("CREATE EXTENSION with a path: no error")
	}

	// Trusted extensions keep working as PostgreSQL decides.
	mustExec(t, m, "CREATE EXTENSION pgcrypto")
	if err := m.QueryRow(ctx, "SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'pgcrypto'").Scan(&owner); err != nil || owner != master {
		t.Errorf("pgcrypto owned by %q, %v", owner, err)
	}

	// CASCADE: what it installs belongs to the caller too.
	mustExec(t, m, "CREATE EXTENSION earthdistance CASCADE")
	var owners string
	if err := m.QueryRow(ctx, "SELECT string_agg(extname || '=' || extowner::regrole::text, ',' ORDER BY extname) FROM pg_extension WHERE extname IN ('cube', 'earthdistance')").Scan(&owners); err != nil || owners != "cube=master1,earthdistance=master1" {
		t.Errorf("after CREATE EXTENSION earthdistance CASCADE: %q, %v", owners, err)
	}
	mustExec(t, m, "DROP EXTENSION earthdistance, cube")

	// rds.allowed_extensions without sslinfo: PostgreSQL decides, and refuses.
	setAllowedExtensions(t, m, "pgcrypto, hstore")
	t.Cleanup(func() { setAllowedExtensions(t, as(t, master), "") })
	_, err = m.Exec(ctx, "CREATE EXTENSION sslinfo")
	wantPgError(t, "sslinfo not allowed", err, "42501", `permission denied to create extension "sslinfo"`)
	mustExec(t, m, "CREATE EXTENSION hstore")
	serverUp(t)
}
