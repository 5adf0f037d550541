package engine

import (
	"context"
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
	return nil
}

// runBootstrap makes Aurora's roles and databases. Every step checks before
// creating, so a run interrupted by a crash can run again. Errors name the
// step, never the statement: one carries the password hash.
func runBootstrap(ctx context.Context, c *pgx.Conn, b Bootstrap) error {
	// Keep statements (and so the hash) out of the server log on error.
	for _, q := range []string{"SET log_min_error_statement = panic", "SET log_statement = none"} {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("session setup: %w", err)
		}
	}
	master := ident(b.MasterUsername)
	err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		exec := func(step, q string) error {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", step, err)
			}
			return nil
		}
		roleExists := func(name string) (bool, error) {
			var ok bool
			err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&ok)
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
		ok, err := roleExists(b.MasterUsername)
		if err != nil {
			return fmt.Errorf("master user: %w", err)
		}
		verb := "CREATE"
		if ok {
			verb = "ALTER"
		}
		if err := exec("master user", verb+" ROLE "+master+
			" WITH LOGIN NOSUPERUSER INHERIT CREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS VALID UNTIL 'infinity' PASSWORD "+
			quoteLiteral(b.MasterPasswordMD5)); err != nil {
			return err
		}
		return exec("master membership", "GRANT "+ident(RoleSuperuser)+" TO "+master)
	})
	if err != nil {
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
