package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"
)

func waitOpts(o *rds.DBClusterAvailableWaiterOptions) {
	o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
}
func waitInstOpts(o *rds.DBInstanceAvailableWaiterOptions) {
	o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
}
func waitDelOpts(o *rds.DBInstanceDeletedWaiterOptions) {
	o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
}

// createCluster makes a cluster with a writer and waits for both, as the README does.
func createCluster(ctx context.Context, t *testing.T, c *rds.Client, id, user, password, db string, opts ...func(*rds.CreateDBClusterInput)) (*rds.DescribeDBClustersOutput, string) {
	t.Helper()
	in := &rds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String(id),
		Engine:              aws.String("aurora-postgresql"),
		EngineVersion:       aws.String("15"),
		MasterUsername:      aws.String(user),
		MasterUserPassword:  aws.String(password),
	}
	if db != "" {
		in.DatabaseName = aws.String(db)
	}
	for _, o := range opts {
		o(in)
	}
	out, err := c.CreateDBCluster(ctx, in)
	if err != nil {
		t.Fatalf("CreateDBCluster: %v", err)
	}
	if got := aws.ToString(out.DBCluster.Status); got != "creating" {
		t.Errorf("new cluster status %q, want creating", got)
	}
	instanceID := strings.ToLower(id) + "-writer"
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(instanceID),
		DBClusterIdentifier:  aws.String(id),
		DBInstanceClass:      aws.String("db.r6g.large"),
		Engine:               aws.String("aurora-postgresql"),
	}); err != nil {
		t.Fatalf("CreateDBInstance: %v", err)
	}
	if err := rds.NewDBClusterAvailableWaiter(c, waitOpts).Wait(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)}, 3*time.Minute); err != nil {
		t.Fatalf("wait cluster available: %v", err)
	}
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(instanceID)}, 3*time.Minute); err != nil {
		t.Fatalf("wait instance available: %v", err)
	}
	desc, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return desc, instanceID
}

// deleteCluster removes the writer, waits, then removes the cluster and waits until it is gone.
func deleteCluster(ctx context.Context, t *testing.T, c *rds.Client, id, instanceID string) {
	t.Helper()
	if _, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(instanceID), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
		t.Fatalf("DeleteDBInstance: %v", err)
	}
	if err := rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(instanceID)}, 2*time.Minute); err != nil {
		t.Fatalf("wait instance deleted: %v", err)
	}
	if _, err := c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
		t.Fatalf("DeleteDBCluster: %v", err)
	}
	eventually(t, 2*time.Minute, "cluster gone", func() (bool, error) {
		_, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
		if err == nil {
			return false, nil
		}
		code, status := apiError(t, err)
		return code == "DBClusterNotFoundFault" && status == 404, err
	})
}

func TestClusterLifecycleAndMasterUserPrivileges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)

	desc, instanceID := createCluster(ctx, t, c, "Lifecycle-1", "dbmaster", "S3cret-pass!", "appdb")
	cl := desc.DBClusters[0]

	t.Run("describe shows what RDS shows", func(t *testing.T) {
		checks := map[string]struct{ got, want string }{
			"identifier (stored lower-case)": {aws.ToString(cl.DBClusterIdentifier), "lifecycle-1"},
			"status":                         {aws.ToString(cl.Status), "available"},
			"engine":                         {aws.ToString(cl.Engine), "aurora-postgresql"},
			"master user":                    {aws.ToString(cl.MasterUsername), "dbmaster"},
			"database":                       {aws.ToString(cl.DatabaseName), "appdb"},
		}
		for what, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", what, c.got, c.want)
			}
		}
		if !regexp.MustCompile(`^15\.\d+$`).MatchString(aws.ToString(cl.EngineVersion)) {
			t.Errorf("EngineVersion %q is not the 15.x actually run", aws.ToString(cl.EngineVersion))
		}
		if !regexp.MustCompile(`^arn:aws:rds:us-east-1:\d{12}:cluster:lifecycle-1$`).MatchString(aws.ToString(cl.DBClusterArn)) {
			t.Errorf("DBClusterArn %q", aws.ToString(cl.DBClusterArn))
		}
		if !regexp.MustCompile(`^cluster-[A-Z0-9]{26}$`).MatchString(aws.ToString(cl.DbClusterResourceId)) {
			t.Errorf("DbClusterResourceId %q", aws.ToString(cl.DbClusterResourceId))
		}
		if !strings.HasPrefix(aws.ToString(cl.Endpoint), "lifecycle-1.cluster-") || !strings.HasPrefix(aws.ToString(cl.ReaderEndpoint), "lifecycle-1.cluster-ro-") {
			t.Errorf("endpoints %q / %q", aws.ToString(cl.Endpoint), aws.ToString(cl.ReaderEndpoint))
		}
		if aws.ToInt32(cl.Port) < 1150 {
			t.Errorf("Port %d", aws.ToInt32(cl.Port))
		}
		if len(cl.DBClusterMembers) != 1 || aws.ToString(cl.DBClusterMembers[0].DBInstanceIdentifier) != instanceID || !aws.ToBool(cl.DBClusterMembers[0].IsClusterWriter) {
			t.Errorf("DBClusterMembers = %+v, want the writer %s", cl.DBClusterMembers, instanceID)
		}
		inst, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(instanceID)})
		if err != nil {
			t.Fatal(err)
		}
		di := inst.DBInstances[0]
		if aws.ToString(di.DBClusterIdentifier) != "lifecycle-1" || di.Endpoint == nil || aws.ToInt32(di.Endpoint.Port) != aws.ToInt32(cl.Port) ||
			!regexp.MustCompile(`^db-[A-Z0-9]{26}$`).MatchString(aws.ToString(di.DbiResourceId)) {
			t.Errorf("instance = cluster %q endpoint %+v resource %q", aws.ToString(di.DBClusterIdentifier), di.Endpoint, aws.ToString(di.DbiResourceId))
		}
	})

	conn := srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "dbmaster", "S3cret-pass!", "appdb")

	t.Run("session is TLS end to end", func(t *testing.T) {
		var ssl bool
		if err := conn.QueryRow(ctx, `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&ssl); err != nil || !ssl {
			t.Fatalf("ssl = %v, %v", ssl, err)
		}
	})

	t.Run("master user has exactly Aurora's attributes", func(t *testing.T) {
		var super, inherit, createrole, createdb, login, repl, bypass bool
		var validUntil string
		err := conn.QueryRow(ctx, `SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolvaliduntil::text
			FROM pg_roles WHERE rolname = 'dbmaster'`).Scan(&super, &inherit, &createrole, &createdb, &login, &repl, &bypass, &validUntil)
		if err != nil {
			t.Fatal(err)
		}
		if super || !inherit || !createrole || !createdb || !login || repl || bypass || validUntil != "infinity" {
			t.Errorf("dbmaster: super=%v inherit=%v createrole=%v createdb=%v login=%v replication=%v bypassrls=%v valid until %s",
				super, inherit, createrole, createdb, login, repl, bypass, validUntil)
		}
		var owner string
		if err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'appdb'`).Scan(&owner); err != nil || owner != "dbmaster" {
			t.Errorf("appdb owner = %q, %v", owner, err)
		}
	})

	t.Run("memberships are Aurora's", func(t *testing.T) {
		member := func(role, of string) bool {
			var ok bool
			if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
				WHERE u.rolname = $1 AND r.rolname = $2)`, role, of).Scan(&ok); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		for _, want := range [][2]string{
			{"dbmaster", "rds_superuser"}, {"rds_superuser", "rds_password"}, {"rds_superuser", "pg_monitor"},
			{"rds_superuser", "pg_signal_backend"}, {"rds_superuser", "pg_read_all_stats"},
		} {
			if !member(want[0], want[1]) {
				t.Errorf("%s is not a member of %s", want[0], want[1])
			}
		}
		var canLogin bool
		if err := conn.QueryRow(ctx, `SELECT rolcanlogin FROM pg_roles WHERE rolname = 'rds_superuser'`).Scan(&canLogin); err != nil || canLogin {
			t.Errorf("rds_superuser can log in (%v, %v)", canLogin, err)
		}
	})

	t.Run("rdsadmin is a superuser the master cannot touch", func(t *testing.T) {
		var super bool
		if err := conn.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = 'rdsadmin'`).Scan(&super); err != nil || !super {
			t.Fatalf("rdsadmin superuser = %v, %v", super, err)
		}
		for _, stmt := range []string{
			`ALTER ROLE rdsadmin PASSWORD 'stolen-password'`,
			`ALTER ROLE rdsadmin RENAME TO admin2`,
			`ALTER ROLE rdsadmin NOSUPERUSER`,
			`DROP ROLE rdsadmin`,
			`GRANT rdsadmin TO dbmaster`,
		} {
			if _, err := conn.Exec(ctx, stmt); err == nil {
				t.Errorf("%s: succeeded for the master user", stmt)
			} else if !strings.Contains(err.Error(), "superuser") && !strings.Contains(err.Error(), "permission denied") {
				t.Errorf("%s: unexpected error %v", stmt, err)
			}
		}
		// And nobody reaches rdsadmin through an endpoint, whatever the password.
		if _, err := srv.tryConnect(ctx, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "rdsadmin", "anything", "postgres"); err == nil {
			t.Error("rdsadmin logged in through the cluster endpoint")
		}
	})

	t.Run("verify-full refuses a wrong host name", func(t *testing.T) {
		_, err := srv.tryConnect(ctx, "impostor.cluster-x.us-east-1.rds.borealis.localhost", aws.ToInt32(cl.Port), "dbmaster", "S3cret-pass!", "appdb")
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("connection with a wrong host name: %v", err)
		}
	})

	t.Run("wrong password is refused", func(t *testing.T) {
		_, err := srv.tryConnect(ctx, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "dbmaster", "not-the-password", "appdb")
		if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
			t.Fatalf("wrong password: %v", err)
		}
	})

	t.Run("the endpoint's connections are counted at /metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + srv.APIAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, want := range []string{`borealis_endpoint_connections_accepted_total\{endpoint="lifecycle-1"\} [1-9]`, `borealis_endpoint_connections_open\{endpoint="lifecycle-1"\} [1-9]`} {
			if !regexp.MustCompile(want).Match(body) {
				t.Errorf("/metrics lacks %s:\n%s", want, body)
			}
		}
	})

	t.Run("a cluster with instances cannot be deleted", func(t *testing.T) {
		_, err := c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("lifecycle-1"), SkipFinalSnapshot: aws.Bool(true)})
		if code, status := apiError(t, err); code != "InvalidDBClusterStateFault" || status != 400 {
			t.Fatalf("got %s/%d", code, status)
		}
	})

	conn.Close(ctx)
	deleteCluster(ctx, t, c, "lifecycle-1", instanceID)
	if _, err := srv.tryConnect(ctx, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "dbmaster", "S3cret-pass!", "appdb"); err == nil {
		t.Error("the deleted cluster's endpoint still accepts connections")
	}
}

// queryRows reads one text column.
func queryRows(ctx context.Context, t *testing.T, conn *pgx.Conn, sql string) []string {
	t.Helper()
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
