package guardtest

import (
	"context"
	"io"
	"strings"
	"testing"
)

const (
	errRolpassword = `permission denied for column "rolpassword" of relation "pg_authid"`
	errAuthidRow   = `permission denied for relation pg_authid`
)

// TestSecretsUnreadable: a role rdsadmin gave pg_read_all_data (and one
// with pg_write_all_data) reads every table but no password verifier or
// connection secret, by any route; what the system views show stays.
func TestSecretsUnreadable(t *testing.T) {
	adminExec(t,
		"CREATE ROLE sr_reader LOGIN PASSWORD '"+rolePass+"'",
		"GRANT pg_read_all_data TO sr_reader",
		"CREATE ROLE sr_writer LOGIN PASSWORD '"+rolePass+"'",
		"GRANT pg_write_all_data TO sr_writer",
		"CREATE SCHEMA sr AUTHORIZATION sr_reader",
		"GRANT USAGE ON SCHEMA sr TO u1",
		// A stored secret of each other kind.
		"CREATE FOREIGN DATA WRAPPER sr_fdw",
		"CREATE SERVER sr_srv FOREIGN DATA WRAPPER sr_fdw",
		"CREATE USER MAPPING FOR u1 SERVER sr_srv OPTIONS (password 'mapping-secret')",
		"GRANT USAGE ON FOREIGN SERVER sr_srv TO u1",
	)
	t.Cleanup(func() {
		c := admin(t)
		for _, q := range []string{
			"DROP SCHEMA IF EXISTS sr CASCADE",
			"DROP SERVER IF EXISTS sr_srv CASCADE",
			"DROP FOREIGN DATA WRAPPER IF EXISTS sr_fdw",
		} {
			if _, err := c.Exec(context.Background(), q); err != nil {
				t.Error(q, err)
			}
		}
		dropRoles(t, "sr_reader", "sr_writer")
	})

	reader := as(t, "sr_reader")
	for _, q := range []string{
		// Objects of the reader's own that read the verifiers as their owner
		// (or as whoever calls them).
		`CREATE VIEW sr.v AS SELECT rolname, rolpassword FROM pg_authid`,
		`CREATE VIEW sr.v_invoker WITH (security_invoker) AS SELECT rolname, rolpassword FROM pg_authid`,
		`CREATE VIEW sr.v_row AS SELECT a FROM pg_authid a`,
		`CREATE FUNCTION sr.f_sql() RETURNS SETOF text LANGUAGE sql AS $$ SELECT rolpassword FROM pg_authid $$`,
		`CREATE FUNCTION sr.f_plpgsql() RETURNS SETOF text LANGUAGE plpgsql AS
		 $$ BEGIN RETURN QUERY EXECUTE 'SELECT rolpassword FROM pg_authid'; END $$`,
		`CREATE FUNCTION sr.f_definer() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER AS
		 $$ SELECT rolpassword FROM pg_catalog.pg_authid $$`,
		`GRANT SELECT ON sr.v TO u1`,
	} {
		mustExec(t, reader, q)
	}

	for _, tc := range []struct{ user, sql, msg string }{
		{"sr_reader", `SELECT rolpassword FROM pg_authid`, errRolpassword},
		{"sr_reader", `SELECT * FROM pg_authid`, errRolpassword},
		{"sr_reader", `TABLE pg_authid`, errRolpassword},
		{"sr_reader", `SELECT a FROM pg_authid a`, errAuthidRow},
		{"sr_reader", `SELECT row_to_json(a) FROM pg_authid a`, errAuthidRow},
		{"sr_reader", `SELECT rolname FROM pg_authid WHERE rolpassword LIKE 'md5%'`, errRolpassword},
		{"sr_reader", `SELECT rolname FROM pg_authid ORDER BY rolpassword`, errRolpassword},
		{"sr_reader", `SELECT count(*) FROM pg_authid GROUP BY rolpassword`, errRolpassword},
		{"sr_reader", `SELECT passwd FROM pg_shadow`, `permission denied for column "passwd" of relation "pg_shadow"`},
		{"sr_reader", `SELECT * FROM pg_shadow`, `permission denied for column "passwd" of relation "pg_shadow"`},
		{"sr_reader", `SELECT * FROM sr.v`, errRolpassword},
		{"u1", `SELECT * FROM sr.v`, errRolpassword},
		{"sr_reader", `SELECT * FROM sr.v_invoker`, errRolpassword},
		{"sr_reader", `SELECT * FROM sr.v_row`, errAuthidRow},
		{"sr_reader", `SELECT sr.f_sql()`, errRolpassword},
		{"sr_reader", `SELECT * FROM sr.f_plpgsql()`, errRolpassword},
		{"u1", `SELECT sr.f_definer()`, errRolpassword},
		{"sr_reader", `DO $$ BEGIN PERFORM rolpassword FROM pg_authid; END $$`, errRolpassword},
		{"sr_reader", `CREATE TABLE sr.t AS SELECT rolpassword FROM pg_authid`, errRolpassword},
		{"sr_reader", `CREATE MATERIALIZED VIEW sr.mv AS SELECT rolpassword FROM pg_authid`, errRolpassword},
		{"sr_reader", `SELECT chunk_data FROM pg_toast.pg_toast_1260`, `permission denied for table pg_toast_1260`},
		{"sr_reader", `SELECT umoptions FROM pg_user_mapping`, `permission denied for column "umoptions" of relation "pg_user_mapping"`},
		{"sr_reader", `SELECT subconninfo FROM pg_subscription`, `permission denied for column "subconninfo" of relation "pg_subscription"`},
		{"sr_reader", `SELECT stavalues1 FROM pg_statistic`, `permission denied for column "stavalues1" of relation "pg_statistic"`},
		{"sr_reader", `SELECT s FROM pg_statistic s`, `permission denied for relation pg_statistic`},
		// pg_write_all_data gives no way either (PostgreSQL keeps catalogs
		// read-only; the guard would refuse the WHERE and RETURNING reads).
		{"sr_writer", `UPDATE pg_authid SET rolname = rolname WHERE rolpassword LIKE 'md5%' RETURNING rolpassword`, `permission denied for table pg_authid`},
	} {
		for _, mode := range []execMode{simple, extended, prepared} {
			c := as(t, tc.user)
			err := execIn(ctxT(t), c, mode, tc.sql)
			wantPgError(t, tc.user+" "+mode.String()+": "+tc.sql, err, "42501", tc.msg)
		}
	}

	// COPY, both forms.
	for _, q := range []string{
		`COPY pg_authid TO STDOUT`,
		`COPY pg_authid (rolname, rolpassword) TO STDOUT`,
		`COPY (SELECT rolpassword FROM pg_authid) TO STDOUT`,
		`COPY (SELECT * FROM sr.v) TO STDOUT`,
	} {
		_, err := reader.PgConn().CopyTo(ctxT(t), io.Discard, q)
		wantPgError(t, "sr_reader: "+q, err, "42501", errRolpassword)
	}
	serverUp(t)

	// What the reader may still read: the other columns, and the system
	// views, which read pg_authid as their owner, the bootstrap superuser.
	var sb strings.Builder
	if _, err := reader.PgConn().CopyTo(ctxT(t), &sb, `COPY pg_authid (rolname, rolsuper) TO STDOUT`); err != nil || !strings.Contains(sb.String(), master) {
		t.Errorf("COPY pg_authid (rolname, rolsuper): %v", err)
	}
	for _, user := range []string{"sr_reader", "u1", master} {
		c := as(t, user)
		for _, q := range []string{
			`SELECT count(*) FROM pg_roles WHERE rolpassword = '********'`,
			`SELECT count(*) FROM pg_user WHERE passwd = '********'`,
			// psql's \du (15)
			`SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
			        r.rolconnlimit, r.rolvaliduntil,
			        ARRAY(SELECT b.rolname FROM pg_catalog.pg_auth_members m
			              JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid) WHERE m.member = r.oid) as memberof,
			        r.rolreplication, r.rolbypassrls
			 FROM pg_catalog.pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY 1`,
			`SELECT count(*) FROM pg_user_mappings`,
			`SELECT count(*) FROM pg_stats`,
		} {
			if _, err := c.Exec(ctxT(t), q); err != nil {
				t.Errorf("%s: %s: %v", user, q, err)
			}
		}
	}
	var n int
	if err := reader.QueryRow(ctxT(t), `SELECT count(*) FROM pg_authid WHERE rolname = $1 AND rolcanlogin`, master).Scan(&n); err != nil || n != 1 {
		t.Errorf("sr_reader: other columns of pg_authid: %d, %v", n, err)
	}
	// The mapping's owner still sees its own options, as PostgreSQL means.
	var opts []string
	if err := as(t, "u1").QueryRow(ctxT(t), `SELECT umoptions FROM pg_user_mappings WHERE srvname = 'sr_srv'`).Scan(&opts); err != nil || len(opts) != 1 {
		t.Errorf("u1: its own mapping's options: %v, %v", opts, err)
	}
	// pg_stats shows what ANALYZE sampled to whoever may select the column:
	// once pg_authid is analyzed (autovacuum does it after some fifty role
	// changes, which a CREATEROLE role can make), its histogram held the
	// verifiers. Other tables keep their statistics.
	adminExec(t, "CREATE TABLE sr.stats AS SELECT g AS x FROM generate_series(1, 100) g",
		"ANALYZE pg_authid", "ANALYZE pg_user_mapping", "ANALYZE sr.stats")
	for _, user := range []string{"sr_reader", "u1"} {
		c := as(t, user)
		if err := c.QueryRow(ctxT(t), `SELECT count(*) FROM pg_stats WHERE tablename IN ('pg_authid', 'pg_user_mapping')`).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: pg_stats rows of pg_authid and pg_user_mapping: %d, %v", user, n, err)
		}
	}
	if err := reader.QueryRow(ctxT(t), `SELECT count(*) FROM pg_stats WHERE schemaname = 'sr' AND tablename = 'stats'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("sr_reader: pg_stats of an ordinary table: %d, %v", n, err)
	}
	// The planner inlines a STABLE SQL set-returning function after the
	// planner hook saw the query: pg_stats expanded inside it once escaped the
	// hiding (the verifiers showed in rolpassword's histogram).
	mustExec(t, reader, `CREATE FUNCTION sr.stats_of(tab name) RETURNS SETOF pg_stats LANGUAGE sql STABLE AS
		$$ SELECT * FROM pg_catalog.pg_stats WHERE tablename = tab $$`)
	mustExec(t, reader, `CREATE FUNCTION sr.raw_stats() RETURNS SETOF pg_statistic LANGUAGE sql STABLE AS
		$$ SELECT * FROM pg_catalog.pg_statistic $$`)
	for _, q := range []string{
		`SELECT count(*) FROM sr.stats_of('pg_authid')`,
		`SELECT count(*) FROM sr.stats_of('pg_user_mapping')`,
		`SELECT count(*) FROM (SELECT * FROM sr.stats_of('pg_authid') UNION ALL SELECT * FROM sr.stats_of('pg_authid')) s`,
		`WITH s AS MATERIALIZED (SELECT * FROM sr.stats_of('pg_authid')) SELECT count(*) FROM s`,
	} {
		if err := reader.QueryRow(ctxT(t), q).Scan(&n); err != nil || n != 0 {
			t.Errorf("sr_reader: %s: %d, %v", q, n, err)
		}
	}
	for _, q := range []string{
		`SELECT count(*) FROM sr.raw_stats() WHERE starelid IN ('pg_authid'::regclass, 'pg_user_mapping'::regclass)`,
		// children of a flattened UNION ALL are planned after the other quals were placed
		`SELECT count(*) FROM (SELECT starelid FROM sr.raw_stats() UNION ALL SELECT starelid FROM pg_statistic) s
		 WHERE starelid = 'pg_authid'::regclass`,
	} {
		if err := admin(t).QueryRow(ctxT(t), q).Scan(&n); err != nil || n != 0 {
			t.Errorf("rdsadmin: %s: %d, %v", q, n, err)
		}
	}
	if err := reader.QueryRow(ctxT(t), `SELECT count(*) FROM sr.stats_of('stats')`).Scan(&n); err != nil || n != 1 {
		t.Errorf("sr_reader: pg_stats of an ordinary table through an inlined function: %d, %v", n, err)
	}

	// rdsadmin, the superuser, reads everything.
	var pw string
	if err := admin(t).QueryRow(ctxT(t), `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, master).Scan(&pw); err != nil || pw == "" {
		t.Errorf("rdsadmin: rolpassword: %q, %v", pw, err)
	}
	if err := admin(t).QueryRow(ctxT(t), `SELECT passwd FROM pg_shadow WHERE usename = $1`, master).Scan(&pw); err != nil || pw == "" {
		t.Errorf("rdsadmin: pg_shadow: %q, %v", pw, err)
	}
}
