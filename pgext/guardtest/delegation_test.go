package guardtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestDelegatedAdmin: a CREATEROLE role the master made (in neither
// rds_password nor rds_superuser) manages the roles it creates, as in
// PostgreSQL 16, and nothing else: not predefined roles, not the master,
// not members of rds_password, not roles somebody else created.
func TestDelegatedAdmin(t *testing.T) {
	m := as(t, master)
	for _, q := range []string{
		"CREATE ROLE dl_admin LOGIN CREATEROLE PASSWORD '" + rolePass + "'",
		"CREATE ROLE dl_pw LOGIN",
		"GRANT rds_password TO dl_pw",
		"CREATE ROLE dl_other LOGIN",
		"CREATE ROLE dl_group",
	} {
		mustExec(t, m, q)
	}
	t.Cleanup(func() {
		dropRoles(t, "dl_mine_2", "dl_mine", "dl_sub", "dl_x", "dl_gone", "dl_admin", "dl_pw", "dl_other", "dl_group")
	})

	const priv = "42501"
	cases := []struct{ sql, msg string }{
		// Predefined roles that read every table (pg_authid included) or
		// the server's state.
		{"GRANT pg_read_all_data TO dl_admin", `permission denied to grant role "pg_read_all_data"`},
		{"GRANT pg_write_all_data TO dl_admin", `permission denied to grant role "pg_write_all_data"`},
		{"GRANT pg_monitor TO dl_admin", `permission denied to grant role "pg_monitor"`},
		{"GRANT pg_signal_backend TO dl_other", `permission denied to grant role "pg_signal_backend"`},
		{"CREATE ROLE dl_x IN ROLE pg_read_all_data", `permission denied to grant role "pg_read_all_data"`},
		{"CREATE ROLE dl_x IN GROUP pg_read_all_stats", `permission denied to grant role "pg_read_all_stats"`},
		{"ALTER GROUP pg_monitor ADD USER dl_admin", `permission denied to grant role "pg_monitor"`},
		{"REVOKE pg_monitor FROM dl_other", `permission denied to revoke role "pg_monitor"`},
		// The master (rds_superuser) stays out of reach, as before.
		{"ALTER ROLE " + master + " CONNECTION LIMIT 0", `permission denied to alter role "master1"`},
		{"ALTER ROLE " + master + " SET search_path = dl_schema", `permission denied to alter role "master1"`},
		{"ALTER ROLE " + master + " IN DATABASE appdb SET search_path = dl_schema", `permission denied to alter role "master1"`},
		{"DROP ROLE " + master, `permission denied to drop role "master1"`},
		// A member of rds_password.
		{"ALTER ROLE dl_pw NOLOGIN", `permission denied to alter role "dl_pw"`},
		{"ALTER ROLE dl_pw CONNECTION LIMIT 0", `permission denied to alter role "dl_pw"`},
		{"ALTER ROLE dl_pw SET search_path = dl_schema", `permission denied to alter role "dl_pw"`},
		{"ALTER ROLE dl_pw IN DATABASE appdb SET search_path = dl_schema", `permission denied to alter role "dl_pw"`},
		{"ALTER ROLE dl_pw RESET ALL", `permission denied to alter role "dl_pw"`},
		{"ALTER ROLE dl_pw RENAME TO dl_gone", `permission denied to rename role "dl_pw"`},
		{"DROP ROLE dl_pw", `permission denied to drop role "dl_pw"`},
		{"COMMENT ON ROLE dl_pw IS 'x'", `permission denied to comment on role "dl_pw"`},
		// A role somebody else created.
		{"ALTER ROLE dl_other NOLOGIN", `permission denied to alter role "dl_other"`},
		{"ALTER ROLE dl_other SET search_path = dl_schema", `permission denied to alter role "dl_other"`},
		{"ALTER ROLE dl_other IN DATABASE appdb RESET ALL", `permission denied to alter role "dl_other"`},
		{"ALTER ROLE dl_other RENAME TO dl_gone", `permission denied to rename role "dl_other"`},
		{"DROP ROLE dl_other", `permission denied to drop role "dl_other"`},
		{"COMMENT ON ROLE dl_other IS 'x'", `permission denied to comment on role "dl_other"`},
		{"GRANT dl_group TO dl_admin", `permission denied to grant role "dl_group"`},
		{"GRANT dl_other TO dl_admin", `permission denied to grant role "dl_other"`},
		{"ALTER GROUP dl_group ADD USER dl_admin", `permission denied to grant role "dl_group"`},
		{"CREATE ROLE dl_x IN ROLE dl_group", `permission denied to grant role "dl_group"`},
		// Attributes it lacks (PostgreSQL 16): a CREATEDB role it made and
		// may SET ROLE to would give it CREATE DATABASE.
		{"CREATE ROLE dl_x CREATEDB", `permission denied to create role`},
		// Itself: its password and settings only (PostgreSQL 16).
		{"ALTER ROLE dl_admin CONNECTION LIMIT 100", `permission denied to alter role "dl_admin"`},
		{"ALTER ROLE CURRENT_USER CREATEDB", `permission denied to alter role "dl_admin"`},
		{"GRANT dl_admin TO dl_other", `permission denied to grant role "dl_admin"`},
		{"COMMENT ON ROLE dl_admin IS 'x'", `permission denied to comment on role "dl_admin"`},
	}
	c := as(t, "dl_admin")
	for _, tc := range cases {
		_, err := c.Exec(ctxT(t), tc.sql)
		wantPgError(t, "dl_admin: "+tc.sql, err, priv, tc.msg)
	}
	serverUp(t)
	var n int
	if err := admin(t).QueryRow(ctxT(t), `SELECT count(*) FROM pg_auth_members m
		JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
		WHERE u.rolname IN ('dl_admin', 'dl_other', 'dl_x') OR r.rolname = 'dl_admin'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("refused grants took effect: %d, %v", n, err)
	}
	if !roleExists(t, "dl_pw") || !roleExists(t, "dl_other") || roleExists(t, "dl_x") {
		t.Error("a refused statement changed the roles")
	}

	// What it creates, it manages, as in PostgreSQL 16.
	for _, q := range []string{
		"CREATE ROLE dl_mine LOGIN",
		"ALTER ROLE dl_mine CONNECTION LIMIT 3 NOLOGIN",
		"ALTER ROLE dl_mine NOCREATEROLE INHERIT",
		"ALTER ROLE dl_mine SET work_mem = '2MB'",
		"ALTER ROLE dl_mine IN DATABASE appdb SET search_path = public",
		"ALTER ROLE dl_mine IN DATABASE appdb RESET search_path",
		"COMMENT ON ROLE dl_mine IS 'made by dl_admin'",
		"CREATE ROLE dl_sub IN ROLE dl_mine",
		"GRANT dl_mine TO dl_other",
		"REVOKE dl_mine FROM dl_other",
		"ALTER GROUP dl_mine DROP USER dl_sub",
		"ALTER ROLE dl_mine RENAME TO dl_mine_2",
		"DROP ROLE dl_sub",
		// Its own settings.
		"ALTER ROLE CURRENT_USER SET work_mem = '2MB'",
		"ALTER ROLE dl_admin RESET work_mem",
	} {
		mustExec(t, c, q)
	}
	var admin_, inherit bool
	if err := admin(t).QueryRow(ctxT(t), `SELECT m.admin_option, pg_has_role('dl_admin', 'dl_mine_2', 'USAGE')
		FROM pg_auth_members m WHERE m.roleid = 'dl_mine_2'::regrole AND m.member = 'dl_admin'::regrole`).Scan(&admin_, &inherit); err != nil || !admin_ {
		t.Errorf("dl_admin's ADMIN OPTION on dl_mine_2: %v, %v", admin_, err)
	}
	// PostgreSQL 15 has no ADMIN without membership: the creator inherits.
	if !inherit {
		t.Error("dl_admin does not inherit dl_mine_2 (PostgreSQL 15 grants are memberships)")
	}

	_, err := c.Exec(ctxT(t), "ALTER ROLE dl_mine_2 CREATEDB")
	wantPgError(t, "dl_admin gives CREATEDB", err, priv, `permission denied to alter role "dl_mine_2"`)

	// A role it manages is not given reserved roles: in PostgreSQL 15 its
	// admin is a member and would gain them.
	_, err = m.Exec(ctxT(t), "GRANT rds_password TO dl_mine_2")
	wantPgError(t, "master grants rds_password to a role dl_admin manages", err, priv,
		`permission denied to grant role "rds_password" to role "dl_mine_2"`)
	mustExec(t, c, "DROP ROLE dl_mine_2")
	// Even with ADMIN OPTION on a member of rds_password (which the master
	// granted on purpose), it does not alter it.
	mustExec(t, m, "GRANT dl_pw TO dl_admin WITH ADMIN OPTION")
	_, err = c.Exec(ctxT(t), "ALTER ROLE dl_pw NOLOGIN")
	wantPgError(t, "dl_admin alters an rds_password member it holds WITH ADMIN OPTION", err, priv, `permission denied to alter role "dl_pw"`)
	mustExec(t, m, "REVOKE dl_pw FROM dl_admin")

	// The master creates, alters and grants as before; it gets no
	// membership in what it creates.
	for _, q := range []string{
		"CREATE ROLE dl_x LOGIN CONNECTION LIMIT 5",
		"ALTER ROLE dl_x CONNECTION LIMIT 6",
		"ALTER ROLE dl_other SET work_mem = '2MB'",
		"GRANT pg_read_all_stats, pg_monitor TO dl_x",
		"GRANT dl_group TO dl_x",
		"REVOKE pg_monitor FROM dl_x",
		"COMMENT ON ROLE dl_x IS 'made by the master'",
		"ALTER ROLE dl_x RENAME TO dl_gone",
		"DROP ROLE dl_gone",
	} {
		mustExec(t, m, q)
	}
	if err := admin(t).QueryRow(ctxT(t), `SELECT count(*) FROM pg_auth_members WHERE member = $1::regrole`, master).Scan(&n); err != nil || n != 1 {
		t.Errorf("the master's memberships: %d (want rds_superuser only), %v", n, err)
	}
}

// dialDB opens a TLS session to database db.
func dialDB(ctx context.Context, db, user, password string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=%s sslmode=require connect_timeout=10",
		srv.spec.ListenAddr, srv.spec.Port, db))
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = user, password
	cfg.Fallbacks = nil
	return pgx.ConnectConfig(ctx, cfg)
}

// TestDatabaseSettingsTrap: the owner of a database, not in rds_superuser,
// cannot make the master's next session there resolve names through its
// schema (or steer it any other way); it may still remove settings.
func TestDatabaseSettingsTrap(t *testing.T) {
	adminExec(t, "CREATE ROLE ds_owner LOGIN CREATEDB PASSWORD '"+rolePass+"'")
	t.Cleanup(func() {
		c := admin(t)
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS ds_db WITH (FORCE)"); err != nil {
			t.Error(err)
		}
		dropRoles(t, "ds_owner")
	})
	mustExec(t, as(t, "ds_owner"), "CREATE DATABASE ds_db")
	o, err := dialDB(ctxT(t), "ds_db", "ds_owner", rolePass)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(context.Background())
	mustExec(t, o, "CREATE SCHEMA evil")
	mustExec(t, o, `CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'trapped' $$`)

	const denied = `permission denied to set parameter "%s" for a database`
	for _, tc := range []struct{ sql, msg string }{
		{"ALTER DATABASE ds_db SET search_path = evil, pg_catalog", fmt.Sprintf(denied, "search_path")},
		{"ALTER ROLE ALL IN DATABASE ds_db SET search_path = evil, pg_catalog", fmt.Sprintf(denied, "search_path")},
		{"SET search_path = evil, pg_catalog; ALTER DATABASE ds_db SET search_path FROM CURRENT", fmt.Sprintf(denied, "search_path")},
		// Other settings steer code too: all are kept for rds_superuser.
		{"ALTER DATABASE ds_db SET statement_timeout = 1", fmt.Sprintf(denied, "statement_timeout")},
		{"ALTER DATABASE ds_db SET standard_conforming_strings = off", fmt.Sprintf(denied, "standard_conforming_strings")},
		{"ALTER ROLE ALL IN DATABASE ds_db SET default_transaction_read_only = on", fmt.Sprintf(denied, "default_transaction_read_only")},
		// The master's own settings there: the delegation rule.
		{"ALTER ROLE " + master + " IN DATABASE ds_db SET search_path = evil, pg_catalog", `permission denied to alter role "master1"`},
	} {
		_, err := o.Exec(ctxT(t), tc.sql)
		wantPgError(t, "ds_owner: "+tc.sql, err, "42501", tc.msg)
	}

	// The master's next session there is its own.
	mc, err := dialDB(ctxT(t), "ds_db", master, masterPass)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close(context.Background())
	var path, low string
	if err := mc.QueryRow(ctxT(t), "SELECT current_setting('search_path'), lower('X')").Scan(&path, &low); err != nil ||
		path != `"$user", public` || low != "x" {
		t.Errorf("master in ds_db: search_path %q, lower('X') = %q, %v", path, low, err)
	}

	// Settings stored by others can be removed by the owner.
	a, err := srv.l.Connect(ctxT(t), srv.spec, "ds_db")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	mustExec(t, a, "ALTER DATABASE ds_db SET work_mem = '2MB'")
	mustExec(t, a, "ALTER ROLE ALL IN DATABASE ds_db SET work_mem = '2MB'")
	for _, q := range []string{
		"ALTER DATABASE ds_db RESET work_mem",
		"ALTER DATABASE ds_db SET work_mem TO DEFAULT",
		"ALTER DATABASE ds_db RESET ALL",
		"ALTER ROLE ALL IN DATABASE ds_db RESET ALL",
	} {
		mustExec(t, o, q)
	}
	var left int
	if err := a.QueryRow(ctxT(t), "SELECT count(*) FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = 'ds_db')").Scan(&left); err != nil || left != 0 {
		t.Errorf("settings left in ds_db: %d, %v", left, err)
	}
	// The master (rds_superuser) still stores settings for its database.
	mustExec(t, as(t, master), "ALTER DATABASE appdb SET work_mem = '2MB'")
	mustExec(t, as(t, master), "ALTER DATABASE appdb RESET work_mem")
}

// TestDelegatedAdminGainsThroughGroups: a role a delegated admin manages may
// sit deeper in a group than the role the master grants a reserved role to;
// in PostgreSQL 15 the admin is a member all the way down and would gain the
// reserved role through the chain.
func TestDelegatedAdminGainsThroughGroups(t *testing.T) {
	m := as(t, master)
	mustExec(t, m, "CREATE ROLE dg_admin LOGIN CREATEROLE PASSWORD '"+rolePass+"'")
	t.Cleanup(func() { dropRoles(t, "dg_new", "dg_mine", "dg_team", "dg_group", "dg_admin") })
	c := as(t, "dg_admin")
	mustExec(t, c, "CREATE ROLE dg_mine")
	for _, q := range []string{
		"CREATE ROLE dg_group",
		"CREATE ROLE dg_team",
		"GRANT dg_group TO dg_team",
		// A group of the master's holding a role dg_admin manages.
		"GRANT dg_team TO dg_mine",
	} {
		mustExec(t, m, q)
	}

	const priv = "42501"
	for _, tc := range []struct{ sql, msg string }{
		{"GRANT rds_password TO dg_group", `permission denied to grant role "rds_password" to role "dg_group"`},
		{"GRANT rds_superuser TO dg_team", `permission denied to grant role "rds_superuser" to role "dg_team"`},
		{"ALTER GROUP rds_password ADD USER dg_group", `permission denied to grant role "rds_password" to role "dg_group"`},
		{"CREATE ROLE dg_new IN ROLE rds_password ROLE dg_team", `permission denied to grant role "rds_password" to role "dg_team"`},
	} {
		_, err := m.Exec(ctxT(t), tc.sql)
		wantPgError(t, "master: "+tc.sql, err, priv, tc.msg)
	}
	var gained bool
	if err := admin(t).QueryRow(ctxT(t), `SELECT pg_has_role('dg_admin', 'rds_password', 'MEMBER')`).Scan(&gained); err != nil || gained {
		t.Errorf("dg_admin is a member of rds_password: %v, %v", gained, err)
	}
	// Once dg_mine leaves the group, the group may have it.
	mustExec(t, m, "REVOKE dg_team FROM dg_mine")
	mustExec(t, m, "GRANT rds_password TO dg_group")
	serverUp(t)
}
