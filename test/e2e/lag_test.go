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
)

// startupProcess is the pid of the recovery (replay) process of the server whose
// cluster_name is instance: "postgres: INSTANCE: startup ...".
func startupProcess(t *testing.T, instance string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.HasPrefix(string(b), "postgres: "+instance+": startup") {
			pid, _ := strconv.Atoi(e.Name())
			return pid
		}
	}
	t.Fatalf("no startup process of %s", instance)
	return 0
}

// replication is the reader's "read replication" StatusInfos entry: its status and Normal.
func replication(ctx context.Context, t *testing.T, c *rds.Client, id string) (string, bool, string) {
	t.Helper()
	in := describeInstance(ctx, t, c, id)
	for _, s := range in.StatusInfos {
		if aws.ToString(s.StatusType) == "read replication" {
			return aws.ToString(s.Status), aws.ToBool(s.Normal), aws.ToString(s.Message)
		}
	}
	return "", false, ""
}

// TestALaggingReaderLeavesTheReaderEndpoint: a reader that streams but does not replay
// (its recovery process stopped, as pg_wal_replay_pause would) falls behind the writer;
// past the limit it is reported as RDS reports a read replica in error and the reader
// endpoint stops sending connections to it, and once it catches up it is back in both.
func TestALaggingReaderLeavesTheReaderEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	const user, password = "lagmaster", "Lag-pass-123"
	desc, writerID := createCluster(ctx, t, c, "lagging", user, password, "appdb")
	cl := desc.DBClusters[0]
	port := aws.ToInt32(cl.Port)
	const readerID = "lagging-r1"
	addReader(ctx, t, c, "lagging", readerID, 1)
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(readerID)}, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range []string{readerID, writerID} {
			c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
		}
		for _, id := range []string{readerID, writerID} {
			rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute)
		}
		c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("lagging"), SkipFinalSnapshot: aws.Bool(true)})
	})
	ro := aws.ToString(cl.ReaderEndpoint)
	reaches := func() string {
		conn := srv.connect(ctx, t, ro, port, user, password, "appdb")
		defer conn.Close(ctx)
		name, _ := whoAnswers(ctx, t, conn)
		return name
	}
	eventually(t, 30*time.Second, "the reader reported replicating", func() (bool, error) {
		st, normal, _ := replication(ctx, t, c, readerID)
		return st == "replicating" && normal, nil
	})
	if got := reaches(); got != readerID {
		t.Fatalf("the reader endpoint reached %s, want the reader", got)
	}

	startup := startupProcess(t, readerID)
	if err := syscall.Kill(startup, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(startup, syscall.SIGCONT)
		}
	}()
	w := srv.connect(ctx, t, aws.ToString(cl.Endpoint), port, user, password, "appdb")
	// About 100 MB of WAL, past the 64 MB a reader may trail by.
	if _, err := w.Exec(ctx, "CREATE TABLE big AS SELECT g, repeat('x', 1000) AS v FROM generate_series(1, 90000) g"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the trailing reader reported in error", func() (bool, error) {
		st, normal, _ := replication(ctx, t, c, readerID)
		return st == "error" && !normal, nil
	})
	if _, _, msg := replication(ctx, t, c, readerID); !strings.Contains(msg, "out of the reader endpoint") {
		t.Errorf("message %q", msg)
	}
	if st := aws.ToString(describeInstance(ctx, t, c, readerID).DBInstanceStatus); st != "available" {
		t.Errorf("the trailing reader's status %q, want available (its instance endpoint still serves)", st)
	}
	for range 5 {
		if got := reaches(); got != writerID {
			t.Fatalf("with its only reader trailing, the reader endpoint reached %s; want the writer", got)
		}
	}

	if err := syscall.Kill(startup, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	eventually(t, 60*time.Second, "the reader caught up and replicating", func() (bool, error) {
		st, normal, _ := replication(ctx, t, c, readerID)
		return st == "replicating" && normal, nil
	})
	if got := reaches(); got != readerID {
		t.Fatalf("the caught-up reader: the reader endpoint reached %s", got)
	}
}
