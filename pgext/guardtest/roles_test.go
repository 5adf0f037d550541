package guardtest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// How a case's statement reaches the server.
type execMode int

const (
	simple   execMode = iota // simple query protocol
	extended                 // extended protocol, unnamed statement
	prepared                 // extended protocol, named prepared statement
)

func (m execMode) String() string {
	return [...]string{"simple", "extended", "prepared"}[m]
}

func execIn(ctx context.Context, c *pgx.Conn, mode execMode, q string) error {
	switch mode {
	case extended:
		return c.PgConn().ExecParams(ctx, q, nil, nil, nil, nil).Read().Err
	case prepared:
		if _, err := c.Prepare(ctx, "guard_case", q); err != nil {
			return err
		}
		_, err := c.Exec(ctx, "guard_case")
		return err
	default:
		_, err := c.Exec(ctx, q)
		return err
	}
}

type guardCase struct {
	user string
	mode execMode
	sql  string
	code string // "" when the statement must succeed
	msg  string
}

const (
	errGrantSuperuser = `permission denied to grant reserved role "rds_superuser"`
	errGrantPassword  = `permission denied to grant reserved role "rds_password"`
)

// TestBypassBattery sends restricted statements every way a client can, and
// checks each is refused with the right error, and that no backend crashed.
func TestBypassBattery(t *testing.T) {
	adminExec(t,
		"CREATE ROLE bb_target LOGIN PASSWORD 'old-password'",
		// A SECURITY DEFINER function owned by a superuser may do what its owner may.
		`CREATE FUNCTION public.bb_admin_fn() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
		 SET search_path = pg_catalog AS $$ BEGIN ALTER ROLE bb_target PASSWORD 'from-admin'; END $$`,
		// A password manager changes the passwords of roles it holds WITH
		// ADMIN OPTION (PostgreSQL 16's rule).
		"CREATE ROLE bb_managed LOGIN PASSWORD 'old-password'",
		"GRANT bb_managed TO pwmgr WITH ADMIN OPTION",
		// A reader of every table, given pg_read_all_data by rdsadmin.
		"CREATE ROLE bb_reader LOGIN PASSWORD '"+rolePass+"'",
		"GRANT pg_read_all_data TO bb_reader",
		"GRANT CREATE ON SCHEMA public TO bb_reader",
	)
	mustExec(t, as(t, "bb_reader"), `CREATE FUNCTION bb_secdef_read() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER AS
		 $$ SELECT rolpassword FROM pg_catalog.pg_authid $$`)
	cr := as(t, "cr")
	for _, q := range []string{
		`CREATE FUNCTION bb_exec_fmt(r text, p text) RETURNS void LANGUAGE plpgsql AS
		 $$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', r, p); END $$`,
		`CREATE FUNCTION bb_sql_fn() RETURNS void LANGUAGE sql AS
		 $$ ALTER ROLE bb_target VALID UNTIL 'infinity' $$`,
		`CREATE PROCEDURE bb_proc() LANGUAGE plpgsql AS $$ BEGIN GRANT rds_superuser TO cr; END $$`,
		// Owned by cr (no rds_password, no rds_superuser), called by u1.
		`CREATE FUNCTION bb_secdef_pw() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS
		 $$ BEGIN ALTER ROLE bb_target PASSWORD 'x'; END $$`,
		`CREATE FUNCTION bb_secdef_grant() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS
		 $$ BEGIN EXECUTE 'GRANT rds_superuser TO u1'; END $$`,
		`CREATE FUNCTION bb_secdef_pred() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS
		 $$ BEGIN EXECUTE 'GRANT pg_read_all_data TO u1'; END $$`,
	} {
		mustExec(t, cr, q)
	}
	t.Cleanup(func() {
		c := admin(t)
		for _, q := range []string{
			"DROP FUNCTION IF EXISTS public.bb_admin_fn(), public.bb_exec_fmt(text, text), public.bb_sql_fn(), public.bb_secdef_pw(), public.bb_secdef_grant(), public.bb_secdef_pred(), public.bb_secdef_read()",
			"REVOKE CREATE ON SCHEMA public FROM bb_reader",
			"DROP PROCEDURE IF EXISTS public.bb_proc()",
			"ALTER ROLE cr RESET ALL",
		} {
			if _, err := c.Exec(context.Background(), q); err != nil {
				t.Error(q, err)
			}
		}
		dropRoles(t, "bb_target", "bb_new", "bb_in", "bb_r", "rds_x", "bb_reader", "bb_managed")
	})

	const (
		pw    = "42501"
		priv  = "42501"
		undef = "42704"
	)
	cases := []guardCase{
		// Every road to a password command.
		{"cr", simple, `DO $$ BEGIN EXECUTE 'ALTER ROLE bb_target PASSWORD ''x'''; END $$`, pw, errPasswords},
		{"cr", simple, `SELECT bb_exec_fmt('bb_target', 'x')`, pw, errPasswords},
		{"cr", simple, `SELECT bb_sql_fn()`, pw, errPasswords},
		{"u1", simple, `SELECT bb_secdef_pw()`, pw, errPasswords},
		{"cr", extended, `ALTER ROLE bb_target PASSWORD 'x'`, pw, errPasswords},
		{"cr", prepared, `ALTER ROLE bb_target PASSWORD 'x'`, pw, errPasswords},
		{"cr", extended, `CREATE USER bb_new PASSWORD 'x'`, pw, errPasswords},
		{"cr", prepared, `CREATE USER bb_new PASSWORD 'x'`, pw, errPasswords},
		{"cr", simple, `ALTER USER bb_target VALID UNTIL 'infinity'`, pw, errPasswords},
		{"cr", simple, `SELECT 1; ALTER ROLE bb_target PASSWORD 'x'`, pw, errPasswords},
		{"cr", extended, `ALTER ROLE CURRENT_USER PASSWORD 'x'`, pw, errPasswords},
		{"cr", simple, `ALTER ROLE SESSION_USER VALID UNTIL 'infinity'`, pw, errPasswords},
		{"u1", simple, `ALTER ROLE CURRENT_USER PASSWORD 'x'`, pw, errPasswords},
		{"u1", simple, `SELECT public.bb_admin_fn()`, "", ""},

		// Memberships in reserved roles, every way.
		{"cr", simple, `GRANT rds_superuser TO cr`, priv, errGrantSuperuser},
		{"cr", extended, `GRANT rds_superuser TO cr`, priv, errGrantSuperuser},
		{"cr", simple, `CALL bb_proc()`, priv, errGrantSuperuser},
		{"u1", simple, `SELECT bb_secdef_grant()`, priv, errGrantSuperuser},
		{"cr", simple, `DO $$ BEGIN EXECUTE 'GRANT rds_password TO cr'; END $$`, priv, errGrantPassword},
		{"cr", simple, `GRANT rds_password TO cr`, priv, errGrantPassword},
		{"cr", simple, `GRANT rds_replication TO cr WITH ADMIN OPTION`, priv, `permission denied to grant reserved role "rds_replication"`},
		{"cr", simple, `GRANT rds_iam TO cr`, priv, `permission denied to grant reserved role "rds_iam"`},
		{"cr", simple, `GRANT rdsadmin TO cr`, priv, "must be superuser to alter superusers"},
		{"cr", simple, `CREATE ROLE bb_in IN ROLE rds_superuser`, priv, errGrantSuperuser},
		{"cr", simple, `ALTER GROUP rds_superuser ADD USER cr`, priv, errGrantSuperuser},
		{"cr", simple, `REVOKE rds_superuser FROM ` + master, priv, `permission denied to revoke reserved role "rds_superuser"`},
		// ... and sideways, through a member of rds_superuser.
		{"cr", simple, `GRANT ` + master + ` TO cr`, priv, `permission denied to grant role "master1"`},
		{"cr", simple, `ALTER ROLE ` + master + ` NOLOGIN`, priv, `permission denied to alter role "master1"`},
		{"cr", simple, `ALTER ROLE ` + master + ` SET search_path = 'cr_schema'`, priv, `permission denied to alter role "master1"`},
		// (with restrict on, renaming a role with an MD5 password is first a password command)
		{"cr", simple, `ALTER ROLE ` + master + ` RENAME TO bb_gone`, pw, errPasswords},
		{"cr", simple, `DROP ROLE ` + master, priv, `permission denied to drop role "master1"`},
		{"cr", simple, `CREATE ROLE bb_in IN ROLE ` + master, priv, `permission denied to grant role "master1"`},
		// ... or through a member of rds_password.
		{"cr", simple, `GRANT pwmgr TO cr`, priv, `permission denied to grant role "pwmgr"`},
		// ... or through the predefined roles that reach the server's files.
		{"cr", simple, `CREATE ROLE bb_in IN ROLE pg_read_server_files`, priv, `permission denied to grant role "pg_read_server_files"`},
		{"cr", simple, `GRANT pg_execute_server_program TO cr`, priv, `permission denied to grant role "pg_execute_server_program"`},
		{master, simple, `GRANT pg_write_server_files TO ` + master, priv, `permission denied to grant role "pg_write_server_files"`},
		{master, simple, `ALTER ROLE pg_read_server_files LOGIN PASSWORD 'x'`, priv, `permission denied to alter predefined role "pg_read_server_files"`},

		// ... or through predefined roles, which need ADMIN OPTION (PostgreSQL
		// 16's CREATEROLE rule), and roles the caller did not create.
		{"cr", simple, `GRANT pg_read_all_data TO cr`, priv, `permission denied to grant role "pg_read_all_data"`},
		{"cr", extended, `GRANT pg_monitor TO cr`, priv, `permission denied to grant role "pg_monitor"`},
		{"cr", simple, `DO $$ BEGIN EXECUTE 'GRANT pg_write_all_data TO cr'; END $$`, priv, `permission denied to grant role "pg_write_all_data"`},
		{"cr", prepared, `CREATE ROLE bb_in IN ROLE pg_read_all_data`, priv, `permission denied to grant role "pg_read_all_data"`},
		{"u1", simple, `SELECT bb_secdef_pred()`, priv, `permission denied to grant role "pg_read_all_data"`},
		{"cr", prepared, `ALTER ROLE pwmgr SET search_path = 'cr_schema'`, priv, `permission denied to alter role "pwmgr"`},
		{"cr", simple, `DO $$ BEGIN EXECUTE 'ALTER ROLE u1 CONNECTION LIMIT 0'; END $$`, priv, `permission denied to alter role "u1"`},
		{"cr", extended, `DROP ROLE u1`, priv, `permission denied to drop role "u1"`},
		{"cr", simple, `COMMENT ON ROLE u1 IS 'x'`, priv, `permission denied to comment on role "u1"`},
		{"cr", simple, `GRANT u1 TO cr`, priv, `permission denied to grant role "u1"`},
		{"pwmgr", simple, `ALTER ROLE u1 PASSWORD 'x'`, priv, `permission denied to alter role "u1"`},

		// Password verifiers, every way.
		{"bb_reader", simple, `SELECT rolpassword FROM pg_authid`, priv, errRolpassword},
		{"bb_reader", extended, `SELECT (SELECT max(rolpassword) FROM pg_authid)`, priv, errRolpassword},
		{"bb_reader", prepared, `WITH x AS (SELECT * FROM pg_authid) SELECT count(*) FROM x`, priv, errRolpassword},
		{"bb_reader", simple, `DO $$ BEGIN PERFORM rolpassword FROM pg_authid; END $$`, priv, errRolpassword},
		{"bb_reader", simple, `DO $$ BEGIN EXECUTE 'SELECT passwd FROM pg_shadow'; END $$`, priv, `permission denied for column "passwd" of relation "pg_shadow"`},
		{"u1", extended, `SELECT bb_secdef_read()`, priv, errRolpassword},
		{"bb_reader", simple, `SELECT count(*) FROM pg_authid WHERE rolname = 'rdsadmin'`, "", ""},

		// The reserved roles themselves, even for the master user.
		{master, simple, `REVOKE rds_password FROM rds_superuser`, priv, `permission denied to revoke role "rds_password" from reserved role "rds_superuser"`},
		{master, simple, `DROP ROLE rds_superuser`, priv, `cannot drop reserved role "rds_superuser"`},
		{master, simple, `DROP ROLE IF EXISTS bb_nonexistent, rds_password`, priv, `cannot drop reserved role "rds_password"`},
		{master, simple, `ALTER ROLE rds_superuser SET work_mem = '1MB'`, priv, `permission denied to alter reserved role "rds_superuser"`},
		{master, simple, `ALTER ROLE rds_superuser IN DATABASE appdb SET work_mem = '1MB'`, priv, `permission denied to alter reserved role "rds_superuser"`},
		{master, simple, `ALTER ROLE rds_superuser RESET ALL`, priv, `permission denied to alter reserved role "rds_superuser"`},
		{master, simple, `ALTER ROLE rds_password RENAME TO p2`, priv, `permission denied to rename reserved role "rds_password"`},
		{master, simple, `ALTER ROLE rds_password PASSWORD 'x'`, priv, `permission denied to alter reserved role "rds_password"`},
		{master, simple, `ALTER ROLE rds_iam LOGIN`, priv, `permission denied to alter reserved role "rds_iam"`},
		{master, simple, `ALTER USER rds_replication VALID UNTIL 'infinity'`, priv, `permission denied to alter reserved role "rds_replication"`},
		{master, simple, `SET ROLE rds_superuser; ALTER ROLE CURRENT_USER SET work_mem = '1MB'`, priv, `permission denied to alter reserved role "rds_superuser"`},
		{master, simple, `DROP OWNED BY rds_superuser`, priv, `permission denied to alter reserved role "rds_superuser"`},
		{master, simple, `REASSIGN OWNED BY rds_superuser TO ` + master, priv, `permission denied to alter reserved role "rds_superuser"`},
		{master, simple, `ALTER ROLE bb_target RENAME TO rds_x`, priv, `role name "rds_x" is reserved`},
		{master, simple, `ALTER ROLE bb_target RENAME TO rdsadmin`, priv, `role name "rdsadmin" is reserved`},
		{master, simple, `CREATE ROLE rds_foo`, priv, `role name "rds_foo" is reserved`},
		{master, extended, `CREATE USER rdsrepladmin`, priv, `role name "rdsrepladmin" is reserved`},
		{master, simple, `CREATE ROLE "RDS_Upper"`, priv, `role name "RDS_Upper" is reserved`},
		{master, simple, `CREATE ROLE bb_r ROLE rds_superuser`, priv, `permission denied to grant role "bb_r" to reserved role "rds_superuser"`},
		{master, simple, `CREATE ROLE bb_r ADMIN rds_iam`, priv, `permission denied to grant role "bb_r" to reserved role "rds_iam"`},
		{master, simple, `GRANT bb_target TO rds_iam`, priv, `permission denied to grant role "bb_target" to reserved role "rds_iam"`},
		{master, simple, `ALTER GROUP bb_target ADD USER rds_replication`, priv, `permission denied to grant role "bb_target" to reserved role "rds_replication"`},

		// rdsadmin: PostgreSQL's own refusals, kept.
		{master, simple, `ALTER ROLE rdsadmin PASSWORD 'x'`, priv, "must be superuser to alter superuser roles or change superuser attribute"},
		{master, simple, `ALTER USER rdsadmin RENAME TO bb_admin`, priv, "must be superuser to rename superusers"},
		{master, simple, `ALTER ROLE rdsadmin SET work_mem = '1MB'`, priv, "must be superuser to alter superusers"},
		{master, simple, `DROP ROLE rdsadmin`, priv, "must be superuser to drop superusers"},
		{master, simple, `GRANT rdsadmin TO ` + master, priv, "must be superuser to alter superusers"},
		{master, simple, `SET ROLE rdsadmin`, priv, `permission denied to set role "rdsadmin"`},
		{master, simple, `SET SESSION AUTHORIZATION rdsadmin`, priv, `permission denied to set session authorization "rdsadmin"`},
		{master, simple, `SELECT set_config('role', 'rdsadmin', false)`, priv, `permission denied to set role "rdsadmin"`},
		{master, extended, `SELECT set_config('session_authorization', 'rdsadmin', true)`, priv, `permission denied to set session authorization "rdsadmin"`},
		{"cr", simple, `ALTER ROLE cr SET role = 'rdsadmin'`, priv, `permission denied to set parameter "role" to reserved role "rdsadmin"`},
		{"cr", simple, `ALTER ROLE cr SET session_authorization = 'rdsadmin'`, priv, `permission denied to set parameter "session_authorization" to reserved role "rdsadmin"`},
		{master, simple, `SET ROLE rds_superuser; ALTER ROLE cr SET role FROM CURRENT`, priv, `permission denied to set parameter "role" to reserved role "rds_superuser"`},
		{master, simple, `ALTER DATABASE appdb SET role = 'rdsadmin'`, priv, `permission denied to set parameter "role" for a database`},
		{master, simple, `ALTER DATABASE appdb SET role FROM CURRENT`, priv, `permission denied to set parameter "role" for a database`},
		{master, simple, `ALTER DATABASE appdb SET session_authorization = '` + master + `'`, priv, `permission denied to set parameter "session_authorization" for a database`},

		// Odd role specifications: refused or reported by PostgreSQL, never a crash.
		{master, simple, `GRANT rds_password TO PUBLIC`, undef, `role "public" does not exist`},
		{master, simple, `REVOKE rds_password FROM PUBLIC`, undef, `role "public" does not exist`},
		{master, simple, `ALTER ROLE ALL SET work_mem = '1MB'`, priv, "must be superuser to alter settings globally"},
		{master, simple, `ALTER ROLE ALL IN DATABASE appdb SET role = 'rdsadmin'`, priv, `permission denied to set parameter "role" for a database`},
		{master, simple, `ALTER ROLE ALL IN DATABASE appdb SET session_authorization = 'cr'`, priv, `permission denied to set parameter "session_authorization" for a database`},
		{master, simple, `ALTER ROLE ALL IN DATABASE appdb SET work_mem = '1MB'`, "", ""},
		{master, simple, `ALTER ROLE ALL IN DATABASE appdb RESET work_mem`, "", ""},
		{master, simple, `ALTER ROLE bb_nonexistent PASSWORD 'x'`, undef, `role "bb_nonexistent" does not exist`},
		{master, simple, `GRANT bb_nonexistent TO ` + master, undef, `role "bb_nonexistent" does not exist`},
		{master, simple, `GRANT rds_password TO bb_nonexistent`, undef, `role "bb_nonexistent" does not exist`},
		{master, simple, `ALTER ROLE bb_nonexistent RENAME TO rds_y`, undef, `role "bb_nonexistent" does not exist`},
		{master, simple, `DROP ROLE CURRENT_USER`, "22023", `cannot use special role specifier in DROP ROLE`},
		{"cr", simple, `DROP ROLE IF EXISTS bb_nonexistent`, "", ""},
		{"cr", simple, `ALTER ROLE CURRENT_USER SET work_mem = '1MB'`, "", ""},
		{"cr", simple, `ALTER ROLE SESSION_USER RESET work_mem`, "", ""},

		// What RDS lets rds_superuser members do.
		{master, simple, `GRANT rds_password TO bb_target`, "", ""},
		{master, simple, `REVOKE rds_password FROM bb_target`, "", ""},
		{master, extended, `GRANT rds_superuser TO bb_target`, "", ""},
		{master, simple, `REVOKE rds_superuser FROM bb_target`, "", ""},
		{master, simple, `GRANT rds_replication, rds_iam TO bb_target`, "", ""},
		{master, simple, `ALTER GROUP rds_iam DROP USER bb_target`, "", ""},
		{master, simple, `SET ROLE rds_superuser; RESET ROLE`, "", ""},
		{master, simple, `ALTER ROLE bb_target SET work_mem = '1MB'`, "", ""},
		{"pwmgr", simple, `ALTER ROLE bb_managed PASSWORD 'from-pwmgr' VALID UNTIL 'infinity'`, "", ""},
		// ... but not through a role that somebody outside rds_superuser
		// manages: in PostgreSQL 15 its admin is a member and would gain it.
		{master, simple, `GRANT rds_superuser TO bb_managed`, priv, `permission denied to grant role "rds_superuser" to role "bb_managed"`},
		{master, extended, `ALTER GROUP rds_replication ADD USER bb_managed`, priv, `permission denied to grant role "rds_replication" to role "bb_managed"`},
		{master, simple, `GRANT ` + master + ` TO bb_managed`, priv, `permission denied to grant role "master1" to role "bb_managed"`},
		{master, simple, `GRANT rds_password TO bb_managed`, "", ""}, // pwmgr has it already
		{master, simple, `REVOKE rds_password FROM bb_managed`, "", ""},
		{master, simple, `REVOKE bb_managed FROM pwmgr; GRANT rds_superuser TO bb_managed; REVOKE rds_superuser FROM bb_managed`, "", ""},
	}

	// A crashed backend makes the postmaster end every session: this one
	// must live through the whole battery.
	sentinel := as(t, master)
	for i, tc := range cases {
		name := fmt.Sprintf("%d %s %s: %s", i, tc.user, tc.mode, tc.sql)
		pass := rolePass
		if tc.user == master {
			pass = masterPass
		}
		c, err := dial(ctxT(t), tc.user, pass)
		if err != nil {
			t.Fatalf("%s: connect: %v", name, err)
		}
		err = execIn(ctxT(t), c, tc.mode, tc.sql)
		c.Close(context.Background())
		if tc.code == "" {
			if err != nil {
				var pe *pgconn.PgError
				if errors.As(err, &pe) {
					t.Errorf("%s: %s %s (detail %q)", name, pe.Code, pe.Message, pe.Detail)
				} else {
					t.Errorf("%s: %v", name, err)
				}
			}
		} else {
			wantPgError(t, name, err, tc.code, tc.msg)
		}
		serverUp(t)
	}
	var one int
	if err := sentinel.QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("the session opened before the battery died: %v", err)
	}

	// Nothing refused took effect.
	var n int
	err := admin(t).QueryRow(ctxT(t), `SELECT count(*) FROM pg_auth_members m
		JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
		WHERE r.rolname IN ('rds_superuser', 'rds_password', 'rds_replication', 'rds_iam', 'pg_execute_server_program', 'pg_write_server_files', 'master1',
		                    'pg_read_all_data', 'pg_write_all_data', 'pg_monitor', 'u1')
		  AND u.rolname IN ('cr', 'u1', 'master1', 'bb_in', 'bb_r', 'rds_iam', 'rds_replication')
		  AND NOT (r.rolname = 'rds_superuser' AND u.rolname = 'master1')`).Scan(&n)
	if err != nil || n != 0 {
		t.Errorf("refused grants took effect: %d, %v", n, err)
	}
	if !roleExists(t, "rds_password") || !roleExists(t, "rds_superuser") || !roleExists(t, master) {
		t.Error("a reserved role or the master user is gone")
	}
	var member bool
	if err := admin(t).QueryRow(ctxT(t), "SELECT pg_has_role('rds_superuser', 'rds_password', 'MEMBER')").Scan(&member); err != nil || !member {
		t.Errorf("rds_superuser lost rds_password: %v, %v", member, err)
	}
}
