package guardtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/params"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// defaultAllowedExtensions is the catalogue's default of rds.allowed_extensions,
// which the guard's C default must equal.
func defaultAllowedExtensions(t *testing.T) string {
	t.Helper()
	d, ok := params.Lookup("rds.allowed_extensions")
	if !ok || d.Default == "" || d.Default == "*" {
		t.Fatalf("params: rds.allowed_extensions default %q, %v", d.Default, ok)
	}
	return d.Default
}

// setAllowedExtensions sets rds.allowed_extensions with ALTER SYSTEM (as
// rdsadmin), reloads, and waits until the session c sees the new value ("":
// the default).
func setAllowedExtensions(t *testing.T, c *pgx.Conn, value string) {
	t.Helper()
	a := admin(t)
	q := "ALTER SYSTEM RESET rds.allowed_extensions"
	want := defaultAllowedExtensions(t)
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
	// (more in TestExtensionSchemaChecks)

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

	// CASCADE is elevated only when every extension is allowed; what it
	// installs belongs to the caller too.
	setAllowedExtensions(t, m, "*")
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

// TestAllowedExtensionsDefault: a server given no rds.allowed_extensions
// allows exactly the catalogue's reviewed list, never "*".
func TestAllowedExtensionsDefault(t *testing.T) {
	var got, source string
	if err := as(t, master).QueryRow(ctxT(t), "SELECT setting, source FROM pg_settings WHERE name = 'rds.allowed_extensions'").Scan(&got, &source); err != nil {
		t.Fatal(err)
	}
	if want := defaultAllowedExtensions(t); got != want || source != "default" {
		t.Errorf("rds.allowed_extensions = %q (source %s), want the catalogue's default %q", got, source, want)
	}
}

// TestExtensionSchemaChecks: where an extension lands is checked before its
// script runs, and never pg_catalog unless its control file says so, however
// the caller steers it there (SCHEMA, search_path, CASCADE), elevated or
// through PostgreSQL's trusted path.
func TestExtensionSchemaChecks(t *testing.T) {
	t.Cleanup(func() {
		a := admin(t)
		for _, q := range []string{
			"DROP EXTENSION IF EXISTS sslinfo, pgcrypto, hstore, earthdistance, cube",
			"REVOKE CREATE ON DATABASE " + database + " FROM u1",
			"DROP SCHEMA IF EXISTS es_other",
		} {
			if _, err := a.Exec(context.Background(), q); err != nil {
				t.Error(q, err)
			}
		}
	})
	adminExec(t, "GRANT CREATE ON DATABASE "+database+" TO u1", "CREATE SCHEMA es_other")
	m, u1 := as(t, master), as(t, "u1")
	const (
		denied = "42501"
		noCat  = "permission denied for schema pg_catalog"
		why    = "Only an extension whose control file sets schema = pg_catalog may be installed there."
	)
	wantRefused := func(c *pgx.Conn, sql, msg, detail string) {
		t.Helper()
		_, err := c.Exec(ctxT(t), sql)
		wantPgError(t, c.Config().User+": "+sql, err, denied, msg)
		var pe *pgconn.PgError
		if detail != "" && errors.As(err, &pe) && pe.Detail != detail {
			t.Errorf("%s: detail %q, want %q", sql, pe.Detail, detail)
		}
	}
	inCatalog := func() string {
		t.Helper()
		var names string
		if err := admin(t).QueryRow(ctxT(t), "SELECT coalesce(string_agg(extname, ','), '') FROM pg_extension WHERE extnamespace = 'pg_catalog'::regnamespace AND extname <> 'plpgsql'").Scan(&names); err != nil {
			t.Fatal(err)
		}
		return names
	}

	// Elevated (sslinfo is untrusted): SCHEMA pg_catalog, and search_path.
	wantRefused(m, "CREATE EXTENSION sslinfo SCHEMA pg_catalog", noCat, why)
	mustExec(t, m, "SET search_path = pg_catalog, public")
	wantRefused(m, "CREATE EXTENSION sslinfo", noCat, why)
	mustExec(t, m, "RESET search_path")
	// A schema the caller may not create in.
	wantRefused(m, "CREATE EXTENSION sslinfo SCHEMA es_other", "permission denied for schema es_other", "")

	// PostgreSQL's trusted path, for a user with CREATE on the database.
	wantRefused(u1, "CREATE EXTENSION pgcrypto SCHEMA pg_catalog", noCat, why)
	mustExec(t, u1, "SET search_path = pg_catalog")
	wantRefused(u1, "CREATE EXTENSION hstore", noCat, why)
	mustExec(t, u1, "RESET search_path")
	wantRefused(u1, "CREATE EXTENSION hstore SCHEMA es_other", "permission denied for schema es_other", "")

	// CASCADE (elevated when every extension is allowed): cube follows SCHEMA.
	setAllowedExtensions(t, m, "*")
	t.Cleanup(func() { setAllowedExtensions(t, as(t, master), "") })
	wantRefused(m, "CREATE EXTENSION earthdistance SCHEMA pg_catalog CASCADE", noCat, why)
	mustExec(t, m, "SET search_path = pg_catalog, public")
	wantRefused(m, "CREATE EXTENSION earthdistance CASCADE", noCat, why)
	mustExec(t, m, "RESET search_path")

	if names := inCatalog(); names != "" {
		t.Errorf("extensions in pg_catalog: %s", names)
	}
	// Where the caller may create, all of it still works; moving it to
	// pg_catalog afterwards is PostgreSQL's to refuse.
	mustExec(t, m, "CREATE EXTENSION sslinfo")
	wantRefused(m, "ALTER EXTENSION sslinfo SET SCHEMA pg_catalog", noCat, "")
	mustExec(t, m, "CREATE EXTENSION earthdistance CASCADE")
	mustExec(t, u1, "CREATE EXTENSION hstore")
	serverUp(t)
}

// TestExtensionUpdateOwnership: an update script runs as superuser and may
// CREATE OR REPLACE any member of the extension, keeping its owner. A
// function the caller made and added to the extension would become a C
// function the caller owns: the update is refused while a member is not a
// superuser's.
func TestExtensionUpdateOwnership(t *testing.T) {
	t.Cleanup(func() {
		a := admin(t)
		for _, q := range []string{
			"DROP EXTENSION IF EXISTS pgstattuple",
			"DROP FUNCTION IF EXISTS public.pgstathashindex(regclass)",
		} {
			if _, err := a.Exec(context.Background(), q); err != nil {
				t.Error(q, err)
			}
		}
	})
	m := as(t, master)
	mustExec(t, m, "CREATE EXTENSION pgstattuple VERSION '1.4'")
	// pgstattuple 1.5 adds pgstathashindex(regclass) with CREATE OR REPLACE.
	mustExec(t, m, `CREATE FUNCTION public.pgstathashindex(IN relname regclass,
		OUT version INTEGER, OUT bucket_pages BIGINT, OUT overflow_pages BIGINT,
		OUT bitmap_pages BIGINT, OUT unused_pages BIGINT, OUT live_items BIGINT,
		OUT dead_items BIGINT, OUT free_percent FLOAT8)
		LANGUAGE sql AS 'SELECT 1, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::float8'`)
	mustExec(t, m, "ALTER EXTENSION pgstattuple ADD FUNCTION public.pgstathashindex(regclass)")
	_, err := m.Exec(ctxT(t), "ALTER EXTENSION pgstattuple UPDATE")
	wantPgError(t, "UPDATE with a member of the caller's", err, "42501", `permission denied to update extension "pgstattuple"`)

	var owner, lang string
	if err := m.QueryRow(ctxT(t), "SELECT p.proowner::regrole::text, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = 'public.pgstathashindex(regclass)'::regprocedure").Scan(&owner, &lang); err != nil {
		t.Fatal(err)
	}
	if lang == "c" {
		t.Errorf("the caller's pgstathashindex became a C function owned by %s", owner)
	}
	// The caller cannot take a superuser's member out either (PostgreSQL
	// asks for ownership of the object, for ADD and DROP alike).
	_, err = m.Exec(ctxT(t), "ALTER EXTENSION pgstattuple DROP FUNCTION pg_relpages(text)")
	wantPgError(t, "DROP of a superuser's member", err, "42501", "must be owner of function pg_relpages")
	// Once it is no member, the update runs (and PostgreSQL refuses to
	// replace a function the extension does not own).
	mustExec(t, m, "ALTER EXTENSION pgstattuple DROP FUNCTION public.pgstathashindex(regclass)")
	_, err = m.Exec(ctxT(t), "ALTER EXTENSION pgstattuple UPDATE")
	wantPgError(t, "UPDATE over a function of the caller's", err, "55000", `function pgstathashindex(regclass) is not a member of extension "pgstattuple"`)
	mustExec(t, m, "DROP FUNCTION public.pgstathashindex(regclass)")
	mustExec(t, m, "ALTER EXTENSION pgstattuple UPDATE")
	var nonSuper int
	if err := admin(t).QueryRow(ctxT(t), `SELECT count(*) FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
		JOIN pg_roles r ON r.oid = p.proowner
		WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgstattuple')
		AND d.deptype = 'e' AND NOT r.rolsuper`).Scan(&nonSuper); err != nil || nonSuper != 0 {
		t.Errorf("pgstattuple members not owned by a superuser: %d, %v", nonSuper, err)
	}
	serverUp(t)
}

// The master can use the foreign-data wrappers of the extensions it creates, as
// rds_superuser can on RDS: the wrapper stays the bootstrap superuser's (PostgreSQL wants
// a superuser there) and the master gets USAGE with grant option.
func TestForeignDataWrappersAreUsable(t *testing.T) {
	t.Cleanup(func() {
		a := admin(t)
		for _, q := range []string{"DROP EXTENSION IF EXISTS postgres_fdw, dblink CASCADE"} {
			if _, err := a.Exec(context.Background(), q); err != nil {
				t.Error(q, err)
			}
		}
	})
	m := as(t, master)
	ctx := ctxT(t)
	mustExec(t, m, "CREATE EXTENSION postgres_fdw")
	mustExec(t, m, "CREATE EXTENSION dblink")
	mustExec(t, m, "CREATE SERVER fdw_elsewhere FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.example', dbname 'x')")
	mustExec(t, m, "CREATE USER MAPPING FOR CURRENT_USER SERVER fdw_elsewhere OPTIONS (user 'u', password 'p')")
	mustExec(t, m, "CREATE SERVER dblink_elsewhere FOREIGN DATA WRAPPER dblink_fdw OPTIONS (host 'db.example', dbname 'x')")
	mustExec(t, m, "GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO u1")
	var owners string
	if err := m.QueryRow(ctx, "SELECT string_agg(fdwowner::regrole::text, ',' ORDER BY fdwname) FROM pg_foreign_data_wrapper").Scan(&owners); err != nil || owners != "rdsadmin,rdsadmin" {
		t.Errorf("wrapper owners %q, %v; want the bootstrap superuser's", owners, err)
	}
}
