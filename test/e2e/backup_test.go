package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"
)

// restorableBy waits until cluster id's LatestRestorableTime reaches at (archive_timeout
// plus the backup worker's check bound how long that takes) and returns its window.
func restorableBy(ctx context.Context, t *testing.T, c *rds.Client, id string, at time.Time) (time.Time, time.Time) {
	t.Helper()
	var earliest, latest time.Time
	eventually(t, 4*time.Minute, id+" restorable up to "+at.String(), func() (bool, error) {
		out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
		if err != nil {
			return false, err
		}
		cl := out.DBClusters[0]
		if cl.EarliestRestorableTime == nil || cl.LatestRestorableTime == nil {
			return false, nil
		}
		earliest, latest = *cl.EarliestRestorableTime, *cl.LatestRestorableTime
		return !latest.Before(at), nil
	})
	return earliest, latest
}

// addWriter creates the writer of a (restored) cluster and waits for it.
func addWriter(ctx context.Context, t *testing.T, c *rds.Client, cluster, id string) {
	t.Helper()
	if err := rds.NewDBClusterAvailableWaiter(c, waitOpts).Wait(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(cluster)}, 5*time.Minute); err != nil {
		t.Fatalf("wait cluster %s available: %v", cluster, err)
	}
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), DBClusterIdentifier: aws.String(cluster),
		DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql")}); err != nil {
		t.Fatalf("CreateDBInstance: %v", err)
	}
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 3*time.Minute); err != nil {
		t.Fatalf("wait instance %s available: %v", id, err)
	}
}

// iamLoginToRestore checks IAM database authentication on a restored cluster: dbUser (a
// member of rds_iam in the source) logs in with a token of an IAM user allowed
// rds-db:connect on the restored cluster's own resource id, and not with one of a user
// allowed only on the source's (the restore is a new resource, as on RDS). Where the
// restore did not enable IAM authentication (RDS's default), no token logs in.
func iamLoginToRestore(ctx context.Context, t *testing.T, srv *server, c *rds.Client, source rdstypes.DBCluster, restored, dbUser string, enabled bool) {
	t.Helper()
	d, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(restored)})
	if err != nil {
		t.Fatal(err)
	}
	dst := d.DBClusters[0]
	if got := aws.ToBool(dst.IAMDatabaseAuthenticationEnabled); got != enabled {
		t.Errorf("%s: IAMDatabaseAuthenticationEnabled %v, want %v", restored, got, enabled)
	}
	if aws.ToString(dst.DbClusterResourceId) == aws.ToString(source.DbClusterResourceId) {
		t.Fatalf("%s has its source's resource id", restored)
	}
	endpoint, port := aws.ToString(dst.Endpoint), aws.ToInt32(dst.Port)
	acct := strings.Split(aws.ToString(dst.DBClusterArn), ":")[4]
	login := func(iamUser, resourceID string) (*pgx.Conn, error) {
		policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds-db:connect","Resource":"arn:aws:rds-db:us-east-1:` +
			acct + `:dbuser:` + resourceID + `/` + dbUser + `"}]}`
		keyID, secret := newUser(ctx, t, srv.iam(t), iamUser, nil, map[string]string{"connect": policy})
		tok, err := auth.BuildAuthToken(ctx, fmt.Sprintf("%s:%d", endpoint, port), "us-east-1", dbUser, staticCreds(keyID, secret))
		if err != nil {
			t.Fatal(err)
		}
		return srv.loginWith(ctx, endpoint, port, dbUser, tok, "verify-full")
	}
	conn, err := login(restored+"-iam", aws.ToString(dst.DbClusterResourceId))
	if !enabled {
		if err == nil {
			conn.Close(ctx)
			t.Errorf("a token logged in to %s, restored without IAM database authentication", restored)
		}
		return
	}
	if err != nil {
		t.Fatalf("IAM login as %s to %s: %v", dbUser, restored, err)
	}
	var who string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != dbUser {
		t.Errorf("current_user %q, %v", who, err)
	}
	conn.Close(ctx)
	if conn, err := login(restored+"-srconly", aws.ToString(source.DbClusterResourceId)); err == nil {
		conn.Close(ctx)
		t.Errorf("a user allowed rds-db:connect only on the source cluster logged in to %s", restored)
	}
}

// The test, through the API: rows, note the time, more rows, drop the table; a new
// cluster restored to the noted time holds exactly the first rows, the table present, the
// source's roles and passwords, and the restore request's parameter group (force_ssl,
// restrict_password_commands) and port.
func TestPointInTimeRestoreOfANewCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	newClusterGroup(ctx, t, c, "pitr-strict")
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("pitr-strict"),
		Parameters: []rdstypes.Parameter{param("rds.force_ssl", "1", rdstypes.ApplyMethodImmediate),
			param("rds.restrict_password_commands", "1", rdstypes.ApplyMethodPendingReboot)}}); err != nil {
		t.Fatal(err)
	}
	desc, _ := createCluster(ctx, t, c, "pitr-src", "master1", "Master-pass1", "app", func(in *rds.CreateDBClusterInput) {
		in.EnableIAMDatabaseAuthentication = aws.Bool(true)
		in.BackupRetentionPeriod = aws.Int32(7)
		in.PreferredBackupWindow = aws.String("02:00-02:30")
	})
	src := desc.DBClusters[0]
	if got := aws.ToInt32(src.BackupRetentionPeriod); got != 7 {
		t.Errorf("BackupRetentionPeriod %d, want 7", got)
	}
	if got := aws.ToString(src.PreferredBackupWindow); got != "02:00-02:30" {
		t.Errorf("PreferredBackupWindow %q", got)
	}
	// The first backup, taken at creation, starts the restorable window.
	restorableBy(ctx, t, c, "pitr-src", time.Time{})
	conn := srv.connect(ctx, t, aws.ToString(src.Endpoint), aws.ToInt32(src.Port), "master1", "Master-pass1", "app")
	for _, q := range []string{
		"CREATE TABLE notes (n int)",
		"INSERT INTO notes SELECT generate_series(1, 3)",
		// A role of the source's, with its password: it must log in to the restore.
		"CREATE ROLE clerk LOGIN PASSWORD 'Clerk-pass1'",
		// A database user for IAM authentication: it must log in to the restore with a token.
		"CREATE ROLE app_iam LOGIN",
		"GRANT rds_iam TO app_iam",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var noted time.Time
	if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&noted); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"INSERT INTO notes SELECT generate_series(4, 6)", "DROP TABLE notes"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	earliest, _ := restorableBy(ctx, t, c, "pitr-src", noted)

	// What RDS refuses, refused, nothing made.
	for _, bad := range []struct {
		in   rds.RestoreDBClusterToPointInTimeInput
		code string
	}{
		{rds.RestoreDBClusterToPointInTimeInput{RestoreToTime: aws.Time(earliest.Add(-time.Hour))}, "InvalidRestoreFault"},
		{rds.RestoreDBClusterToPointInTimeInput{RestoreToTime: aws.Time(noted), RestoreType: aws.String("copy-on-write")}, "InvalidParameterCombination"},
		{rds.RestoreDBClusterToPointInTimeInput{RestoreToTime: aws.Time(noted), UseLatestRestorableTime: aws.Bool(true)}, "InvalidParameterCombination"},
		{rds.RestoreDBClusterToPointInTimeInput{}, "InvalidParameterCombination"},
	} {
		in := bad.in
		in.DBClusterIdentifier, in.SourceDBClusterIdentifier = aws.String("pitr-bad"), aws.String("pitr-src")
		_, err := c.RestoreDBClusterToPointInTime(ctx, &in)
		if code, _ := apiError(t, err); code != bad.code {
			t.Errorf("restore %+v: %v, want %s", bad.in, err, bad.code)
		}
	}
	if _, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("pitr-bad")}); err == nil {
		t.Error("a refused restore made a cluster")
	}

	out, err := c.RestoreDBClusterToPointInTime(ctx, &rds.RestoreDBClusterToPointInTimeInput{
		DBClusterIdentifier: aws.String("pitr-dst"), SourceDBClusterIdentifier: aws.String("pitr-src"),
		RestoreToTime: aws.Time(noted), DBClusterParameterGroupName: aws.String("pitr-strict"), Port: aws.Int32(6543),
		EnableIAMDatabaseAuthentication: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("RestoreDBClusterToPointInTime: %v", err)
	}
	if got := aws.ToString(out.DBCluster.Status); got != "creating" {
		t.Errorf("restored cluster status %q, want creating", got)
	}
	addWriter(ctx, t, c, "pitr-dst", "pitr-dst-writer")
	d, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("pitr-dst")})
	if err != nil {
		t.Fatal(err)
	}
	dst := d.DBClusters[0]
	if aws.ToInt32(dst.Port) != 6543 || aws.ToString(dst.DBClusterParameterGroup) != "pitr-strict" || aws.ToString(dst.MasterUsername) != "master1" {
		t.Errorf("restored cluster: port %d, group %s, master %s", aws.ToInt32(dst.Port), aws.ToString(dst.DBClusterParameterGroup), aws.ToString(dst.MasterUsername))
	}
	endpoint, port := aws.ToString(dst.Endpoint), aws.ToInt32(dst.Port)
	rc := srv.connect(ctx, t, endpoint, port, "master1", "Master-pass1", "app")
	var n, sum int
	if err := rc.QueryRow(ctx, "SELECT count(*), sum(n) FROM notes").Scan(&n, &sum); err != nil {
		t.Fatalf("the table is not there: %v", err)
	}
	if n != 3 || sum != 6 {
		t.Fatalf("restored %d rows summing to %d, want exactly the first 3", n, sum)
	}
	// The parameter group the restore named: force_ssl refuses plaintext ...
	plain, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=master1 password=Master-pass1 dbname=app sslmode=disable", port))
	if err == nil {
		plain.Close(ctx)
		t.Error("a plaintext login reached the restored cluster with rds.force_ssl=1")
	} else if !strings.Contains(err.Error(), "no pg_hba.conf entry") {
		t.Errorf("plaintext login: %v, want PostgreSQL's no pg_hba.conf entry", err)
	}
	// ... and restrict_password_commands keeps the source's roles from changing passwords.
	clerk := srv.connect(ctx, t, endpoint, port, "clerk", "Clerk-pass1", "app")
	if _, err := clerk.Exec(ctx, "ALTER ROLE clerk PASSWORD 'Other-pass2'"); err == nil || !strings.Contains(err.Error(), "must be a member of rds_password") {
		t.Errorf("ALTER ROLE ... PASSWORD in the restored cluster: %v, want the rds_password refusal", err)
	}
	// The master logged in above; an IAM-authenticated user does too.
	iamLoginToRestore(ctx, t, srv, c, src, "pitr-dst", "app_iam", true)
}

// metricsBody reads serve's /metrics.
func metricsBody(t *testing.T, srv *server) string {
	t.Helper()
	resp, err := http.Get("http://" + srv.APIAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Stuck archiving (here: the cluster's repository made unusable) shows in the API, as a
// StatusInfos entry on the cluster, and in /metrics, never only in a log; and clears once
// archiving works again. The last successful backup's time is in /metrics too.
func TestStuckArchivingIsVisible(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	desc, _ := createCluster(ctx, t, c, "bk-stuck", "master1", "Master-pass1", "")
	cl := desc.DBClusters[0]
	restorableBy(ctx, t, c, "bk-stuck", time.Time{})
	if m := metricsBody(t, srv); !strings.Contains(m, `borealis_backup_last_success_timestamp_seconds{cluster="bk-stuck"}`) {
		t.Errorf("/metrics has no last backup time for the cluster")
	}
	repo := filepath.Join(srv.DataDir, "backups", aws.ToString(cl.DbClusterResourceId))
	if err := os.Chmod(repo, 0); err != nil {
		t.Fatal(err)
	}
	conn := srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "master1", "Master-pass1", "postgres")
	if _, err := conn.Exec(ctx, "CREATE TABLE w AS SELECT generate_series(1, 1000) n"); err != nil {
		t.Fatal(err)
	}
	failing := func() (bool, error) {
		out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("bk-stuck")})
		if err != nil {
			return false, err
		}
		for _, si := range out.DBClusters[0].StatusInfos {
			if aws.ToString(si.StatusType) == "backup" && strings.Contains(aws.ToString(si.Message), "archiving") {
				return true, nil
			}
		}
		return false, nil
	}
	eventually(t, 4*time.Minute, "archiving failure in StatusInfos", failing)
	if m := metricsBody(t, srv); !strings.Contains(m, `borealis_backup_failing{cluster="bk-stuck",failure="WAL archiving is failing"} 1`) {
		t.Errorf("/metrics does not say archiving fails")
	}
	if err := os.Chmod(repo, 0o700); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Minute, "archiving failure cleared", func() (bool, error) {
		f, err := failing()
		return !f, err
	})
}

// After a failover the new writer archives to the same repository, on its new timeline: a
// restore to the latest restorable time has the rows written before and after it.
func TestFailoverWriterArchivesToTheSameRepository(t *testing.T) {
	t.Parallel()
	srv := shared.get(t)
	failoverWriterArchivesToTheSameRepository(context.Background(), t, srv, "bk-fo")
}

// failoverWriterArchivesToTheSameRepository makes cluster name with a reader on srv, fails
// over to the reader and restores to the latest restorable time: the restore has the rows
// written before and after the failover.
func failoverWriterArchivesToTheSameRepository(ctx context.Context, t *testing.T, srv *server, name string) {
	t.Helper()
	c := srv.rds(t)
	desc, _ := createCluster(ctx, t, c, name, "master1", "Master-pass1", "app")
	cl := desc.DBClusters[0]
	addReader(ctx, t, c, name, name+"-r1", 0)
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(name + "-r1")}, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	restorableBy(ctx, t, c, name, time.Time{})
	conn := srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "master1", "Master-pass1", "app")
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if _, err := c.FailoverDBCluster(ctx, &rds.FailoverDBClusterInput{DBClusterIdentifier: aws.String(name), TargetDBInstanceIdentifier: aws.String(name + "-r1")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "failover to "+name+"-r1", func() (bool, error) {
		w, st := clusterWriter(ctx, t, c, name)
		return w == name+"-r1" && st == "available", nil
	})
	conn = srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "master1", "Master-pass1", "app")
	if _, err := conn.Exec(ctx, "INSERT INTO t VALUES ('after')"); err != nil {
		t.Fatal(err)
	}
	var after time.Time
	if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&after); err != nil {
		t.Fatal(err)
	}
	restorableBy(ctx, t, c, name, after)
	if _, err := c.RestoreDBClusterToPointInTime(ctx, &rds.RestoreDBClusterToPointInTimeInput{DBClusterIdentifier: aws.String(name + "-restored"),
		SourceDBClusterIdentifier: aws.String(name), UseLatestRestorableTime: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	addWriter(ctx, t, c, name+"-restored", name+"-restored-1")
	d, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(name + "-restored")})
	if err != nil {
		t.Fatal(err)
	}
	rc := srv.connect(ctx, t, aws.ToString(d.DBClusters[0].Endpoint), aws.ToInt32(d.DBClusters[0].Port), "master1", "Master-pass1", "app")
	if got := queryRows(ctx, t, rc, "SELECT v FROM t ORDER BY v DESC"); strings.Join(got, ",") != "before,after" {
		t.Fatalf("restored rows %v, want before and after the failover", got)
	}
}
