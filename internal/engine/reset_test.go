package engine

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/scram"
)

// A master that lost its login, attributes, membership and settings (and then its name)
// gets them back from ResetMaster with a new SCRAM-SHA-256 password, which PostgreSQL
// accepts over a SCRAM-only pg_hba.conf; a session open meanwhile keeps going, and neither
// the password nor the verifier reaches the server log, even with every statement logged.
func TestResetMasterRestoresLockedOutMaster(t *testing.T) {
	f := newFixture(t, "reset")
	f.boot.MasterPasswordVerifier = md5Password(f.boot.MasterUsername, f.password) // a cluster made before SCRAM
	ctx := ctxT(t)
	if err := f.l.Create(ctx, f.spec, f.boot); err != nil {
		t.Fatal(err)
	}
	f.spec.Settings = map[string]string{"log_statement": "all", "log_min_duration_statement": "0", "log_min_error_statement": "debug5"}
	f.running(t)
	open, err := f.tcp(ctx, "master", f.password, "appdb")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close(context.Background())

	admin := f.admin(t, "postgres")
	for _, q := range []string{
		"ALTER ROLE master NOLOGIN NOINHERIT NOCREATEDB NOCREATEROLE CONNECTION LIMIT 0 VALID UNTIL '2000-01-01'",
		"REVOKE rds_superuser FROM master",
		"REVOKE pg_monitor FROM rds_superuser",
		"ALTER ROLE master SET search_path = trap",
		"ALTER ROLE master IN DATABASE appdb SET default_transaction_read_only = on",
		"ALTER ROLE master IN DATABASE postgres SET role = rds_password",
		"CREATE ROLE squatter LOGIN", "GRANT master TO squatter",
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if c, err := f.tcp(ctx, "master", f.password, "appdb"); err == nil {
		c.Close(ctx)
		t.Fatal("locked-out master logged in")
	}

	const newPassword = "New-master-pass-2"
	verifier, err := scram.Verifier(newPassword)
	if err != nil {
		t.Fatal(err)
	}
	reset := func() {
		t.Helper()
		if err := f.l.ResetMaster(ctx, f.spec, "master", verifier); err != nil {
			t.Fatal(err)
		}
	}
	reset()
	reset() // a second run (a restart that did not know the first finished) changes nothing

	// SCRAM only from now on: the new verifier must be a real SCRAM one.
	f.spec.PasswordMethod = "scram-sha-256"
	if err := f.l.Reload(ctx, f.spec); err != nil {
		t.Fatal(err)
	}
	var one int
	if err := open.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("session opened before the reset: %v", err)
	}
	checkMasterRestored(t, f, newPassword)
	// The master Borealis made keeps the members a superuser gave it.
	var members int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_auth_members WHERE roleid = 'master'::regrole").Scan(&members); err != nil || members != 1 {
		t.Errorf("roles that are members of the master: %d, %v; want the grant to squatter kept", members, err)
	}
	if c, err := f.tcp(ctx, "master", f.password, "appdb"); err == nil {
		c.Close(ctx)
		t.Error("old password still accepted")
	}

	// Renamed away (the old name keeps the role and its objects):
	// the reset makes a master again.
	if _, err := admin.Exec(ctx, "ALTER ROLE master RENAME TO old_master"); err != nil {
		t.Fatal(err)
	}
	reset()
	checkMasterRestored(t, f, newPassword)

	log, err := os.ReadFile(f.spec.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "REVOKE rds_superuser FROM master") {
		t.Fatal("statement logging is not on: the log check below proves nothing")
	}
	for _, secret := range []string{newPassword, verifier, strings.Split(verifier, "$")[2]} {
		if strings.Contains(string(log), secret) {
			t.Errorf("server log holds %q", secret)
		}
	}
}

func checkMasterRestored(t *testing.T, f *fixture, password string) {
	t.Helper()
	ctx := ctxT(t)
	for _, db := range []string{"appdb", "postgres"} {
		c, err := f.tcp(ctx, "master", password, db)
		if err != nil {
			t.Fatalf("master login to %s after reset: %v", db, err)
		}
		var path, readOnly, user string
		if err := c.QueryRow(ctx, "SELECT current_setting('search_path'), current_setting('default_transaction_read_only'), current_user").
			Scan(&path, &readOnly, &user); err != nil {
			t.Fatal(err)
		}
		if path != `"$user", public` || readOnly != "off" || user != "master" {
			t.Errorf("%s: search_path=%q read_only=%s current_user=%s: settings not reset", db, path, readOnly, user)
		}
		c.Close(ctx)
	}
	admin := f.admin(t, "postgres")
	var attrs string
	var member bool
	var settings int
	var grants string
	err := admin.QueryRow(ctx, `SELECT concat_ws(',', rolcanlogin, rolsuper, rolinherit, rolcreatedb, rolcreaterole, rolreplication,
			rolbypassrls, rolconnlimit, rolvaliduntil),
		pg_has_role('master', 'rds_superuser', 'MEMBER'),
		(SELECT count(*) FROM pg_db_role_setting WHERE setrole = 'master'::regrole),
		(SELECT string_agg(r.rolname, ',' ORDER BY r.rolname) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
			WHERE m.member = 'rds_superuser'::regrole)
		FROM pg_roles WHERE rolname = 'master'`).Scan(&attrs, &member, &settings, &grants)
	if err != nil {
		t.Fatal(err)
	}
	if want := "t,f,t,t,t,f,f,-1,infinity"; attrs != want {
		t.Errorf("master attributes %s, want %s", attrs, want)
	}
	if !member || settings != 0 {
		t.Errorf("member of rds_superuser: %v; stored settings: %d", member, settings)
	}
	if !strings.Contains(grants, "pg_monitor") {
		t.Errorf("rds_superuser memberships not restored: %s", grants)
	}
	var pw string
	if err := admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = 'master'").Scan(&pw); err != nil || !strings.HasPrefix(pw, "SCRAM-SHA-256$4096:") {
		t.Errorf("stored password %.20s..., %v", pw, err)
	}
}

func TestResetMasterRefusesBadInput(t *testing.T) {
	l := &Local{}
	for _, c := range []struct{ user, verifier string }{
		{"master", "plaintext-password"},
		{"master", "SCRAM-SHA-256$4096:x'; DROP ROLE rdsadmin; --"},
		{"rds_superuser", "md5" + strings.Repeat("a", 32)},
		{`a"b`, "md5" + strings.Repeat("a", 32)},
	} {
		err := l.ResetMaster(context.Background(), Spec{}, c.user, c.verifier)
		if err == nil {
			t.Errorf("ResetMaster(%q, %q) accepted", c.user, c.verifier)
		} else if strings.Contains(err.Error(), c.verifier) {
			t.Errorf("error text holds the verifier: %v", err)
		}
	}
}

// A role someone made under the master's name once the master was gone (a delegated
// CREATEROLE admin can: CREATE ROLE needs no more) is not made the master: its members and
// its SECURITY DEFINER functions would gain rds_superuser. It is renamed out of the way
// untouched, and a new master made; a master re-made by an rds_superuser member is kept.
func TestResetMasterDoesNotAdoptASquatter(t *testing.T) {
	f := newFixture(t, "squat")
	ctx := ctxT(t)
	if err := f.l.Create(ctx, f.spec, f.boot); err != nil {
		t.Fatal(err)
	}
	f.running(t)
	admin := f.admin(t, "postgres")
	oid := func(name string) (o uint32) {
		t.Helper()
		if err := admin.QueryRow(ctx, "SELECT oid FROM pg_roles WHERE rolname = $1", name).Scan(&o); err != nil {
			t.Fatalf("role %s: %v", name, err)
		}
		return o
	}
	for _, q := range []string{
		"CREATE ROLE delegate LOGIN CREATEROLE",
		"ALTER ROLE master RENAME TO first_master",
		"CREATE ROLE master LOGIN", "GRANT master TO delegate",
		"CREATE FUNCTION public.escalate() RETURNS void SECURITY DEFINER LANGUAGE sql AS 'SELECT'",
		"ALTER FUNCTION public.escalate() OWNER TO master",
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	squatter := oid("master")
	verifier, _ := scram.Verifier("Reset-pass-1")
	if err := f.l.ResetMaster(ctx, f.spec, "master", verifier); err != nil {
		t.Fatal(err)
	}
	var name string
	var member, delegateMember bool
	if err := admin.QueryRow(ctx, `SELECT rolname, pg_has_role(oid, 'rds_superuser', 'MEMBER'), pg_has_role('delegate', 'rds_superuser', 'MEMBER')
		FROM pg_roles WHERE oid = $1`, squatter).Scan(&name, &member, &delegateMember); err != nil {
		t.Fatal(err)
	}
	if name == "master" || member || delegateMember {
		t.Fatalf("squatter: name %s, in rds_superuser %v, its member delegate in rds_superuser %v", name, member, delegateMember)
	}
	made := oid("master")
	if made == squatter {
		t.Fatal("no new master")
	}
	if err := f.l.ResetMaster(ctx, f.spec, "master", verifier); err != nil || oid("master") != made {
		t.Fatalf("a second reset replaced the master it made: %v", err)
	}

	// An rds_superuser member re-made the master itself: that one is the master.
	for _, q := range []string{"ALTER ROLE master RENAME TO second_master", "CREATE ROLE master LOGIN", "GRANT rds_superuser TO master"} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	remade := oid("master")
	if err := f.l.ResetMaster(ctx, f.spec, "master", verifier); err != nil || oid("master") != remade {
		t.Fatalf("the master an rds_superuser member made was replaced: %v", err)
	}
	checkMasterRestored(t, f, "Reset-pass-1")
}

// The master is recorded by OID, and OIDs come round again: were the master dropped, a
// delegated CREATEROLE admin that burns OIDs (lo_create makes some 100,000 a second for any
// login) until its role of the master's name gets the recorded one would be taken for the
// master by the next reset, with the members and SECURITY DEFINER functions it gave that
// role. So the recorded master holds a privilege in the rdsadmin database, which nobody but
// rdsadmin reaches: it cannot be dropped from any other database, even by a superuser, nor
// after DROP OWNED there; once a reset records another master, the old one can be.
func TestRecordedMasterCannotBeDropped(t *testing.T) {
	f := newFixture(t, "anchor")
	ctx := ctxT(t)
	if err := f.l.Create(ctx, f.spec, f.boot); err != nil {
		t.Fatal(err)
	}
	f.running(t)
	admin := f.admin(t, "postgres")
	for _, q := range []string{"DROP OWNED BY master", "REASSIGN OWNED BY master TO rdsadmin"} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := admin.Exec(ctx, "DROP ROLE master"); err == nil || !strings.Contains(err.Error(), "cannot be dropped") {
		t.Fatalf("DROP ROLE master: %v; want it refused: the recorded master holds a privilege in the rdsadmin database", err)
	}
	// Renamed away, then a reset makes a new master: the old one is no longer recorded,
	// and may go.
	if _, err := admin.Exec(ctx, "ALTER ROLE master RENAME TO old_master"); err != nil {
		t.Fatal(err)
	}
	verifier, _ := scram.Verifier("Reset-pass-1")
	if err := f.l.ResetMaster(ctx, f.spec, "master", verifier); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "DROP ROLE old_master"); err != nil {
		t.Fatalf("the master recorded before: %v", err)
	}
	if _, err := admin.Exec(ctx, "DROP ROLE master"); err == nil {
		t.Fatal("the master the reset made was dropped")
	}
}
