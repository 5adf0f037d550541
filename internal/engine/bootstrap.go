package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Reserved roles every cluster gets, as on Aurora.
const (
	RoleSuperuser   = "rds_superuser"
	RolePassword    = "rds_password"
	RoleReplication = "rds_replication"
	RoleIAM         = "rds_iam"
)

// superuserGrants are the predefined roles an RDS administrator needs.
var superuserGrants = []string{
	"pg_monitor", "pg_signal_backend", "pg_read_all_settings",
	"pg_read_all_stats", "pg_stat_scan_tables", "pg_checkpoint",
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// quoteLiteral quotes a SQL string literal (standard_conforming_strings is on).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (l *Local) bootstrap(ctx context.Context, s Spec, b Bootstrap) error {
	c, err := l.Connect(ctx, s, "postgres")
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	if err := runBootstrap(ctx, c, b); err != nil {
		return fmt.Errorf("engine: %s: bootstrap: %w", s.Name, err)
	}
	ac, err := l.Connect(ctx, s, Admin)
	if err != nil {
		return err
	}
	defer ac.Close(context.Background())
	if err := pgx.BeginFunc(ctx, ac, func(tx pgx.Tx) error {
		_, err := recordMaster(ctx, tx, b.MasterUsername)
		return err
	}); err != nil {
		return fmt.Errorf("engine: %s: bootstrap: %w", s.Name, err)
	}
	return nil
}

// The role Borealis made the master is recorded by OID in the rdsadmin database, which no
// one but rdsadmin can connect to: a role someone else created under the master's name
// (once the master was renamed) is then not mistaken for it. The record is written in the
// transaction that makes the master, so a crash cannot split them.
//
// The recorded master also holds SELECT on the record. Only rdsadmin can revoke that
// privilege (DROP OWNED in another database does not reach it), so no one else can drop
// the master, and its OID never passes to another role: OIDs come round again, and a role
// given the recorded OID would otherwise be taken for the master.
const masterRecordDDL = `CREATE SCHEMA IF NOT EXISTS borealis;
	CREATE TABLE IF NOT EXISTS borealis.master (one bool PRIMARY KEY DEFAULT true CHECK (one), role oid NOT NULL)`

// recordMaster records the role named username as the master; it returns the OID recorded
// before (0 for none). tx is in the rdsadmin database.
func recordMaster(ctx context.Context, tx pgx.Tx, username string) (uint32, error) {
	prev, err := recordedMaster(ctx, tx)
	if err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO borealis.master (role) SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1
		ON CONFLICT (one) DO UPDATE SET role = excluded.role`, username); err != nil {
		return 0, fmt.Errorf("record master: %w", err)
	}
	// A master made before keeps no anchor: it may be dropped now, since it is no longer
	// recorded.
	rows, err := tx.Query(ctx, `SELECT DISTINCT a.grantee::pg_catalog.regrole::text
		FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
		WHERE c.oid = 'borealis.master'::pg_catalog.regclass AND a.grantee <> c.relowner`)
	if err != nil {
		return 0, fmt.Errorf("record master: %w", err)
	}
	anchored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("record master: %w", err)
	}
	for _, r := range anchored {
		// regrole's text is already an identifier, quoted where needed.
		if _, err := tx.Exec(ctx, "REVOKE ALL ON borealis.master FROM "+r); err != nil {
			return 0, fmt.Errorf("record master: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, "GRANT SELECT ON borealis.master TO "+ident(username)); err != nil {
		return 0, fmt.Errorf("record master: %w", err)
	}
	return prev, nil
}

func recordedMaster(ctx context.Context, tx pgx.Tx) (uint32, error) {
	if _, err := tx.Exec(ctx, masterRecordDDL); err != nil {
		return 0, fmt.Errorf("master record: %w", err)
	}
	var oid uint32
	err := tx.QueryRow(ctx, "SELECT role FROM borealis.master").Scan(&oid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("master record: %w", err)
	}
	return oid, nil
}

// adminSessionSettings keep statements that carry a password verifier out of the server
// log (whatever the parameter group says about statement logging) and out of
// pg_stat_activity, where members of pg_read_all_stats could read an idle session's last
// statement. lock_timeout lets a caller retry rather than wait behind a session that holds
// the master's row.
var adminSessionSettings = []string{
	"SET log_min_error_statement = panic", "SET log_statement = none",
	"SET log_min_duration_statement = -1", "SET log_min_duration_sample = -1", "SET log_transaction_sample_rate = 0",
	"SET track_activities = off", "SET lock_timeout = '10s'",
}

func setupAdminSession(ctx context.Context, c *pgx.Conn) error {
	for _, q := range adminSessionSettings {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("session setup: %w", err)
		}
	}
	return nil
}

// runBootstrap makes Aurora's roles and databases. Every step checks before
// creating, so a run interrupted by a crash can run again. Errors name the
// step, never the statement: one carries the password verifier.
func runBootstrap(ctx context.Context, c *pgx.Conn, b Bootstrap) error {
	if err := setupAdminSession(ctx, c); err != nil {
		return err
	}
	master := ident(b.MasterUsername)
	if err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		return ensureRoles(ctx, tx, b.MasterUsername, b.MasterPasswordVerifier, 0)
	}); err != nil {
		return err
	}

	// CREATE DATABASE cannot run in a transaction block.
	ensureDB := func(name, owner string) error {
		var ok bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
			return fmt.Errorf("database %s: %w", name, err)
		}
		q := "CREATE DATABASE " + ident(name) + " OWNER " + owner
		if ok {
			q = "ALTER DATABASE " + ident(name) + " OWNER TO " + owner
		}
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("database %s: %w", name, err)
		}
		return nil
	}
	if err := ensureDB(Admin, ident(Admin)); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "REVOKE ALL ON DATABASE "+ident(Admin)+" FROM PUBLIC"); err != nil {
		return fmt.Errorf("database %s: %w", Admin, err)
	}
	// As on RDS: the master owns postgres and template1; rdsadmin keeps template0.
	dbs := []string{"postgres", "template1"}
	if b.DatabaseName != "" {
		dbs = append(dbs, b.DatabaseName)
	}
	for _, d := range dbs {
		if err := ensureDB(d, master); err != nil {
			return err
		}
	}
	return nil
}

// ensureRoles gives rdsadmin, the reserved roles and the master their Aurora attributes and
// memberships, and the master the password verifier. The master is created if no role has
// its name (it was dropped, or renamed away), and every setting stored for it, for all
// databases or one, is removed: a setting such as search_path, role or
// default_transaction_read_only can lock the master out or steer its sessions. Running it
// again changes nothing.
//
// A role that has the master's name is the master, as on RDS, unless recorded (the OID of
// the role Borealis last made the master; 0 for none) says otherwise and the role is not
// in rds_superuser: then someone without rds_superuser (a delegated CREATEROLE admin) may
// have made it, and its members and SECURITY DEFINER functions would gain rds_superuser
// from this reset. It is renamed out of the way, untouched otherwise, and a new master made.
func ensureRoles(ctx context.Context, tx pgx.Tx, username, verifier string, recorded uint32) error {
	exec := func(step, q string) error {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", step, err)
		}
		return nil
	}
	roleExists := func(name string) (bool, error) {
		var ok bool
		err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", name).Scan(&ok)
		return ok, err
	}
	if err := exec("rdsadmin attributes", "ALTER ROLE "+ident(Admin)+
		" WITH SUPERUSER CREATEROLE CREATEDB REPLICATION BYPASSRLS LOGIN VALID UNTIL 'infinity'"); err != nil {
		return err
	}
	for _, r := range []string{RoleSuperuser, RolePassword, RoleReplication, RoleIAM} {
		ok, err := roleExists(r)
		if err != nil {
			return fmt.Errorf("role %s: %w", r, err)
		}
		if !ok {
			if err := exec("create "+r, "CREATE ROLE "+ident(r)+" NOLOGIN"); err != nil {
				return err
			}
		}
	}
	grants := []string{
		"GRANT " + strings.Join(superuserGrants, ", ") + " TO " + ident(RoleSuperuser) + " WITH ADMIN OPTION",
		"GRANT " + ident(RolePassword) + " TO " + ident(RoleSuperuser) + " WITH ADMIN OPTION",
		"GRANT " + ident(RoleReplication) + " TO " + ident(RoleSuperuser) + " WITH ADMIN OPTION",
	}
	for _, g := range grants {
		if err := exec("grants to "+RoleSuperuser, g); err != nil {
			return err
		}
	}
	master := ident(username)
	ok, err := roleExists(username)
	if err != nil {
		return fmt.Errorf("master user: %w", err)
	}
	// known: the role of that name is the one Borealis recorded as the master.
	known := false
	if ok && recorded != 0 {
		var foreign bool
		if err := tx.QueryRow(ctx, `SELECT r.oid = $2, r.oid <> $2 AND NOT pg_catalog.pg_has_role(r.oid, $3, 'MEMBER')
				FROM pg_catalog.pg_roles r WHERE r.rolname = $1`, username, recorded, RoleSuperuser).Scan(&known, &foreign); err != nil {
			return fmt.Errorf("master user: %w", err)
		}
		if foreign {
			// A random suffix: a name that could be foreseen could be taken first, and the
			// reset would fail on it every time.
			var b [4]byte
			if _, err := rand.Read(b[:]); err != nil {
				return err
			}
			aside := username[:min(len(username), 40)] + "_displaced_" + hex.EncodeToString(b[:])
			if err := exec("master user", "ALTER ROLE "+master+" RENAME TO "+ident(aside)); err != nil {
				return err
			}
			ok = false
		}
	}
	verb := "CREATE"
	if ok {
		verb = "ALTER"
	}
	if err := exec("master user", verb+" ROLE "+master+" WITH "+masterAttributes+" PASSWORD "+quoteLiteral(verifier)); err != nil {
		return err
	}
	if err := exec("master membership", "GRANT "+ident(RoleSuperuser)+" TO "+master); err != nil {
		return err
	}
	if err := exec("master settings", "ALTER ROLE "+master+" RESET ALL"); err != nil {
		return err
	}
	names := func(step, q string) ([]string, error) {
		rows, err := tx.Query(ctx, q, username)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", step, err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", step, err)
		}
		return out, nil
	}
	dbs, err := names("master settings", `SELECT d.datname FROM pg_catalog.pg_db_role_setting s
		JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
		JOIN pg_catalog.pg_roles r ON r.oid = s.setrole WHERE r.rolname = $1`)
	if err != nil {
		return err
	}
	for _, d := range dbs {
		if err := exec("master settings", "ALTER ROLE "+master+" IN DATABASE "+ident(d)+" RESET ALL"); err != nil {
			return err
		}
	}
	if known {
		// Members of the master Borealis made were granted by rds_superuser members (the
		// guard lets no one else grant it): their grants stand.
		return nil
	}
	// A role of the master's name that Borealis cannot vouch for (an older cluster with no
	// record, or one made again just now) keeps no members: a role that made itself one
	// (say, of a role it created under the master's name once the master was gone) would
	// otherwise inherit rds_superuser from this reset.
	members, err := names("master members", `SELECT m.rolname FROM pg_catalog.pg_auth_members a
		JOIN pg_catalog.pg_roles m ON m.oid = a.member
		JOIN pg_catalog.pg_roles r ON r.oid = a.roleid WHERE r.rolname = $1`)
	if err != nil {
		return err
	}
	for _, m := range members {
		if err := exec("master members", "REVOKE "+master+" FROM "+ident(m)); err != nil {
			return err
		}
	}
	return nil
}

// masterAttributes are the master user's attributes on Aurora PostgreSQL.
const masterAttributes = "LOGIN NOSUPERUSER INHERIT CREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity'"

// ResetMaster sets the master's password verifier and restores its Aurora attributes,
// membership in rds_superuser and settings (see ensureRoles), on the running server of s,
// as rdsadmin over the unix socket. Open sessions are not touched. Idempotent: a caller
// that does not know whether a run finished runs it again.
func (l *Local) ResetMaster(ctx context.Context, s Spec, username, verifier string) error {
	if err := checkMaster(username, verifier); err != nil {
		return err
	}
	c, err := l.Connect(ctx, s, Admin)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	if err := setupAdminSession(ctx, c); err != nil {
		return fmt.Errorf("engine: %s: reset master: %w", s.Name, err)
	}
	if err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		recorded, err := recordedMaster(ctx, tx)
		if err != nil {
			return err
		}
		if err := ensureRoles(ctx, tx, username, verifier, recorded); err != nil {
			return err
		}
		_, err = recordMaster(ctx, tx, username)
		return err
	}); err != nil {
		return fmt.Errorf("engine: %s: reset master: %w", s.Name, err)
	}
	return nil
}
