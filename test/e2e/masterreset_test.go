package e2e

import (
	"context"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"
)

// TestModifyMasterPasswordRestoresALockedOutMaster: the master locks itself out (with the
// help of another rds_superuser member), then ModifyDBCluster --master-user-password gives
// it a new password and restores its login, attributes, membership and settings, at once
// and with open sessions kept; it recreates a master renamed away; a kill -9 of serve
// while the reset waits converges after the restart. The cluster accepts SCRAM logins
// only, so every master password must reach PostgreSQL as a SCRAM verifier. Neither a
// password nor a verifier reaches serve's log or the server's.
func TestModifyMasterPasswordRestoresALockedOutMaster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-reset-")
	addr := freeAddr(t)
	srv, err := startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			srv.stop()
		}
	})
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	c := srv.rds(t)

	const group = "scram-only"
	if _, err := c.CreateDBClusterParameterGroup(ctx, &rds.CreateDBClusterParameterGroupInput{
		DBClusterParameterGroupName: aws.String(group), DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("reset test"),
	}); err != nil {
		t.Fatal(err)
	}
	// password_encryption stays md5: the master's password is SCRAM all the same.
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(group),
		Parameters: []rdstypes.Parameter{
			param("rds.accepted_password_auth_method", "scram", rdstypes.ApplyMethodPendingReboot),
			param("log_statement", "all", rdstypes.ApplyMethodImmediate),
		}}); err != nil {
		t.Fatal(err)
	}
	_, freePort, _ := net.SplitHostPort(freeAddr(t))
	pin, _ := strconv.Atoi(freePort)
	const id, master, pw1, pw2, pw3 = "resetme", "boss", "Boss-pass-1", "Boss-pass-2#x", "Boss-pass-3~y"
	desc, _ := createCluster(ctx, t, c, id, master, pw1, "appdb", func(in *rds.CreateDBClusterInput) {
		in.Port = aws.Int32(int32(pin))
		in.DBClusterParameterGroupName = aws.String(group)
	})
	endpoint, port := aws.ToString(desc.DBClusters[0].Endpoint), aws.ToInt32(desc.DBClusters[0].Port)
	login := func(user, password, db string) (*pgx.Conn, error) {
		return srv.tryConnect(ctx, endpoint, port, user, password, db)
	}

	open := srv.connect(ctx, t, endpoint, port, master, pw1, "appdb")
	mustExec(t, open, "SET password_encryption = 'scram-sha-256'")
	mustExec(t, open, "CREATE ROLE helper LOGIN CREATEROLE PASSWORD 'Helper-pass-1'")
	mustExec(t, open, "GRANT rds_superuser TO helper")
	mustExec(t, open, "SELECT 'statement logging is on'")
	helper := srv.connect(ctx, t, endpoint, port, "helper", "Helper-pass-1", "appdb")

	// Every way found to lock the master out or steer it; some may be refused (then they
	// are not a way), but together they must lock it out.
	for _, a := range []struct {
		conn *pgx.Conn
		q    string
	}{
		{open, "ALTER ROLE boss SET search_path = trap"},
		{open, "ALTER ROLE boss IN DATABASE appdb SET default_transaction_read_only = on"},
		{open, "ALTER ROLE boss IN DATABASE postgres SET statement_timeout = 1"},
		{open, "ALTER ROLE boss NOCREATEDB"},
		{helper, "ALTER ROLE boss NOCREATEROLE NOINHERIT CONNECTION LIMIT 0 VALID UNTIL '2001-01-01'"},
		{helper, "REVOKE rds_superuser FROM boss"},
		{helper, "ALTER ROLE boss NOLOGIN"},
	} {
		if _, err := a.conn.Exec(ctx, a.q); err != nil {
			t.Logf("refused: %s: %v", a.q, err)
		}
	}
	if cn, err := login(master, pw1, "appdb"); err == nil {
		cn.Close(ctx)
		t.Fatal("the master is not locked out: the test proves nothing")
	}

	t.Run("bad passwords are refused and change nothing", func(t *testing.T) {
		for _, pw := range []string{"short1!", "with space1", "no/slash12", `no"quote1`, "no@at1234"} {
			_, err := c.ModifyDBCluster(ctx, &rds.ModifyDBClusterInput{DBClusterIdentifier: aws.String(id), MasterUserPassword: aws.String(pw), ApplyImmediately: aws.Bool(true)})
			if code, status := apiError(t, err); code != "InvalidParameterValue" || status != 400 {
				t.Errorf("%q: %s/%d", pw, code, status)
			} else if strings.Contains(err.Error(), pw) {
				t.Errorf("error repeats the password: %v", err)
			}
		}
		d, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
		if err != nil || aws.ToString(d.DBClusters[0].Status) != "available" || d.DBClusters[0].PendingModifiedValues != nil {
			t.Fatalf("after refused modifies: %v", err)
		}
	})

	reset := func(t *testing.T, password string) {
		t.Helper()
		out, err := c.ModifyDBCluster(ctx, &rds.ModifyDBClusterInput{DBClusterIdentifier: aws.String(id), MasterUserPassword: aws.String(password), ApplyImmediately: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.DBCluster.Status); got != "resetting-master-credentials" {
			t.Errorf("status after ModifyDBCluster: %s", got)
		}
		if p := out.DBCluster.PendingModifiedValues; p == nil || aws.ToString(p.MasterUserPassword) != "****" {
			t.Errorf("PendingModifiedValues: %+v", p)
		}
	}
	waitAvailable := func(t *testing.T) {
		t.Helper()
		if err := rds.NewDBClusterAvailableWaiter(c, waitOpts).Wait(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)}, 2*time.Minute); err != nil {
			t.Fatalf("wait available after reset: %v", err)
		}
	}

	t.Run("reset restores login, attributes, membership and settings", func(t *testing.T) {
		reset(t, pw2)
		waitAvailable(t)
		checkMaster(ctx, t, login, pw2)
		if cn, err := login(master, pw1, "appdb"); err == nil {
			cn.Close(ctx)
			t.Error("the old password still logs in")
		}
		var one int
		if err := open.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Errorf("the session opened before the reset: %v", err)
		}
	})

	t.Run("a master renamed away is made again, not a delegated admin's role of its name", func(t *testing.T) {
		mustExec(t, helper, "ALTER ROLE boss RENAME TO boss_old")
		if cn, err := login(master, pw2, "appdb"); err == nil {
			cn.Close(ctx)
			t.Fatal("renamed master still logs in as boss")
		}
		// A delegated admin (CREATEROLE, not in rds_superuser) takes the free name and makes
		// itself a member of it: the reset must not hand it rds_superuser.
		mustExec(t, helper, "SET password_encryption = 'scram-sha-256'")
		mustExec(t, helper, "CREATE ROLE delegate LOGIN CREATEROLE PASSWORD 'Delegate-pass-1'")
		delegate := srv.connect(ctx, t, endpoint, port, "delegate", "Delegate-pass-1", "appdb")
		mustExec(t, delegate, "CREATE ROLE boss LOGIN")
		if _, err := delegate.Exec(ctx, "GRANT boss TO delegate"); err != nil {
			t.Logf("refused: GRANT boss TO delegate: %v", err)
		}
		reset(t, pw2)
		waitAvailable(t)
		checkMaster(ctx, t, login, pw2)
		var escalated bool
		if err := delegate.QueryRow(ctx, "SELECT pg_has_role('delegate', 'rds_superuser', 'MEMBER')").Scan(&escalated); err != nil || escalated {
			t.Errorf("the delegated admin is in rds_superuser after the reset (%v)", err)
		}
	})

	t.Run("kill -9 of serve while the reset waits converges", func(t *testing.T) {
		// An open transaction holds the master's row: the reset waits for it and fails
		// with a lock timeout, again and again, until serve is killed.
		tx, err := helper.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "ALTER ROLE boss VALID UNTIL '2001-01-01'"); err != nil {
			t.Fatal(err)
		}
		reset(t, pw3)
		eventually(t, 60*time.Second, "the reset to wait for the lock", func() (bool, error) {
			b, err := os.ReadFile(srv.logPath)
			return strings.Contains(string(b), "reset master user"), err
		})
		d, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
		if err != nil || aws.ToString(d.DBClusters[0].Status) != "resetting-master-credentials" {
			t.Fatalf("while the reset waits: %v", err)
		}
		srv.kill()
		// The server outlives serve, and with it the transaction that holds the lock (it
		// ends with its session, which the gateway's relay, if it carried it, took down).
		tx.Rollback(ctx)
		if n := postmastersUnder(t, dir); n != 1 {
			t.Fatalf("%d postmasters after serve was killed, want 1 still running", n)
		}
		if srv, err = startServer(dir, addr); err != nil {
			t.Fatal(err)
		}
		c = srv.rds(t)
		waitAvailable(t)
		checkMaster(ctx, t, login, pw3)
		if cn, err := login(master, pw2, "appdb"); err == nil {
			cn.Close(ctx)
			t.Error("the previous password still logs in")
		}
	})

	srv.stop()
	stopped = true
	var logs []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		// serve's log, the servers' early stderr (*.log) and their hourly files (*.log.HOUR).
		if err == nil && d.Type().IsRegular() && (strings.HasSuffix(path, ".log") || strings.Contains(d.Name(), ".log.")) {
			logs = append(logs, path)
		}
		return nil
	})
	logged := false
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		logged = logged || strings.Contains(string(b), "statement logging is on")
		for _, secret := range []string{pw1, pw2, pw3, "SCRAM-SHA-256$"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s holds %q", path, secret)
			}
		}
	}
	if !logged {
		t.Errorf("no server log among %v shows the statements: the log check proves nothing", logs)
	}
}

func mustExec(t *testing.T, c *pgx.Conn, q string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// checkMaster logs in as the master with password, to both databases, and finds it as
// Aurora makes it: its attributes, a member of rds_superuser, no stored settings.
func checkMaster(ctx context.Context, t *testing.T, login func(user, password, db string) (*pgx.Conn, error), password string) {
	t.Helper()
	for _, db := range []string{"appdb", "postgres"} {
		cn, err := login("boss", password, db)
		if err != nil {
			t.Fatalf("master login to %s: %v", db, err)
		}
		defer cn.Close(ctx)
		var path, readOnly, timeout string
		if err := cn.QueryRow(ctx, "SELECT current_setting('search_path'), current_setting('default_transaction_read_only'), current_setting('statement_timeout')").
			Scan(&path, &readOnly, &timeout); err != nil {
			t.Fatal(err)
		}
		if path != `"$user", public` || readOnly != "off" || timeout != "0" {
			t.Errorf("%s: search_path=%q default_transaction_read_only=%s statement_timeout=%s", db, path, readOnly, timeout)
		}
	}
	cn, err := login("boss", password, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	var attrs string
	var member bool
	var settings int
	err = cn.QueryRow(ctx, `SELECT concat_ws(',', rolcanlogin, rolsuper, rolinherit, rolcreatedb, rolcreaterole, rolreplication,
			rolbypassrls, rolconnlimit, rolvaliduntil),
		pg_has_role('boss', 'rds_superuser', 'MEMBER'),
		(SELECT count(*) FROM pg_db_role_setting WHERE setrole = 'boss'::regrole)
		FROM pg_roles WHERE rolname = 'boss'`).Scan(&attrs, &member, &settings)
	if err != nil {
		t.Fatal(err)
	}
	if want := "t,f,t,t,t,f,f,-1,infinity"; attrs != want {
		t.Errorf("master attributes %s, want %s", attrs, want)
	}
	if !member || settings != 0 {
		t.Errorf("member of rds_superuser: %v; stored settings: %d", member, settings)
	}
}
