package e2e

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// With the repositories in an S3 bucket (an S3-compatible server in the test process),
// serve archives every cluster's WAL through its relay, the writer a failover promoted
// included, backs up, and restores to the latest restorable time across the failover;
// no cluster's pgBackRest configuration holds the bucket's secret key.
func TestS3RepositoryThroughServeKeepsTheKeysFromTheClusters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const secret = "e2e-S3-secret-Key-0123456789abcdef"
	mem := s3mem.New()
	if err := mem.CreateBucket("borealis-e2e"); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewTLSServer(gofakes3.New(mem, gofakes3.WithTimeSkewLimit(0)).Server())
	defer s3srv.Close()
	dir := testDataDir(t, "borealis-s3keys-")
	cfg := filepath.Join(dir, "s3.conf")
	if err := os.WriteFile(cfg, []byte("endpoint = "+strings.TrimPrefix(s3srv.URL, "https://")+"\nbucket = borealis-e2e\nregion = us-east-1\n"+
		"access_key_id = AKIAE2E\nsecret_access_key = "+secret+"\nuri_style = path\nverify_tls = n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := startServer(dir, freeAddr(t), "--backup-s3-config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's log ends:\n%s", srv.logTail())
		}
	})
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	c := srv.rds(t)
	desc, _ := createCluster(ctx, t, c, "s3k-fo", "master1", "Master-pass1", "app")
	cl := desc.DBClusters[0]
	addReader(ctx, t, c, "s3k-fo", "s3k-fo-r1", 0)
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("s3k-fo-r1")}, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	restorableBy(ctx, t, c, "s3k-fo", time.Time{})
	conn := srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "master1", "Master-pass1", "app")
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if _, err := c.FailoverDBCluster(ctx, &rds.FailoverDBClusterInput{DBClusterIdentifier: aws.String("s3k-fo"), TargetDBInstanceIdentifier: aws.String("s3k-fo-r1")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "failover to s3k-fo-r1", func() (bool, error) {
		w, st := clusterWriter(ctx, t, c, "s3k-fo")
		return w == "s3k-fo-r1" && st == "available", nil
	})
	conn = srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "master1", "Master-pass1", "app")
	if _, err := conn.Exec(ctx, "INSERT INTO t VALUES ('after')"); err != nil {
		t.Fatal(err)
	}
	var after time.Time
	if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&after); err != nil {
		t.Fatal(err)
	}
	// Only the relay can tell when the promoted writer's WAL reached the bucket.
	restorableBy(ctx, t, c, "s3k-fo", after)
	if _, err := c.RestoreDBClusterToPointInTime(ctx, &rds.RestoreDBClusterToPointInTimeInput{DBClusterIdentifier: aws.String("s3k-fo-restored"),
		SourceDBClusterIdentifier: aws.String("s3k-fo"), UseLatestRestorableTime: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	addWriter(ctx, t, c, "s3k-fo-restored", "s3k-fo-restored-1")
	d, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("s3k-fo-restored")})
	if err != nil {
		t.Fatal(err)
	}
	rc := srv.connect(ctx, t, aws.ToString(d.DBClusters[0].Endpoint), aws.ToInt32(d.DBClusters[0].Port), "master1", "Master-pass1", "app")
	if got := queryRows(ctx, t, rc, "SELECT v FROM t ORDER BY v DESC"); strings.Join(got, ",") != "before,after" {
		t.Fatalf("restored rows %v, want before and after the failover", got)
	}
	// Every cluster's own pgBackRest configuration (the one file of backups its account
	// reads) is keyless.
	confs, _ := filepath.Glob(filepath.Join(dir, "clusters", "*", "pgbackrest.conf"))
	if len(confs) < 2 {
		t.Fatalf("found %d cluster configurations", len(confs))
	}
	for _, p := range confs {
		if b, err := os.ReadFile(p); err != nil || strings.Contains(string(b), secret) || strings.Contains(string(b), "AKIAE2E") {
			t.Errorf("%s: %v, holds the bucket's keys: %v", p, err, strings.Contains(string(b), secret))
		}
	}
}
