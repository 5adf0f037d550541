package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"
)

// clusterWriter is the instance DescribeDBClusters names the writer, and the cluster status.
func clusterWriter(ctx context.Context, t *testing.T, c *rds.Client, id string) (string, string) {
	t.Helper()
	out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	writer := ""
	for _, m := range out.DBClusters[0].DBClusterMembers {
		if aws.ToBool(m.IsClusterWriter) {
			if writer != "" {
				t.Fatalf("two writers: %s and %s", writer, aws.ToString(m.DBInstanceIdentifier))
			}
			writer = aws.ToString(m.DBInstanceIdentifier)
		}
	}
	return writer, aws.ToString(out.DBClusters[0].Status)
}

// TestFailover: FailoverDBCluster to a named reader moves the cluster endpoint to it and
// makes the old writer a reader of it; then kill -9 of the new writer's postmaster, with
// its restart prevented, promotes a reader without a call. No committed row is lost, the
// cluster endpoint takes writes again, and the killed writer comes back as a reader.
func TestFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	const user, password = "dbmaster", "S3cret-pass!"
	desc, first := createCluster(ctx, t, c, "Failover-1", user, password, "appdb")
	cl := desc.DBClusters[0]
	port := aws.ToInt32(cl.Port)
	r0, r1 := "failover-1-r0", "failover-1-r1"
	addReader(ctx, t, c, "Failover-1", r0, 0)
	addReader(ctx, t, c, "Failover-1", r1, 1)
	waitAvailable := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 3*time.Minute); err != nil {
				t.Fatalf("wait %s available: %v", id, err)
			}
		}
	}
	waitAvailable(r0, r1)
	// A reboot with a failover is the writer's only.
	_, err := c.RebootDBInstance(ctx, &rds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String(r0), ForceFailover: aws.Bool(true)})
	if code, status := apiError(t, err); code != "InvalidParameterCombination" || status != 400 {
		t.Errorf("RebootDBInstance ForceFailover on a reader: %s %d", code, status)
	}
	t.Cleanup(func() {
		for _, id := range []string{r0, r1, first} {
			c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
		}
		for _, id := range []string{r0, r1, first} {
			rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute)
		}
		c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("Failover-1"), SkipFinalSnapshot: aws.Bool(true)})
	})
	t.Cleanup(func() {
		if t.Failed() {
			serve, _ := os.ReadFile(srv.logPath)
			var keep []string
			for _, l := range strings.Split(string(serve), "\n") {
				if strings.Contains(l, "failover-1") && !strings.Contains(l, "msg=api") {
					keep = append(keep, l)
				}
			}
			t.Logf("serve, on failover-1:\n%s", tail([]byte(strings.Join(keep, "\n")), 60))
		}
	})
	endpoint := aws.ToString(cl.Endpoint)
	old := srv.connect(ctx, t, endpoint, port, user, password, "appdb")
	if _, err := old.Exec(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('before')"); err != nil {
		t.Fatal(err)
	}

	// By API, to the reader of the higher tier: the target wins.
	out, err := c.FailoverDBCluster(ctx, &rds.FailoverDBClusterInput{DBClusterIdentifier: aws.String("Failover-1"), TargetDBInstanceIdentifier: aws.String(r1)})
	if err != nil {
		t.Fatalf("FailoverDBCluster: %v", err)
	}
	if got := aws.ToString(out.DBCluster.Status); got != "failing-over" {
		t.Errorf("status after FailoverDBCluster: %q", got)
	}
	eventually(t, 2*time.Minute, "failover to "+r1, func() (bool, error) {
		w, st := clusterWriter(ctx, t, c, "Failover-1")
		return w == r1 && st == "available", nil
	})
	if _, err := old.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("a session on the old writer outlived the failover")
	}
	waitEvent(ctx, t, c, rdstypes.SourceTypeDbCluster, "failover-1", "Started same AZ failover to DB instance: "+r1)
	waitEvent(ctx, t, c, rdstypes.SourceTypeDbCluster, "failover-1", "Completed failover to DB instance: "+r1)
	conn := srv.connect(ctx, t, endpoint, port, user, password, "appdb")
	if name, reader := whoAnswers(ctx, t, conn); name != r1 || reader {
		t.Fatalf("the cluster endpoint reached %s (reader %v), want %s", name, reader, r1)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO t VALUES ('after-api')"); err != nil {
		t.Fatalf("write after the failover: %v", err)
	}
	waitAvailable(first, r0)
	for _, id := range []string{first, r0} {
		in := describeInstance(ctx, t, c, id)
		rc := srv.connect(ctx, t, aws.ToString(in.Endpoint.Address), aws.ToInt32(in.Endpoint.Port), user, password, "appdb")
		if name, reader := whoAnswers(ctx, t, rc); name != id || !reader {
			t.Errorf("%s: reached %s (reader %v), want it a reader", id, name, reader)
		}
		if !waitRows(ctx, t, rc, "after-api,before") {
			dbi := aws.ToString(in.DbiResourceId)
			vol := filepath.Join(srv.DataDir, "clusters", aws.ToString(cl.DbClusterResourceId))
			logs, _ := os.ReadFile(filepath.Join(vol, "data-"+dbi+".log"))
			// Then what its logging collector wrote, in the newest hours of its own log directory.
			hours, _ := filepath.Glob(filepath.Join(vol, "log-"+dbi, "postgresql.log.*"))
			for _, h := range hours[max(len(hours)-2, 0):] {
				more, _ := os.ReadFile(h)
				logs = append(logs, more...)
			}
			serve, _ := os.ReadFile(srv.logPath)
			t.Fatalf("%s never had the rows; its log:\n%s\nserve:\n%s", id, tail(logs, 40), tail(serve, 80))
		}
	}

	// Without a call: the writer's postmaster killed, its restart prevented.
	in := describeInstance(ctx, t, c, r1)
	dataDir := filepath.Join(srv.DataDir, "clusters", aws.ToString(cl.DbClusterResourceId), "data-"+aws.ToString(in.DbiResourceId))
	pidText, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pidText), "\n", 2)[0]))
	if err := os.Remove(filepath.Join(dataDir, "PG_VERSION")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "automatic failover", func() (bool, error) {
		w, st := clusterWriter(ctx, t, c, "Failover-1")
		return w != r1 && w != "" && st == "available", nil
	})
	w, _ := clusterWriter(ctx, t, c, "Failover-1")
	if w != r0 {
		t.Errorf("the automatic failover chose %s, want %s (tier 0)", w, r0)
	}
	var nc interface{ Close(context.Context) error }
	eventually(t, 30*time.Second, "a write through the cluster endpoint", func() (bool, error) {
		conn, err := srv.tryConnect(ctx, endpoint, port, user, password, "appdb")
		if err != nil {
			return false, err
		}
		nc = conn
		_, err = conn.Exec(ctx, "INSERT INTO t VALUES ('after-kill')")
		return err == nil, err
	})
	defer nc.Close(ctx)
	check := srv.connect(ctx, t, endpoint, port, user, password, "appdb")
	if rows := strings.Join(queryRows(ctx, t, check, "SELECT v FROM t ORDER BY v"), ","); rows != "after-api,after-kill,before" {
		t.Errorf("rows after the automatic failover: %s", rows)
	}
	// The killed writer comes back as a reader of the new one.
	waitAvailable(r1)
	rc := srv.connect(ctx, t, aws.ToString(in.Endpoint.Address), aws.ToInt32(in.Endpoint.Port), user, password, "appdb")
	if name, reader := whoAnswers(ctx, t, rc); name != r1 || !reader {
		t.Errorf("%s: reached %s (reader %v), want it a reader", r1, name, reader)
	}
	eventually(t, 30*time.Second, "rows on the former writer", func() (bool, error) {
		rows := strings.Join(queryRows(ctx, t, rc, "SELECT v FROM t ORDER BY v"), ",")
		return rows == "after-api,after-kill,before", nil
	})
	nc.Close(ctx)
	check.Close(ctx)
	rc.Close(ctx)

	// A reboot of the writer with ForceFailover moves the writer as FailoverDBCluster does;
	// the old writer comes back as a reader.
	if _, err := c.RebootDBInstance(ctx, &rds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String(w), ForceFailover: aws.Bool(true)}); err != nil {
		t.Fatalf("RebootDBInstance ForceFailover on the writer %s: %v", w, err)
	}
	eventually(t, 2*time.Minute, "the failover of the reboot", func() (bool, error) {
		nw, st := clusterWriter(ctx, t, c, "Failover-1")
		return nw != w && nw != "" && st == "available", nil
	})
	waitAvailable(w)
	after := srv.connect(ctx, t, endpoint, port, user, password, "appdb")
	if _, err := after.Exec(ctx, "INSERT INTO t VALUES ('after-reboot')"); err != nil {
		t.Errorf("write after the reboot with a failover: %v", err)
	}
	after.Exec(ctx, "DELETE FROM t WHERE v = 'after-reboot'")
	after.Close(ctx)

	// Every instance deleted, the cluster keeps its data: the next writer has the rows.
	for _, id := range []string{r1, first, r0} {
		if _, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		if err := rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	const next = "failover-1-next"
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(next), DBClusterIdentifier: aws.String("Failover-1"),
		DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(next), SkipFinalSnapshot: aws.Bool(true)})
		rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(next)}, 2*time.Minute)
	})
	waitAvailable(next)
	last := srv.connect(ctx, t, endpoint, port, user, password, "appdb")
	if rows := strings.Join(queryRows(ctx, t, last, "SELECT v FROM t ORDER BY v"), ","); rows != "after-api,after-kill,before" {
		t.Errorf("rows on the next writer: %s", rows)
	}
}

// waitRows polls t's rows until they are want, for 30 s.
func waitRows(ctx context.Context, t *testing.T, conn *pgx.Conn, want string) bool {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if strings.Join(queryRows(ctx, t, conn, "SELECT v FROM t ORDER BY v"), ",") == want {
			return true
		}
	}
	return false
}

func tail(b []byte, n int) string {
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
