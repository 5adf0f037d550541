package guardtest

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

const errPasswords = "must be a member of rds_password to alter passwords"

// seedStatements are the six examples of the seed page, on role names of the
// test's own: newRole is created by the first two, target is altered by the
// others (the last renames it, which clears an MD5 password).
func seedStatements(newRole, target string) []string {
	return []string{
		"CREATE ROLE " + newRole + " WITH PASSWORD 'mypassword'",
		"CREATE ROLE " + newRole + "_v WITH PASSWORD 'mypassword' VALID UNTIL '2020-01-01'",
		"ALTER ROLE " + target + " WITH PASSWORD 'mypassword' VALID UNTIL '2020-01-01'",
		"ALTER ROLE " + target + " WITH PASSWORD 'mypassword'",
		"ALTER ROLE " + target + " VALID UNTIL '2020-01-01'",
		"ALTER ROLE " + target + " RENAME TO " + target + "_2",
	}
}

func TestSettings(t *testing.T) {
	c := as(t, master)
	ctx := ctxT(t)
	for name, want := range map[string]string{
		"rds.restrict_password_commands":    "on",
		"rds.force_ssl":                     "off",
		"rds.allowed_extensions":            defaultAllowedExtensions(t),
		"rds.accepted_password_auth_method": "md5+scram",
	} {
		var got string
		if err := c.QueryRow(ctx, "SHOW "+name).Scan(&got); err != nil || got != want {
			t.Errorf("SHOW %s = %q, %v; want %q", name, got, err, want)
		}
	}
	_, err := c.Exec(ctx, "SET rds.restrict_password_commands = off")
	wantPgError(t, "SET rds.restrict_password_commands", err, "55P02",
		`parameter "rds.restrict_password_commands" cannot be changed without restarting the server`)
	_, err = c.Exec(ctx, "SELECT set_config('rds.restrict_password_commands', 'off', false)")
	wantPgError(t, "set_config(rds.restrict_password_commands)", err, "55P02",
		`parameter "rds.restrict_password_commands" cannot be changed without restarting the server`)
	_, err = c.Exec(ctx, "SET rds.force_ssl = on")
	wantPgError(t, "SET rds.force_ssl", err, "55P02", `parameter "rds.force_ssl" cannot be changed now`)
	_, err = c.Exec(ctx, "SET rds.unknown_thing = 1")
	wantPgError(t, "SET rds.unknown_thing", err, "42602", `invalid configuration parameter name "rds.unknown_thing"`)

	a := admin(t)
	_, err = a.Exec(ctx, "ALTER SYSTEM SET rds.accepted_password_auth_method = 'md5'")
	wantPgError(t, "ALTER SYSTEM SET rds.accepted_password_auth_method = md5", err, "22023",
		`invalid value for parameter "rds.accepted_password_auth_method": "md5"`)
	_, err = a.Exec(ctx, "ALTER SYSTEM SET rds.allowed_extensions = '\"unterminated'")
	wantPgError(t, "ALTER SYSTEM SET rds.allowed_extensions (bad list)", err, "22023",
		`invalid value for parameter "rds.allowed_extensions": ""unterminated"`)
	mustExec(t, a, "ALTER SYSTEM SET rds.accepted_password_auth_method = 'scram'")
	mustExec(t, a, "ALTER SYSTEM RESET rds.accepted_password_auth_method")

	// The library refuses to be loaded any other way than by preloading
	// (a copy, since the preloaded one is loaded already).
	cp := filepath.Join(filepath.Dir(srv.libPath), "guard_copy.so")
	if err := copyFile(srv.libPath, cp); err != nil {
		t.Fatal(err)
	}
	_, err = a.Exec(ctx, "LOAD "+quoteLit(cp))
	wantPgError(t, "LOAD", err, "55000", "guard must be loaded via shared_preload_libraries")
}

// TestPasswordCommandsRestricted: with the parameter on, a CREATEROLE role
// outside rds_password, and any user changing its own password, get the
// seed page's error.
func TestPasswordCommandsRestricted(t *testing.T) {
	adminExec(t, "CREATE ROLE pr_target LOGIN PASSWORD 'old-password'")
	t.Cleanup(func() { dropRoles(t, "pr_target", "pr_target_2", "pr_new", "pr_new_v", "pr_nopw", "pr_nopw_2") })
	var pw string
	if err := admin(t).QueryRow(ctxT(t), "SELECT rolpassword FROM pg_authid WHERE rolname = 'pr_target'").Scan(&pw); err != nil || pw[:3] != "md5" {
		t.Fatalf("pr_target's password %q, %v: want an MD5 hash", pw, err)
	}

	cr := as(t, "cr")
	stmts := append(seedStatements("pr_new", "pr_target"),
		"CREATE USER pr_new PASSWORD 'mypassword'",
		"CREATE ROLE pr_new ENCRYPTED PASSWORD 'mypassword'",
		"CREATE ROLE pr_new PASSWORD NULL",
		"CREATE ROLE pr_new VALID UNTIL 'infinity'",
		"ALTER USER pr_target PASSWORD 'mypassword'",
		"ALTER USER pr_target WITH ENCRYPTED PASSWORD 'mypassword'",
		"ALTER ROLE pr_target PASSWORD NULL",
		"ALTER USER pr_target VALID UNTIL 'infinity'",
		"ALTER USER pr_target RENAME TO pr_target_2",
		// psql's \password sends the hash it computed.
		"ALTER USER pr_target PASSWORD "+quoteLit(md5Password("pr_target", "x")),
		"ALTER ROLE cr PASSWORD 'new-password'",
		"ALTER ROLE CURRENT_USER PASSWORD 'new-password'",
		"ALTER ROLE SESSION_USER VALID UNTIL 'infinity'",
	)
	for _, q := range stmts {
		_, err := cr.Exec(ctxT(t), q)
		wantPgError(t, "cr: "+q, err, "42501", errPasswords)
	}
	if roleExists(t, "pr_new") || roleExists(t, "pr_new_v") || !roleExists(t, "pr_target") {
		t.Error("a refused statement changed the roles")
	}

	// A user changing its own password is restricted too.
	u1 := as(t, "u1")
	for _, q := range []string{
		"ALTER USER u1 PASSWORD 'new-password'",
		"ALTER ROLE CURRENT_USER WITH PASSWORD 'new-password'",
		"ALTER ROLE CURRENT_ROLE PASSWORD NULL",
		"ALTER USER u1 PASSWORD " + quoteLit(md5Password("u1", "new-password")),
	} {
		_, err := u1.Exec(ctxT(t), q)
		wantPgError(t, "u1: "+q, err, "42501", errPasswords)
	}

	// What is not a password command still works for cr: a role without a
	// password can be renamed, attributes changed.
	for _, q := range []string{
		"CREATE ROLE pr_nopw LOGIN",
		"ALTER ROLE pr_nopw CONNECTION LIMIT 3",
		"ALTER ROLE pr_nopw RENAME TO pr_nopw_2",
		"DROP ROLE pr_nopw_2",
	} {
		mustExec(t, cr, q)
	}
}

// TestPasswordCommandsAllowed: the master user (through rds_superuser), a
// CREATEROLE member of rds_password, and a CREATEROLE role once the master
// grants it rds_password may run them all.
func TestPasswordCommandsAllowed(t *testing.T) {
	adminExec(t, "CREATE ROLE pa_cr2 LOGIN CREATEROLE PASSWORD '"+rolePass+"'")
	var made []string
	t.Cleanup(func() { dropRoles(t, append(made, "pa_cr2")...) })

	m := as(t, master)
	cr2 := as(t, "pa_cr2")
	_, err := cr2.Exec(ctxT(t), "CREATE ROLE pa_early PASSWORD 'x'")
	wantPgError(t, "pa_cr2 before the grant", err, "42501", errPasswords)
	mustExec(t, m, "GRANT rds_password TO pa_cr2")

	for _, user := range []string{master, "pwmgr", "pa_cr2"} {
		c := m
		if user != master {
			c = as(t, user)
		}
		n := "pa_" + user
		made = append(made, n, n+"_v", n+"_2")
		for _, q := range seedStatements(n, n) {
			mustExec(t, c, q)
		}
		if !roleExists(t, n+"_2") || !roleExists(t, n+"_v") {
			t.Errorf("%s: seed statements did not make %s_2 and %s_v", user, n, n)
		}
	}
	// A member changes its own password (same password: later logins work).
	mustExec(t, as(t, "pwmgr"), "ALTER ROLE CURRENT_USER PASSWORD '"+rolePass+"'")
	mustExec(t, m, "ALTER USER "+master+" PASSWORD "+quoteLit(md5Password(master, masterPass)))
}

// TestRestrictOff restarts the server with the parameter off: PostgreSQL's
// own rules decide again, while the reserved-role rules stay.
func TestRestrictOff(t *testing.T) {
	restartRestrict(t, "off")
	t.Cleanup(func() {
		restartRestrict(t, "on")
		var v string
		c, err := dial(context.Background(), master, masterPass)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.QueryRow(ctx, "SHOW rds.restrict_password_commands").Scan(&v); err != nil || v != "on" {
			t.Errorf("after restoring: SHOW = %q, %v", v, err)
		}
	})
	t.Cleanup(func() { dropRoles(t, "off_new", "off_new_v", "off_new_2") })

	cr := as(t, "cr")
	var v string
	if err := cr.QueryRow(ctxT(t), "SHOW rds.restrict_password_commands").Scan(&v); err != nil || v != "off" {
		t.Fatalf("SHOW rds.restrict_password_commands = %q, %v; want off", v, err)
	}
	for _, q := range seedStatements("off_new", "off_new") {
		mustExec(t, cr, q)
	}
	mustExec(t, as(t, "u1"), "ALTER USER u1 PASSWORD '"+rolePass+"'")
	mustExec(t, as(t, "u1"), "ALTER ROLE CURRENT_USER PASSWORD "+quoteLit(md5Password("u1", rolePass)))

	// PostgreSQL's own rules still apply: u1 has no CREATEROLE.
	_, err := as(t, "u1").Exec(ctxT(t), "ALTER ROLE u1 PASSWORD 'x' VALID UNTIL 'infinity'")
	wantPgError(t, "u1 VALID UNTIL", err, "42501", "permission denied")
	// And the reserved roles stay guarded.
	_, err = cr.Exec(ctxT(t), "GRANT rds_superuser TO cr")
	wantPgError(t, "GRANT rds_superuser", err, "42501", `permission denied to grant reserved role "rds_superuser"`)
	_, err = cr.Exec(ctxT(t), "ALTER ROLE "+master+" PASSWORD 'taken-over'")
	wantPgError(t, "cr ALTER ROLE master PASSWORD", err, "42501", `permission denied to alter role "master1"`)
	_, err = cr.Exec(ctxT(t), "ALTER ROLE "+master+" RENAME TO off_master")
	wantPgError(t, "cr RENAME master", err, "42501", `permission denied to rename role "master1"`)
	serverUp(t)
}
