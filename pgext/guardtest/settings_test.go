package guardtest

import (
	"context"
	"testing"
)

// TestSettingNamesAnyCase: PostgreSQL finds a setting whatever the letter
// case of its (quoted) name, so the rule on identity-changing settings does
// too, in every statement that stores one.
func TestSettingNamesAnyCase(t *testing.T) {
	a := admin(t)
	t.Cleanup(func() {
		for _, q := range []string{
			"ALTER ROLE u1 RESET ALL",
			"ALTER ROLE u1 IN DATABASE " + database + " RESET ALL",
			"ALTER DATABASE " + database + " RESET ALL",
			"ALTER ROLE ALL IN DATABASE " + database + " RESET ALL",
		} {
			if _, err := a.Exec(context.Background(), q); err != nil {
				t.Error(q, err)
			}
		}
	})
	crAdministersU1(t)
	cr, m := as(t, "cr"), as(t, master)
	for _, c := range []struct {
		who  string
		sql  string
		code string
		msg  string
	}{
		{"cr", `ALTER ROLE u1 SET "ROLE" = 'rds_superuser'`, "42501", `permission denied to set parameter "role" to reserved role "rds_superuser"`},
		{"cr", `ALTER ROLE u1 SET "Role" TO rdsadmin`, "42501", `permission denied to set parameter "role" to reserved role "rdsadmin"`},
		{"cr", `ALTER USER u1 IN DATABASE ` + database + ` SET "rOLE" = 'rds_password'`, "42501", `permission denied to set parameter "role" to reserved role "rds_password"`},
		{master, `ALTER DATABASE ` + database + ` SET "ROLE" = 'u1'`, "42501", `permission denied to set parameter "role" for a database`},
		{master, `ALTER DATABASE ` + database + ` SET "Session_Authorization" = 'u1'`, "42501", `permission denied to set parameter "session_authorization" for a database`},
		{master, `ALTER ROLE ALL IN DATABASE ` + database + ` SET "Role" = 'u1'`, "42501", `permission denied to set parameter "role" for a database`},
	} {
		c2 := cr
		if c.who == master {
			c2 = m
		}
		_, err := c2.Exec(ctxT(t), c.sql)
		wantPgError(t, c.who+": "+c.sql, err, c.code, c.msg)
	}
	var n int
	if err := a.QueryRow(ctxT(t), "SELECT count(*) FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE c ILIKE 'role=%' OR c ILIKE 'session_authorization=%'").Scan(&n); err != nil || n != 0 {
		t.Errorf("stored identity settings: %d, %v", n, err)
	}
	// A role of one's own in another letter case is still fine.
	mustExec(t, cr, `ALTER ROLE u1 SET "Search_Path" = 'public'`)
	serverUp(t)
}

// TestCodeLoadingSettings: settings that make a backend load a library are
// never stored on a role or database (nobody's, rdsadmin's included) and are
// set in a session only by superusers; a value stored before is ignored, so
// logins keep working.
func TestCodeLoadingSettings(t *testing.T) {
	a := admin(t)
	t.Cleanup(func() {
		for _, q := range []string{
			`UPDATE pg_db_role_setting SET setconfig = ARRAY(SELECT c FROM unnest(setconfig) c WHERE c NOT ILIKE '%preload_libraries=%')`,
			"DELETE FROM pg_db_role_setting WHERE setconfig = '{}'",
			"DROP FUNCTION IF EXISTS public.cl_fn()",
		} {
			if _, err := admin(t).Exec(context.Background(), q); err != nil {
				t.Error(q, err)
			}
		}
	})
	const denied = "42501"
	msg := func(name string) string { return `permission denied to set parameter "` + name + `"` }
	crAdministersU1(t)
	cr, m, u1 := as(t, "cr"), as(t, master), as(t, "u1")
	for _, c := range []struct {
		who  string
		sql  string
		name string
	}{
		{"cr", `ALTER ROLE u1 SET local_preload_libraries = 'nosuchlib'`, "local_preload_libraries"},
		{"cr", `ALTER ROLE u1 IN DATABASE ` + database + ` SET "Local_Preload_Libraries" = 'nosuchlib'`, "local_preload_libraries"},
		{"u1", `ALTER ROLE u1 SET local_preload_libraries = 'nosuchlib'`, "local_preload_libraries"},
		{"u1", `ALTER ROLE CURRENT_USER SET local_preload_libraries = 'nosuchlib'`, "local_preload_libraries"},
		{master, `ALTER DATABASE ` + database + ` SET local_preload_libraries = 'nosuchlib'`, "local_preload_libraries"},
		{master, `ALTER ROLE ALL IN DATABASE ` + database + ` SET local_preload_libraries = 'nosuchlib'`, "local_preload_libraries"},
		{master, `ALTER ROLE ` + master + ` SET session_preload_libraries = 'nosuchlib'`, "session_preload_libraries"},
		{master, `ALTER ROLE u1 SET dynamic_library_path = '/tmp'`, "dynamic_library_path"},
		{"u1", `SET local_preload_libraries = 'nosuchlib'`, "local_preload_libraries"},
		{"u1", `SET "LOCAL_PRELOAD_LIBRARIES" TO nosuchlib`, "local_preload_libraries"},
		{"u1", `SELECT set_config('local_preload_libraries', 'nosuchlib', false)`, "local_preload_libraries"},
		{"u1", `BEGIN; SET LOCAL local_preload_libraries = 'nosuchlib'; COMMIT`, "local_preload_libraries"},
		{"u1", `CREATE FUNCTION public.cl_fn() RETURNS int LANGUAGE sql SET local_preload_libraries = 'nosuchlib' AS 'SELECT 1'`, "local_preload_libraries"},
		// Not even rdsadmin stores one: only the server configuration sets them.
		{"rdsadmin", `ALTER ROLE u1 SET local_preload_libraries = 'nosuchlib'`, "local_preload_libraries"},
		{"rdsadmin", `ALTER DATABASE ` + database + ` SET session_preload_libraries = 'nosuchlib'`, "session_preload_libraries"},
	} {
		var err error
		switch c.who {
		case "cr":
			_, err = cr.Exec(ctxT(t), c.sql)
		case "u1":
			_, err = u1.Exec(ctxT(t), c.sql)
			u1.Exec(ctxT(t), "ROLLBACK")
		case master:
			_, err = m.Exec(ctxT(t), c.sql)
		default:
			_, err = a.Exec(ctxT(t), c.sql)
		}
		wantPgError(t, c.who+": "+c.sql, err, denied, msg(c.name))
	}
	// Empty (load nothing) is fine; a superuser's session may load one.
	mustExec(t, u1, `SET local_preload_libraries = ''`)
	mustExec(t, a, `SET local_preload_libraries = 'whatever'`)

	// A value stored before (here written into the catalog by rdsadmin) is
	// ignored with a warning: nobody is locked out.
	store := func(db, role, setting string) {
		t.Helper()
		mustExec(t, a, `DO $$ BEGIN
			UPDATE pg_db_role_setting SET setconfig = setconfig || '{`+setting+`}'::text[] WHERE setdatabase = `+db+` AND setrole = `+role+`;
			IF NOT FOUND THEN INSERT INTO pg_db_role_setting VALUES (`+db+`, `+role+`, '{`+setting+`}'); END IF;
			END $$`)
	}
	dbOid := "(SELECT oid FROM pg_database WHERE datname = current_database())"
	store(dbOid, "0", "local_preload_libraries=nosuchlib")
	store("0", "'u1'::regrole", "session_preload_libraries=nosuchlib")
	for _, user := range []string{"u1", master} {
		c := as(t, user)
		var v string
		if err := c.QueryRow(ctxT(t), "SHOW local_preload_libraries").Scan(&v); err != nil || v != "" {
			t.Errorf("%s after a stored local_preload_libraries: %q, %v", user, v, err)
		}
	}
	var one int
	if err := admin(t).QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil {
		t.Errorf("rdsadmin after a stored local_preload_libraries: %v", err)
	}
	serverUp(t)
}

// crAdministersU1 gives cr ADMIN OPTION on u1 for one test: the role rules
// (delegation.c) let a CREATEROLE role touch only roles it administers, and
// these tests are about the settings rules behind them.
func crAdministersU1(t *testing.T) {
	t.Helper()
	adminExec(t, "GRANT u1 TO cr WITH ADMIN OPTION")
	t.Cleanup(func() { adminExec(t, "REVOKE u1 FROM cr") })
}
