package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// storageTestLimit is the default storage limit of the test's serve: a few tens of MiB
// above an empty cluster's size (about 30 MiB without its write-ahead log).
const storageTestLimit = 64 << 20

// fillUntilRefused inserts uncompressible rows into table until the cluster refuses
// writes, and returns the refusal; it fails the test if a bounded number of inserts
// (well past the limit) all went through.
func fillUntilRefused(ctx context.Context, t *testing.T, conn *pgx.Conn, table string) *pgconn.PgError {
	t.Helper()
	// ~3.5 MB a statement: 10000 rows of 320 random hex characters (under the TOAST
	// threshold, so not compressed).
	insert := "INSERT INTO " + table + " SELECT md5(random()::text)||md5(random()::text)||md5(random()::text)||md5(random()::text)||md5(random()::text)||" +
		"md5(random()::text)||md5(random()::text)||md5(random()::text)||md5(random()::text)||md5(random()::text) FROM generate_series(1, 10000)"
	for i := 0; i < 200; i++ {
		_, err := conn.Exec(ctx, insert)
		if err == nil {
			continue
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			t.Fatalf("insert %d: %v", i, err)
		}
		if pe.Code == "57014" {
			continue // canceled as the cluster turned read-only: the next one is refused
		}
		return pe
	}
	t.Fatalf("700 MB inserted into a cluster limited to %d MiB, and no insert was refused", storageTestLimit>>20)
	return nil
}

func wantStorageFullRefusal(t *testing.T, pe *pgconn.PgError) {
	t.Helper()
	if pe.Code != "25006" || !strings.Contains(pe.Message, "storage-full") {
		t.Fatalf("refusal: %s %q, want 25006 saying storage-full", pe.Code, pe.Message)
	}
}

func instanceStatus(ctx context.Context, t *testing.T, c *rds.Client, id string) (status, info string) {
	t.Helper()
	out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	in := out.DBInstances[0]
	for _, si := range in.StatusInfos {
		info += aws.ToString(si.Message)
	}
	return aws.ToString(in.DBInstanceStatus), info
}

func clusterStatus(ctx context.Context, t *testing.T, c *rds.Client, id string) (string, int32) {
	t.Helper()
	out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.DBClusters[0].Status), aws.ToInt32(out.DBClusters[0].AllocatedStorage)
}

// TestClusterAtItsStorageLimitIsReadOnly: a cluster filled by INSERTs up to its storage
// limit becomes storage-full (with the reason) and read-only for its master user, while
// another cluster and the API keep working; it is read-write and available again once
// the data is dropped, and, filled again, once ModifyDBCluster raises its limit.
func TestClusterAtItsStorageLimitIsReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-storage-")
	srv, err := startServer(dir, freeAddr(t), "--default-storage-limit", strconv.Itoa(storageTestLimit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	c := srv.rds(t)
	ports := func(in *rds.CreateDBClusterInput) { // its own port, away from other serves'
		_, p, _ := net.SplitHostPort(freeAddr(t))
		n, _ := strconv.Atoi(p)
		in.Port = aws.Int32(int32(n))
	}
	small, smallWriter := createCluster(ctx, t, c, "small", "owner1", "Small-pass1", "", ports)
	roomy, roomyWriter := createCluster(ctx, t, c, "roomy", "owner2", "Roomy-pass1", "", ports, func(in *rds.CreateDBClusterInput) {
		in.AllocatedStorage = aws.Int32(1) // GiB
	})
	defer deleteCluster(ctx, t, c, "small", smallWriter)
	defer deleteCluster(ctx, t, c, "roomy", roomyWriter)
	if _, gib := clusterStatus(ctx, t, c, "small"); gib != 1 {
		t.Errorf("small's AllocatedStorage is %d, want its default limit rounded up to 1 GiB", gib)
	}

	sc := small.DBClusters[0]
	conn := srv.connect(ctx, t, aws.ToString(sc.Endpoint), aws.ToInt32(sc.Port), "owner1", "Small-pass1", "postgres")
	if _, err := conn.Exec(ctx, "CREATE TABLE fill (b text)"); err != nil {
		t.Fatal(err)
	}
	rc := roomy.DBClusters[0]
	other := srv.connect(ctx, t, aws.ToString(rc.Endpoint), aws.ToInt32(rc.Port), "owner2", "Roomy-pass1", "postgres")
	if _, err := other.Exec(ctx, "CREATE TABLE t (n int)"); err != nil {
		t.Fatal(err)
	}

	full := func(what string, oneStatement bool) {
		t.Helper()
		if oneStatement {
			// ~1 GB in one INSERT: sessions re-read the switch between statements only, so
			// serve cancels this one when it turns the cluster read-only.
			_, err := conn.Exec(ctx, "INSERT INTO fill SELECT repeat(md5(random()::text)||md5(random()::text), 5) FROM generate_series(1, 3000000)")
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "57014" {
				t.Fatalf("one INSERT of 1 GB into a cluster limited to %d MiB: %v, want it canceled (57014)", storageTestLimit>>20, err)
			}
			_, err = conn.Exec(ctx, "INSERT INTO fill VALUES ('next')")
			if !errors.As(err, &pe) {
				t.Fatalf("the statement after the canceled one: %v", err)
			}
			wantStorageFullRefusal(t, pe)
		} else {
			wantStorageFullRefusal(t, fillUntilRefused(ctx, t, conn, "fill"))
		}
		eventually(t, time.Minute, what+": storage-full", func() (bool, error) {
			st, info := instanceStatus(ctx, t, c, smallWriter)
			cst, _ := clusterStatus(ctx, t, c, "small")
			return st == "storage-full" && cst == "storage-full" && strings.Contains(info, "storage limit"), nil
		})
		// A new session is held too, however it asks.
		s2 := srv.connect(ctx, t, aws.ToString(sc.Endpoint), aws.ToInt32(sc.Port), "owner1", "Small-pass1", "postgres")
		for _, q := range []string{"SET default_transaction_read_only = off; INSERT INTO fill VALUES ('x')", "BEGIN READ WRITE; INSERT INTO fill VALUES ('x'); COMMIT"} {
			var pe *pgconn.PgError
			if _, err := s2.Exec(ctx, q); !errors.As(err, &pe) {
				t.Fatalf("%s on a storage-full cluster: %v", q, err)
			}
			wantStorageFullRefusal(t, pe)
			s2.Exec(ctx, "ROLLBACK")
		}
		// The other cluster and the API keep working.
		if _, err := other.Exec(ctx, "INSERT INTO t SELECT generate_series(1, 1000)"); err != nil {
			t.Fatalf("the other cluster, while %s is full: %v", "small", err)
		}
		if st, _ := instanceStatus(ctx, t, c, roomyWriter); st != "available" {
			t.Fatalf("the other cluster's writer is %s", st)
		}
	}
	writable := func(what, stmt string) {
		t.Helper()
		eventually(t, time.Minute, what+": available and writable", func() (bool, error) {
			st, _ := instanceStatus(ctx, t, c, smallWriter)
			cst, _ := clusterStatus(ctx, t, c, "small")
			if st != "available" || cst != "available" {
				return false, nil
			}
			_, err := conn.Exec(ctx, stmt)
			return err == nil, err
		})
	}

	full("first fill", false)
	// Drop the data: the cluster recovers on its own.
	if _, err := conn.Exec(ctx, "DROP TABLE fill"); err != nil {
		t.Fatalf("DROP TABLE on a storage-full cluster: %v", err)
	}
	writable("after DROP TABLE", "CREATE TABLE fill (b text)")

	full("second fill, in one statement", true)
	// Raise the limit: the cluster recovers with its data.
	if _, err := c.ModifyDBCluster(ctx, &rds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("small"), AllocatedStorage: aws.Int32(1), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("ModifyDBCluster AllocatedStorage on a storage-full cluster: %v", err)
	}
	writable("after ModifyDBCluster AllocatedStorage=1", "INSERT INTO fill VALUES ('after')")
	if _, gib := clusterStatus(ctx, t, c, "small"); gib != 1 {
		t.Errorf("AllocatedStorage after ModifyDBCluster: %d, want 1", gib)
	}
	res, err := http.Get("http://" + srv.APIAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`borealis_cluster_storage_limit_bytes{cluster="small"} 1.073741824e+09`, `borealis_cluster_storage_limit_bytes{cluster="roomy"} 1.073741824e+09`,
		`borealis_cluster_storage_used_bytes{cluster="small"} `, "borealis_data_volume_free_bytes ", "borealis_data_volume_size_bytes "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestServeRestartsOnAFullVolume: serve's data directory on a volume that fills up (a
// tmpfs, filled by another program) while serve is down: serve starts again (it rewrites
// nothing that is unchanged), adopts the server it left running, which keeps serving
// reads, and a management call whose change cannot be stored is refused saying why, with
// nothing changed.
func TestServeRestartsOnAFullVolume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vol := testDataDir(t, "borealis-fullvol-")
	if err := syscall.Mount("tmpfs", vol, "tmpfs", 0, "size=512m,mode=0755"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(vol, syscall.MNT_DETACH) })
	dir := filepath.Join(vol, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	// No reserve: the test volume is smaller than the default one.
	srv, err := startServer(dir, addr, "--keep-servers-on-exit", "--state-reserve", "-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	c := srv.rds(t)
	desc, writer := createCluster(ctx, t, c, "fullvol", "owner1", "Fullvol-pass1", "", func(in *rds.CreateDBClusterInput) {
		_, p, _ := net.SplitHostPort(freeAddr(t))
		n, _ := strconv.Atoi(p)
		in.Port = aws.Int32(int32(n))
	})
	cl := desc.DBClusters[0]
	conn := srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "owner1", "Fullvol-pass1", "postgres")
	if _, err := conn.Exec(ctx, "CREATE TABLE kept AS SELECT generate_series(1, 100) AS n"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	srv.stop()

	// Another program fills the volume.
	filler := filepath.Join(vol, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for _, n := range []int{len(buf), 4096, 512, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	f.Close()
	t.Cleanup(func() { os.Remove(filler) })

	srv, err = startServer(dir, addr, "--state-reserve", "-1")
	if err != nil {
		t.Fatalf("serve does not start on a full volume: %v", err)
	}
	t.Cleanup(srv.stop)
	c = srv.rds(t)
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(writer)}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	// The adopted server serves through the endpoint once this serve has claimed it (its
	// first pass on a full volume may need a retry).
	eventually(t, time.Minute, "the endpoint to serve the adopted server", func() (bool, error) {
		cn, err := srv.tryConnect(ctx, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "owner1", "Fullvol-pass1", "postgres")
		if err != nil {
			return false, err
		}
		conn = cn
		return true, nil
	})
	t.Cleanup(func() { conn.Close(context.Background()) })
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM kept").Scan(&n); err != nil || n != 100 {
		t.Fatalf("reading through the endpoint after the restart: %d, %v", n, err)
	}
	_, err = c.CreateDBClusterParameterGroup(ctx, &rds.CreateDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("fullvol-group"),
		DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("cannot be stored")})
	if code, status := apiError(t, err); code != "InternalFailure" || status != 500 || !strings.Contains(err.Error(), "volume holding its state is full") {
		t.Fatalf("CreateDBClusterParameterGroup on a full volume: %s %d %v", code, status, err)
	}
	if _, err := c.DescribeDBClusterParameterGroups(ctx, &rds.DescribeDBClusterParameterGroupsInput{DBClusterParameterGroupName: aws.String("fullvol-group")}); err == nil {
		t.Fatal("the group that could not be stored exists")
	}

	// Room again: the cluster is deleted as usual (its server with it).
	os.Remove(filler)
	deleteCluster(ctx, t, c, "fullvol", writer)
}
