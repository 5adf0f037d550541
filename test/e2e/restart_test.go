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

// postmastersUnder counts running postgres postmasters whose data directory is below dir.
func postmastersUnder(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "postgres" {
			continue
		}
		for i, a := range args {
			if a == "-D" && i+1 < len(args) && strings.HasPrefix(args[i+1], dir) {
				n++
			}
		}
	}
	return n
}

func TestKill9OfServeLosesNothingAndLeavesNoOrphan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-restart-")
	addr := freeAddr(t)
	srv, err := startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	c := srv.rds(t)
	keyBefore, _ := srv.rootKey(t)
	bundleBefore, _ := os.ReadFile(srv.bundlePath())

	// Its own port: this server and the shared one would otherwise both pick the first free
	// port from 5432 at the same moment.
	_, freePort, _ := net.SplitHostPort(freeAddr(t))
	pin, _ := strconv.Atoi(freePort)
	desc, instanceID := createCluster(ctx, t, c, "durable", "owner1", "Durable-pass1", "", func(in *rds.CreateDBClusterInput) {
		in.Port = aws.Int32(int32(pin))
	})
	cl := desc.DBClusters[0]
	endpoint, port := aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port)
	conn := srv.connect(ctx, t, endpoint, port, "owner1", "Durable-pass1", "postgres")
	if _, err := conn.Exec(ctx, `CREATE TABLE ledger (n int); INSERT INTO ledger SELECT generate_series(1, 1000)`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	srv.kill()
	// The postmaster notices its parent died and shuts down: nothing is left running.
	eventually(t, 60*time.Second, "postmaster to exit after serve was killed", func() (bool, error) {
		return postmastersUnder(t, dir) == 0, nil
	})

	srv, err = startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	if keyAfter, _ := srv.rootKey(t); keyAfter != keyBefore {
		t.Error("the root access key changed across the restart")
	}
	if bundleAfter, _ := os.ReadFile(srv.bundlePath()); string(bundleAfter) != string(bundleBefore) {
		t.Error("the CA changed across the restart")
	}
	c = srv.rds(t)
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(instanceID)}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	var conn2 = func() int {
		var n int
		eventually(t, 60*time.Second, "the cluster to accept connections again", func() (bool, error) {
			cn, err := srv.tryConnect(ctx, endpoint, port, "owner1", "Durable-pass1", "postgres")
			if err != nil {
				return false, err
			}
			defer cn.Close(ctx)
			return cn.QueryRow(ctx, `SELECT count(*) FROM ledger`).Scan(&n) == nil, nil
		})
		return n
	}()
	if conn2 != 1000 {
		t.Fatalf("ledger has %d rows after the restart, want 1000", conn2)
	}
	if n := postmastersUnder(t, dir); n != 1 {
		t.Fatalf("%d postmasters run for the cluster, want exactly 1", n)
	}
	deleteCluster(ctx, t, c, "durable", instanceID)
}
