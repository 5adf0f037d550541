package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// TestThreeFailoversInARow: a writer and two readers fail over three times, each in
// another way: FailoverDBCluster, kill -9 of the writer's postmaster with its restart
// prevented, and the writer's data directory removed under its running server (which
// then could serve nothing new: it is not waited for). Each time no committed row is
// lost, the cluster endpoint takes writes again, and every reader, the former writer
// among them, catches up.
func TestThreeFailoversInARow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	const cluster, user, password = "thrice", "dbmaster", "S3cret-pass!"
	desc, first := createCluster(ctx, t, c, cluster, user, password, "appdb")
	cl := desc.DBClusters[0]
	port := aws.ToInt32(cl.Port)
	members := []string{first, "thrice-r0", "thrice-r1"}
	addReader(ctx, t, c, cluster, members[1], 0)
	addReader(ctx, t, c, cluster, members[2], 1)
	waitAvailable := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 3*time.Minute); err != nil {
				t.Fatalf("wait %s available: %v", id, err)
			}
		}
	}
	waitAvailable(members[1:]...)
	t.Cleanup(func() {
		for _, id := range members {
			c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
		}
		for _, id := range members {
			rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute)
		}
		c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String(cluster), SkipFinalSnapshot: aws.Bool(true)})
	})
	t.Cleanup(func() {
		if t.Failed() {
			serve, _ := os.ReadFile(srv.logPath)
			var keep []string
			for _, l := range strings.Split(string(serve), "\n") {
				if strings.Contains(l, cluster) && !strings.Contains(l, "msg=api") {
					keep = append(keep, l)
				}
			}
			t.Logf("serve, on %s:\n%s", cluster, tail([]byte(strings.Join(keep, "\n")), 80))
		}
	})
	endpoint := aws.ToString(cl.Endpoint)
	var rows []string
	write := func(v string) {
		t.Helper()
		eventually(t, 60*time.Second, "a write through the cluster endpoint", func() (bool, error) {
			conn, err := srv.tryConnect(ctx, endpoint, port, user, password, "appdb")
			if err != nil {
				return false, err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "INSERT INTO t VALUES ($1)", v)
			return err == nil, err
		})
		rows = append(rows, v)
		slices.Sort(rows)
	}
	// everyone checks that the writer and every reader have every committed row.
	everyone := func(step string) {
		t.Helper()
		writer, _ := clusterWriter(ctx, t, c, cluster)
		waitAvailable(members...)
		want := strings.Join(rows, ",")
		for _, id := range members {
			in := describeInstance(ctx, t, c, id)
			conn := srv.connect(ctx, t, aws.ToString(in.Endpoint.Address), aws.ToInt32(in.Endpoint.Port), user, password, "appdb")
			if name, reader := whoAnswers(ctx, t, conn); name != id || reader != (id != writer) {
				t.Fatalf("%s: %s's endpoint reached %s (reader %v); the writer is %s", step, id, name, reader, writer)
			}
			if !waitRows(ctx, t, conn, want) {
				t.Fatalf("%s: %s has %v, want %s", step, id, queryRows(ctx, t, conn, "SELECT v FROM t ORDER BY v"), want)
			}
			conn.Close(ctx)
		}
	}
	failedOver := func(step, from string) string {
		t.Helper()
		var w string
		eventually(t, 2*time.Minute, step, func() (bool, error) {
			var st string
			w, st = clusterWriter(ctx, t, c, cluster)
			return w != from && w != "" && st == "available", nil
		})
		return w
	}
	dataDir := func(id string) string {
		in := describeInstance(ctx, t, c, id)
		if id == first && aws.ToString(in.DbiResourceId) != "" {
			// The first writer runs on the cluster volume itself.
			if _, err := os.Stat(filepath.Join(srv.DataDir, "clusters", aws.ToString(cl.DbClusterResourceId), "data", "PG_VERSION")); err == nil {
				return filepath.Join(srv.DataDir, "clusters", aws.ToString(cl.DbClusterResourceId), "data")
			}
		}
		return filepath.Join(srv.DataDir, "clusters", aws.ToString(cl.DbClusterResourceId), "data-"+aws.ToString(in.DbiResourceId))
	}
	postmaster := func(dir string) int {
		b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
		return pid
	}

	w0 := srv.connect(ctx, t, endpoint, port, user, password, "appdb")
	if _, err := w0.Exec(ctx, "CREATE TABLE t (v text)"); err != nil {
		t.Fatal(err)
	}
	w0.Close(ctx)
	write("0-start")

	// 1. By API: a fast shutdown sends the readers everything, so the row written just
	// before is not waited for.
	write("1-before-api")
	if _, err := c.FailoverDBCluster(ctx, &rds.FailoverDBClusterInput{DBClusterIdentifier: aws.String(cluster)}); err != nil {
		t.Fatalf("FailoverDBCluster: %v", err)
	}
	w := failedOver("failover by API", first)
	write("1-after-api")
	everyone("after the API failover")

	// 2. kill -9 of the writer's postmaster, its restart prevented. Asynchronous
	// replication: a row is committed for sure once the readers have it (see
	// docs/readers.md), so everyone has every row before the kill.
	write("2-before-kill")
	everyone("before the kill")
	dir := dataDir(w)
	pid := postmaster(dir)
	if err := os.Remove(filepath.Join(dir, "PG_VERSION")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w = failedOver("automatic failover after kill -9", w)
	write("2-after-kill")
	everyone("after the kill")

	// 3. The writer's data directory removed while its server runs: nothing kills it,
	// nothing restarts it; the reconciler stops it and a reader takes over.
	write("3-before-rm")
	everyone("before the removal")
	dir = dataDir(w)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	gone := w
	w = failedOver("automatic failover after the data directory went", gone)
	write("3-after-rm")
	everyone("after the removal")
	if st, reason := describeInstanceStatus(ctx, t, c, gone); st != "available" {
		t.Errorf("the writer whose data went: %s (%s), want available again as a reader", st, reason)
	}
}

func describeInstanceStatus(ctx context.Context, t *testing.T, c *rds.Client, id string) (string, string) {
	t.Helper()
	in := describeInstance(ctx, t, c, id)
	reason := ""
	for _, s := range in.StatusInfos {
		reason += aws.ToString(s.Message)
	}
	return aws.ToString(in.DBInstanceStatus), reason
}
