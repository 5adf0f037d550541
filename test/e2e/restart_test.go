package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
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
	return len(postmasterPIDsUnder(t, dir))
}

// postmasterPIDsUnder lists the running postmasters whose data directory is below dir.
func postmasterPIDsUnder(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
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
				if pid, err := strconv.Atoi(e.Name()); err == nil && !zombie(pid) {
					pids = append(pids, pid)
				}
			}
		}
	}
	// A backend forked a moment ago still shows its postmaster's command line; a postmaster
	// leads a session of its own (it runs detached from serve), which no backend does.
	pids = slices.DeleteFunc(pids, func(pid int) bool { return slices.Contains(pids, ppid(pid)) || session(pid) != pid })
	slices.Sort(pids)
	return pids
}

func procStatFields(pid int) []string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

func zombie(pid int) bool {
	f := procStatFields(pid)
	return len(f) < 2 || f[0] == "Z" || f[0] == "X"
}

// session is pid's session id (0 once it is gone).
func session(pid int) int {
	f := procStatFields(pid)
	if len(f) < 4 {
		return 0
	}
	n, _ := strconv.Atoi(f[3])
	return n
}

func ppid(pid int) int {
	f := procStatFields(pid)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// TestKill9OfServeKeepsServersAndLosesNothing: the data plane outlives serve. kill -9 of
// serve leaves the cluster's server running (and, where the kernel hands connections to
// it, an open session going); the next serve adopts the same postmaster.
func TestKill9OfServeKeepsServersAndLosesNothing(t *testing.T) {
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
	pids := postmasterPIDsUnder(t, dir)
	if len(pids) != 1 {
		t.Fatalf("postmasters before the kill: %v", pids)
	}

	srv.kill()
	time.Sleep(time.Second)
	if got := postmasterPIDsUnder(t, dir); !slices.Equal(got, pids) {
		t.Fatalf("postmasters after serve was killed: %v, want %v still running", got, pids)
	}
	want := 1000
	if srv.steering() {
		// The session is the server's own socket: serve's death does not touch it.
		if _, err := conn.Exec(ctx, `INSERT INTO ledger VALUES (1001)`); err != nil {
			t.Errorf("the open session ended with serve: %v", err)
		}
		want++
	} else {
		t.Log("the gateway relays here: open sessions end with serve (kernel steering keeps them)")
	}
	conn.Close(ctx)

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
	if conn2 != want {
		t.Fatalf("ledger has %d rows after the restart, want %d", conn2, want)
	}
	if got := postmasterPIDsUnder(t, dir); !slices.Equal(got, pids) {
		t.Fatalf("postmasters after the restart: %v, want the same %v adopted", got, pids)
	}
	deleteCluster(ctx, t, c, "durable", instanceID)
	if n := postmastersUnder(t, dir); n != 0 {
		t.Errorf("%d postmasters outlived the cluster's deletion", n)
	}
}

// TestStopOfServeStopsServersUnlessAskedToKeepThem: SIGTERM stops the servers, unless serve
// was started with --keep-servers-on-exit; then the next serve adopts them.
func TestStopOfServeStopsServersUnlessAskedToKeepThem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-keep-")
	addr := freeAddr(t)
	srv, err := startServer(dir, addr, "--keep-servers-on-exit")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	_, instanceID := createCluster(ctx, t, srv.rds(t), "kept", "owner1", "Kept-pass-123", "")
	pids := postmasterPIDsUnder(t, dir)
	if len(pids) != 1 {
		t.Fatalf("postmasters: %v", pids)
	}
	srv.stop()
	if got := postmasterPIDsUnder(t, dir); !slices.Equal(got, pids) {
		t.Fatalf("after SIGTERM with --keep-servers-on-exit: postmasters %v, want %v", got, pids)
	}

	srv, err = startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := rds.NewDBInstanceAvailableWaiter(srv.rds(t), waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(instanceID)}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the restarted serve to adopt the server", func() (bool, error) {
		b, err := os.ReadFile(srv.logPath)
		return strings.Contains(string(b), "postgres adopted"), err
	})
	if got := postmasterPIDsUnder(t, dir); !slices.Equal(got, pids) {
		t.Fatalf("after the restart: postmasters %v, want %v adopted\n%s", got, pids, srv.logTail())
	}
	srv.stop()
	if n := postmastersUnder(t, dir); n != 0 {
		t.Fatalf("%d postmasters outlived SIGTERM of serve", n)
	}
}

// TestTwoServesOnOneHostNeverShareAPort: two serves creating clusters at once, each taking
// the first free port, never pick the same one; a port one holds is refused to the other
// with the reason.
func TestTwoServesOnOneHostNeverShareAPort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var srvs []*server
	for i := 0; i < 2; i++ {
		s, err := startServer(testDataDir(t, "borealis-ports-"), freeAddr(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.stop)
		if err := s.openDefaultGroup(ctx, t); err != nil {
			t.Fatal(err)
		}
		srvs = append(srvs, s)
	}
	const each = 3
	type result struct {
		serve int
		port  int32
		err   error
	}
	results := make(chan result, 2*each)
	for i, s := range srvs {
		c := s.rds(t)
		for j := 0; j < each; j++ {
			go func() {
				out, err := c.CreateDBCluster(ctx, &rds.CreateDBClusterInput{
					DBClusterIdentifier: aws.String(fmt.Sprintf("race-%d", j)),
					Engine:              aws.String("aurora-postgresql"),
					MasterUsername:      aws.String("owner1"),
					MasterUserPassword:  aws.String("Race-pass-123"),
				})
				r := result{serve: i, err: err}
				if err == nil {
					r.port = aws.ToInt32(out.DBCluster.Port)
				}
				results <- r
			}()
		}
	}
	owner := map[int32]int{}
	for k := 0; k < 2*each; k++ {
		r := <-results
		if r.err != nil {
			t.Fatalf("serve %d: CreateDBCluster: %v", r.serve, r.err)
		}
		if o, dup := owner[r.port]; dup {
			t.Errorf("port %d went to serve %d and serve %d", r.port, o, r.serve)
		}
		owner[r.port] = r.serve
	}
	for port, o := range owner {
		_, err := srvs[1-o].rds(t).CreateDBCluster(ctx, &rds.CreateDBClusterInput{
			DBClusterIdentifier: aws.String("thief"),
			Engine:              aws.String("aurora-postgresql"),
			MasterUsername:      aws.String("owner1"),
			MasterUserPassword:  aws.String("Race-pass-123"),
			Port:                aws.Int32(port),
		})
		if code, status := apiError(t, err); code != "InvalidParameterValue" || status != 400 || !strings.Contains(err.Error(), "another Borealis on this host") || strings.Contains(err.Error(), srvs[o].DataDir) {
			t.Errorf("another serve's port %d: %s %d %v", port, code, status, err)
		}
		break
	}
	for _, s := range srvs {
		c := s.rds(t)
		for j := 0; j < each; j++ {
			if _, err := c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String(fmt.Sprintf("race-%d", j)), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
				t.Errorf("DeleteDBCluster: %v", err)
			}
		}
	}
	// A deleted cluster's port is free again, for the other serve too.
	for port, o := range owner {
		c := srvs[1-o].rds(t)
		eventually(t, time.Minute, "the deleted cluster's port to be free", func() (bool, error) {
			_, err := c.CreateDBCluster(ctx, &rds.CreateDBClusterInput{
				DBClusterIdentifier: aws.String("heir"),
				Engine:              aws.String("aurora-postgresql"),
				MasterUsername:      aws.String("owner1"),
				MasterUserPassword:  aws.String("Race-pass-123"),
				Port:                aws.Int32(port),
			})
			return err == nil, err
		})
		if _, err := c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("heir"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
			t.Errorf("DeleteDBCluster: %v", err)
		}
		break
	}
}
