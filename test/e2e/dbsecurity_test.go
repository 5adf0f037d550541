package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const restrictedText = "must be a member of rds_password to alter passwords"

// sqlState returns a PostgreSQL error's SQLSTATE and message.
func sqlState(err error) (string, string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.Message
	}
	return "", fmt.Sprint(err)
}

func newClusterGroup(ctx context.Context, t *testing.T, c *rds.Client, name string) {
	t.Helper()
	if _, err := c.CreateDBClusterParameterGroup(ctx, &rds.CreateDBClusterParameterGroupInput{
		DBClusterParameterGroupName: aws.String(name), DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String(name),
	}); err != nil {
		t.Fatal(err)
	}
}

func show(ctx context.Context, t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
		t.Fatalf("SHOW %s: %v", name, err)
	}
	return v
}

// TestRestrictPasswordCommandsAsTheSeedPageSays runs the seed page's examples through a
// parameter group change and a reboot.
func TestRestrictPasswordCommandsAsTheSeedPageSays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	newClusterGroup(ctx, t, c, "restrict-pw")
	desc, instanceID := createCluster(ctx, t, c, "restrict-pw", "master1", "Master-pass1", "", func(in *rds.CreateDBClusterInput) {
		in.DBClusterParameterGroupName = aws.String("restrict-pw")
	})
	cl := desc.DBClusters[0]
	endpoint, port := aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port)
	master := srv.connect(ctx, t, endpoint, port, "master1", "Master-pass1", "postgres")
	for _, stmt := range []string{
		`CREATE ROLE pwadmin LOGIN CREATEROLE PASSWORD 'Pwadmin-pass1'`,
		`CREATE ROLE plain LOGIN PASSWORD 'Plain-pass1'`,
		`CREATE ROLE target1 LOGIN PASSWORD 'Target-pass1'`,
		// PostgreSQL 16's rule: a role outside rds_superuser manages only
		// the roles it holds WITH ADMIN OPTION.
		`GRANT target1 TO pwadmin WITH ADMIN OPTION`,
	} {
		if _, err := master.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("restrict-pw"),
		Parameters: []rdstypes.Parameter{param("rds.restrict_password_commands", "1", rdstypes.ApplyMethodPendingReboot)}}); err != nil {
		t.Fatal(err)
	}

	// The seed page's six examples, as a CREATEROLE role that is not in rds_password.
	examples := []string{
		`CREATE ROLE myrole WITH PASSWORD 'mypassword'`,
		`CREATE ROLE myrole WITH PASSWORD 'mypassword' VALID UNTIL '2030-01-01'`,
		`ALTER ROLE target1 WITH PASSWORD 'mypassword' VALID UNTIL '2030-01-01'`,
		`ALTER ROLE target1 WITH PASSWORD 'mypassword'`,
		`ALTER ROLE target1 VALID UNTIL '2030-01-01'`,
		`ALTER ROLE target1 RENAME TO myrole2`,
	}
	// runs executes each statement in a transaction that is rolled back, so that every
	// example starts from the same roles.
	runs := func(conn *pgx.Conn, stmts []string) []error {
		var errs []error
		for _, stmt := range stmts {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tx.Exec(ctx, stmt)
			errs = append(errs, err)
			tx.Rollback(ctx)
		}
		return errs
	}

	t.Run("before the reboot nothing changes and the instance is pending-reboot", func(t *testing.T) {
		if got := instanceApplyStatus(ctx, t, c, instanceID); got != "pending-reboot" {
			t.Errorf("ParameterApplyStatus = %q, want pending-reboot", got)
		}
		pwadmin := srv.connect(ctx, t, endpoint, port, "pwadmin", "Pwadmin-pass1", "postgres")
		if v := show(ctx, t, pwadmin, "rds.restrict_password_commands"); v != "off" {
			t.Errorf("rds.restrict_password_commands = %s before the reboot", v)
		}
		for i, err := range runs(pwadmin, examples) {
			if err != nil {
				t.Errorf("%s: %v before the reboot", examples[i], err)
			}
		}
	})

	master.Close(ctx)
	reboot(ctx, t, c, instanceID)

	t.Run("after the reboot the status is in-sync and the setting is static", func(t *testing.T) {
		if got := instanceApplyStatus(ctx, t, c, instanceID); got != "in-sync" {
			t.Errorf("ParameterApplyStatus = %q, want in-sync", got)
		}
		conn := srv.connect(ctx, t, endpoint, port, "master1", "Master-pass1", "postgres")
		if v := show(ctx, t, conn, "rds.restrict_password_commands"); v != "on" {
			t.Errorf("rds.restrict_password_commands = %s", v)
		}
		_, err := conn.Exec(ctx, `SET rds.restrict_password_commands = off`)
		if _, msg := sqlState(err); !strings.Contains(msg, "cannot be changed without restarting the server") {
			t.Errorf("SET of the static parameter: %v", err)
		}
	})

	t.Run("a CREATEROLE role outside rds_password is refused", func(t *testing.T) {
		pwadmin := srv.connect(ctx, t, endpoint, port, "pwadmin", "Pwadmin-pass1", "postgres")
		for i, err := range runs(pwadmin, examples) {
			if code, msg := sqlState(err); code != "42501" || msg != restrictedText {
				t.Errorf("%s: %s %q, want 42501 %q", examples[i], code, msg, restrictedText)
			}
		}
	})

	t.Run("an ordinary user cannot change its own password", func(t *testing.T) {
		plain := srv.connect(ctx, t, endpoint, port, "plain", "Plain-pass1", "postgres")
		_, err := plain.Exec(ctx, `ALTER ROLE plain PASSWORD 'Other-pass1'`)
		if code, msg := sqlState(err); code != "42501" || msg != restrictedText {
			t.Errorf("own password: %s %q", code, msg)
		}
		_, err = plain.Exec(ctx, `ALTER USER CURRENT_USER WITH ENCRYPTED PASSWORD 'Other-pass1'`)
		if code, msg := sqlState(err); code != "42501" || msg != restrictedText {
			t.Errorf("ALTER USER CURRENT_USER: %s %q", code, msg)
		}
	})

	t.Run("the master user and rds_password members may", func(t *testing.T) {
		conn := srv.connect(ctx, t, endpoint, port, "master1", "Master-pass1", "postgres")
		for i, err := range runs(conn, examples) {
			if err != nil {
				t.Errorf("master: %s: %v", examples[i], err)
			}
		}
		if _, err := conn.Exec(ctx, `GRANT rds_password TO pwadmin`); err != nil {
			t.Fatal(err)
		}
		pwadmin := srv.connect(ctx, t, endpoint, port, "pwadmin", "Pwadmin-pass1", "postgres")
		for i, err := range runs(pwadmin, examples) {
			if err != nil {
				t.Errorf("pwadmin in rds_password: %s: %v", examples[i], err)
			}
		}
	})

	t.Run("the reserved roles stay untouched", func(t *testing.T) {
		conn := srv.connect(ctx, t, endpoint, port, "master1", "Master-pass1", "postgres")
		for _, stmt := range []string{
			`REVOKE rds_password FROM rds_superuser`,
			`DROP ROLE rds_superuser`,
			`ALTER ROLE rds_password RENAME TO p2`,
			`SET ROLE rdsadmin`,
			`DO $$ BEGIN EXECUTE 'ALTER ROLE rdsadmin PASSWORD ''x'''; END $$`,
		} {
			if _, err := conn.Exec(ctx, stmt); err == nil {
				t.Errorf("%s: allowed", stmt)
			}
		}
		var ok int
		if err := conn.QueryRow(ctx, `SELECT 1`).Scan(&ok); err != nil {
			t.Fatalf("server down after the attempts: %v", err)
		}
	})
}

func TestForceSSLRefusesPlaintextAndSSLInfoWorks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	newClusterGroup(ctx, t, c, "force-ssl")
	desc, instanceID := createCluster(ctx, t, c, "force-ssl", "master1", "Master-pass1", "appdb", func(in *rds.CreateDBClusterInput) {
		in.DBClusterParameterGroupName = aws.String("force-ssl")
	})
	cl := desc.DBClusters[0]
	endpoint, port := aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port)

	plaintext := func() error {
		cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=master1 password=Master-pass1 dbname=appdb sslmode=disable connect_timeout=10", endpoint, port))
		if err != nil {
			t.Fatal(err)
		}
		cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			conn.Close(ctx)
		}
		return err
	}
	if err := plaintext(); err != nil {
		t.Fatalf("plaintext before rds.force_ssl: %v", err)
	}
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("force-ssl"),
		Parameters: []rdstypes.Parameter{param("rds.force_ssl", "1", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	want := `no pg_hba.conf entry for host "127.0.0.1", user "master1", database "appdb", no encryption`
	eventually(t, time.Minute, "plaintext to be refused", func() (bool, error) {
		err := plaintext()
		return err != nil && strings.Contains(err.Error(), want), err
	})
	if got := instanceApplyStatus(ctx, t, c, instanceID); got != "in-sync" {
		t.Errorf("a dynamic immediate change left ParameterApplyStatus %q", got)
	}

	conn := srv.connect(ctx, t, endpoint, port, "master1", "Master-pass1", "appdb")
	if v := show(ctx, t, conn, "rds.force_ssl"); v != "on" {
		t.Errorf("rds.force_ssl = %s", v)
	}
	if _, err := conn.Exec(ctx, `CREATE EXTENSION sslinfo`); err != nil {
		t.Fatalf("create extension sslinfo as the master user: %v", err)
	}
	// Not in the default rds.allowed_extensions: reading the server's files stays closed.
	if _, err := conn.Exec(ctx, `CREATE EXTENSION file_fdw`); err == nil {
		t.Error("the master user created file_fdw")
	}
	var used bool
	var cipher string
	if err := conn.QueryRow(ctx, `SELECT ssl_is_used(), ssl_cipher()`).Scan(&used, &cipher); err != nil || !used || cipher == "" {
		t.Fatalf("ssl_is_used() = %v, ssl_cipher() = %q, %v", used, cipher, err)
	}
}

// TestBorealisSessionsCannotBeHijacked plants a function where Borealis' own superuser
// session would find it if it trusted the database's settings, then makes Borealis reload.
func TestBorealisSessionsCannotBeHijacked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	newClusterGroup(ctx, t, c, "hijack")
	desc, _ := createCluster(ctx, t, c, "hijack", "master1", "Master-pass1", "", func(in *rds.CreateDBClusterInput) {
		in.DBClusterParameterGroupName = aws.String("hijack")
	})
	cl := desc.DBClusters[0]
	conn := srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "master1", "Master-pass1", "postgres")
	for _, stmt := range []string{
		`CREATE SCHEMA evil`,
		`CREATE FUNCTION evil.pg_conf_load_time() RETURNS timestamptz LANGUAGE plpgsql AS $$
		 BEGIN EXECUTE 'ALTER ROLE master1 SUPERUSER'; RETURN pg_catalog.now(); END $$`,
		`CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
		 BEGIN EXECUTE 'ALTER ROLE master1 SUPERUSER'; RETURN pg_catalog.now(); END $$`,
		`ALTER DATABASE postgres SET search_path = evil, pg_catalog`,
		`ALTER ROLE master1 SET search_path = evil, pg_catalog`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	// A dynamic change makes Borealis reload the server through its own admin session.
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("hijack"),
		Parameters: []rdstypes.Parameter{param("log_statement", "ddl", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the reload", func() (bool, error) {
		return show(ctx, t, conn, "log_statement") == "ddl", nil
	})
	var super bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = 'master1'`).Scan(&super); err != nil || super {
		t.Fatalf("master1 became a superuser through Borealis' session (%v)", err)
	}
}
