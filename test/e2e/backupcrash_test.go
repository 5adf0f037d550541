package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// pgbackrestRunning reports whether a pgbackrest command (backup, restore) of the serve on
// dir runs now.
func pgbackrestRunning(dir, command string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 1 && filepath.Base(args[0]) == "pgbackrest" && args[len(args)-1] == command && strings.Contains(string(b), dir) {
			return true
		}
	}
	return false
}

// waitFor polls cond every 20 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// kill -9 of serve during a cluster's first backup and during a restore: after a restart
// both converge, and nothing half-made is reported (no restorable time from an unfinished
// backup; the restored cluster is creating, never available, until its volume is whole).
func TestKill9DuringBackupAndRestoreConverges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-bkcrash-")
	addr := freeAddr(t)
	srv, err := startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.stop() }()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("serve's log ends:\n%s", b)
		}
	})
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	c := srv.rds(t)
	_, freePort, _ := net.SplitHostPort(freeAddr(t))
	pin, _ := strconv.Atoi(freePort)
	if _, err := c.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("crash-src"), Engine: aws.String("aurora-postgresql"),
		MasterUsername: aws.String("owner1"), MasterUserPassword: aws.String("Crash-pass1"), Port: aws.Int32(int32(pin))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("crash-src-1"), DBClusterIdentifier: aws.String("crash-src"),
		DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql")}); err != nil {
		t.Fatal(err)
	}
	// The first backup starts as soon as the writer runs.
	if !waitFor(3*time.Minute, func() bool { return pgbackrestRunning(dir, "backup") }) {
		t.Fatalf("no backup started; serve's log ends:\n%s", srv.logTail())
	}
	srv.kill()
	if srv, err = startServer(dir, addr); err != nil {
		t.Fatal(err)
	}
	c = srv.rds(t)
	out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("crash-src")})
	if err != nil {
		t.Fatal(err)
	}
	if out.DBClusters[0].EarliestRestorableTime != nil && pgbackrestRunning(dir, "backup") {
		t.Error("a restorable time while the interrupted backup is taken again")
	}
	_, latest := restorableBy(ctx, t, c, "crash-src", time.Time{})
	desc, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("crash-src")})
	if err != nil {
		t.Fatal(err)
	}
	src := desc.DBClusters[0]
	conn := srv.connect(ctx, t, aws.ToString(src.Endpoint), aws.ToInt32(src.Port), "owner1", "Crash-pass1", "postgres")
	if _, err := conn.Exec(ctx, "CREATE TABLE kept AS SELECT generate_series(1, 100000) AS n"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	_, latest = restorableBy(ctx, t, c, "crash-src", latest.Add(time.Second))

	if _, err := c.RestoreDBClusterToPointInTime(ctx, &rds.RestoreDBClusterToPointInTimeInput{DBClusterIdentifier: aws.String("crash-dst"),
		SourceDBClusterIdentifier: aws.String("crash-src"), UseLatestRestorableTime: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(2*time.Minute, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "clusters", "*", "restore-staging"))
		return len(m) > 0
	}) {
		t.Fatalf("no restore started; serve's log ends:\n%s", srv.logTail())
	}
	srv.kill()
	if srv, err = startServer(dir, addr); err != nil {
		t.Fatal(err)
	}
	c = srv.rds(t)
	if out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("crash-dst")}); err != nil {
		t.Fatal(err)
	} else if st := aws.ToString(out.DBClusters[0].Status); st != "creating" {
		t.Errorf("interrupted restore's cluster is %q, want creating", st)
	}
	addWriter(ctx, t, c, "crash-dst", "crash-dst-1")
	d, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("crash-dst")})
	if err != nil {
		t.Fatal(err)
	}
	dst := d.DBClusters[0]
	rc := srv.connect(ctx, t, aws.ToString(dst.Endpoint), aws.ToInt32(dst.Port), "owner1", "Crash-pass1", "postgres")
	var n int
	if err := rc.QueryRow(ctx, "SELECT count(*) FROM kept").Scan(&n); err != nil || n != 100000 {
		t.Fatalf("restored table: %d rows, %v; want 100000", n, err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "clusters", "*", "restore-staging")); len(m) != 0 {
		t.Errorf("staging left behind: %v", m)
	}
}
