package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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

const (
	e2eBucket   = "borealis-e2e"
	e2eS3Secret = "e2e-S3-secret-key-0123456789abcdef"
)

// s3Bucket is an S3-compatible server in the test process (gofakes3 over TLS) with one
// bucket, and the configuration file serve's --backup-s3-config reads (0600).
type s3Bucket struct {
	mem    *s3mem.Backend
	config string
}

func newS3Bucket(t *testing.T, dir string) *s3Bucket {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket(e2eBucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(gofakes3.New(mem, gofakes3.WithTimeSkewLimit(0)).Server())
	t.Cleanup(srv.Close)
	cfg := filepath.Join(dir, "s3.conf")
	body := "endpoint = " + strings.TrimPrefix(srv.URL, "https://") + "\nbucket = " + e2eBucket + "\nregion = us-east-1\n" +
		"access_key_id = AKIAE2E\nsecret_access_key = " + e2eS3Secret + "\npath = /site-e2e\nuri_style = path\nverify_tls = n\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return &s3Bucket{mem: mem, config: cfg}
}

// keys are the bucket's keys below prefix.
func (b *s3Bucket) keys(t *testing.T, prefix string) []string {
	t.Helper()
	objs, err := b.mem.ListBucket(e2eBucket, &gofakes3.Prefix{Prefix: prefix, HasPrefix: true}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs.Contents {
		keys = append(keys, o.Key)
	}
	return keys
}

// Everything a cluster's backups do, with the repositories in an S3 bucket, through serve
// and the API: a point-in-time restore holds exactly the rows of the noted time; a manual
// snapshot and a final one (interrupted by a kill -9 of serve while it is made) restore
// the data of their time; and once the clusters and snapshots are deleted, the bucket
// holds nothing of them. A narrow IAM user cannot restore a snapshot it may not read, and
// neither the bucket's secret nor a cipher pass reaches serve's log.
func TestBackupsSnapshotsAndRestoresInAnS3Bucket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-s3-")
	bucket := newS3Bucket(t, dir)
	addr := freeAddr(t)
	srv, err := startServer(dir, addr, "--backup-s3-config", bucket.config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.stop() })
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	c := srv.rds(t)

	desc, writer := createCluster(ctx, t, c, "s3src", "snapowner", "Snap-pass-1", "app")
	src := desc.DBClusters[0]
	rid := aws.ToString(src.DbClusterResourceId)
	restorableBy(ctx, t, c, "s3src", time.Time{}) // the first backup, in the bucket
	if len(bucket.keys(t, "site-e2e/"+rid+"/backup/")) == 0 {
		t.Fatal("the first backup is not in the bucket")
	}
	conn := srv.connect(ctx, t, aws.ToString(src.Endpoint), aws.ToInt32(src.Port), "snapowner", "Snap-pass-1", "app")
	exec := func(q string) {
		t.Helper()
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE notes (n int); INSERT INTO notes SELECT generate_series(1, 3)")
	var noted time.Time
	if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&noted); err != nil {
		t.Fatal(err)
	}
	exec("INSERT INTO notes SELECT generate_series(4, 6)")
	restorableBy(ctx, t, c, "s3src", noted)
	if _, err := c.RestoreDBClusterToPointInTime(ctx, &rds.RestoreDBClusterToPointInTimeInput{
		DBClusterIdentifier: aws.String("s3pitr"), SourceDBClusterIdentifier: aws.String("s3src"), RestoreToTime: aws.Time(noted),
	}); err != nil {
		t.Fatalf("RestoreDBClusterToPointInTime: %v", err)
	}
	addWriter(ctx, t, c, "s3pitr", "s3pitr-writer")
	pitr := mustCluster(ctx, t, c, "s3pitr")
	pc := srv.connect(ctx, t, aws.ToString(pitr.Endpoint), aws.ToInt32(pitr.Port), "snapowner", "Snap-pass-1", "app")
	var n, sum int
	if err := pc.QueryRow(ctx, "SELECT count(*), sum(n) FROM notes").Scan(&n, &sum); err != nil || n != 3 || sum != 6 {
		t.Fatalf("restored to the noted time: %d rows summing to %d (%v), want exactly the first 3", n, sum, err)
	}
	pc.Close(ctx)
	pitrID := aws.ToString(pitr.DbClusterResourceId)
	deleteCluster(ctx, t, c, "s3pitr", "s3pitr-writer")

	// A manual snapshot, then more rows, then the cluster deleted with a final snapshot;
	// serve is killed while the final one is made into the bucket.
	if _, err := c.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("s3src"),
		DBClusterSnapshotIdentifier: aws.String("s3-manual")}); err != nil {
		t.Fatalf("CreateDBClusterSnapshot: %v", err)
	}
	waitSnapshot(ctx, t, c, "s3-manual")
	exec("INSERT INTO notes SELECT generate_series(7, 8)")
	conn.Close(ctx)
	if _, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(writer)}); err != nil {
		t.Fatal(err)
	}
	if err := rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(writer)}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("s3src"), FinalDBSnapshotIdentifier: aws.String("s3-final")}); err != nil {
		t.Fatalf("DeleteDBCluster with a final snapshot: %v", err)
	}
	final := snapshotOf(ctx, t, c, "s3-final")
	// Its repository is the snapshot's resource id's, which the API does not show: any
	// snapshot path but the manual one's is the final one's.
	manualKeys := strings.Join(bucket.keys(t, "site-e2e/snapshots/"), "\n")
	var halfMade []string
	if waitFor(time.Minute, func() bool {
		for _, k := range bucket.keys(t, "site-e2e/snapshots/") {
			if !strings.Contains(manualKeys, k) && strings.Contains(k, "/backup/") && strings.Count(k, "/") > 5 {
				halfMade = append(halfMade, k)
			}
		}
		return len(halfMade) > 0
	}) && aws.ToString(snapshotOf(ctx, t, c, "s3-final").Status) == "creating" {
		t.Logf("serve killed while the final snapshot was made (%d of its objects in the bucket)", len(halfMade))
		srv.kill()
		if srv, err = startServer(dir, addr, "--backup-s3-config", bucket.config); err != nil {
			t.Fatal(err)
		}
		c = srv.rds(t)
	} else {
		t.Logf("the final snapshot was %s before serve could be killed", aws.ToString(final.Status))
	}
	eventually(t, 4*time.Minute, "s3src gone after its final snapshot", func() (bool, error) {
		if st := aws.ToString(snapshotOf(ctx, t, c, "s3-final").Status); st != "creating" && st != "available" {
			t.Fatalf("the final snapshot is %s", st)
		}
		_, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("s3src")})
		return err != nil && strings.Contains(err.Error(), "DBClusterNotFoundFault"), nil
	})
	waitSnapshot(ctx, t, c, "s3-final")
	now := strings.Join(bucket.keys(t, "site-e2e/snapshots/"), "\n")
	for _, k := range halfMade {
		if strings.Contains(now, k) {
			t.Errorf("what the killed serve half-made is still in the bucket: %s", k)
		}
	}
	// The deleted clusters' stanzas are gone from the bucket (DeleteAutomatedBackups), and
	// so are root's files for them (its configuration holds the bucket's keys).
	for _, id := range []string{rid, pitrID} {
		if left := bucket.keys(t, "site-e2e/"+id+"/"); len(left) > 0 {
			t.Errorf("the deleted cluster %s left %d objects in the bucket, e.g. %s", id, len(left), left[0])
		}
		for _, p := range []string{id + ".conf", id + ".owner", filepath.Join("work", id)} {
			if _, err := os.Lstat(filepath.Join(dir, "backups", "s3", p)); err == nil {
				t.Errorf("the deleted cluster %s left backups/s3/%s", id, p)
			}
		}
	}

	// A user allowed to restore into any cluster, but not to use the snapshot, is denied:
	// the snapshot in the bucket is reached only through the API's decision.
	acct := strings.Split(aws.ToString(src.DBClusterArn), ":")[4]
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:RestoreDBClusterFromSnapshot","Resource":"arn:aws:rds:us-east-1:` +
		acct + `:cluster:*"}]}`
	id, secret := newUser(ctx, t, srv.iam(t), "s3-restorer", nil, map[string]string{"restore": policy})
	_, err = srv.rdsAs(id, secret, "").RestoreDBClusterFromSnapshot(ctx, &rds.RestoreDBClusterFromSnapshotInput{
		DBClusterIdentifier: aws.String("s3-stolen"), SnapshotIdentifier: aws.String("s3-manual"), Engine: aws.String("aurora-postgresql")})
	denied(t, err, "rds:RestoreDBClusterFromSnapshot", "no identity-based policy allows")

	for _, r := range []struct {
		snapshot, cluster string
		want              int
	}{{"s3-manual", "s3rest-m", 6}, {"s3-final", "s3rest-f", 8}} {
		if got := restoredRows(ctx, t, srv, c, src, r.snapshot, r.cluster, false); got != r.want {
			t.Errorf("restored from %s: %d rows, want %d", r.snapshot, got, r.want)
		}
	}
	for _, s := range []string{"s3-manual", "s3-final"} {
		if _, err := c.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String(s)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, time.Minute, "the snapshots gone", func() (bool, error) {
		out, err := c.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{SnapshotType: aws.String("manual")})
		return err == nil && len(out.DBClusterSnapshots) == 0, err
	})
	// Every cluster and snapshot is deleted: nothing of them is left in the bucket.
	if left := bucket.keys(t, "site-e2e/"); len(left) > 0 {
		t.Errorf("the bucket still holds %d objects, e.g.:\n%s", len(left), strings.Join(left[:min(len(left), 10)], "\n"))
	}

	log, _ := os.ReadFile(srv.logPath)
	key, err := os.ReadFile(filepath.Join(dir, "backup.key"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := hex.DecodeString(strings.TrimSpace(string(key)))
	h := hmac.New(sha256.New, raw)
	h.Write([]byte("borealis backup " + rid))
	for what, s := range map[string]string{"the bucket's secret key": e2eS3Secret, "a cipher pass": hex.EncodeToString(h.Sum(nil)), "the installation key": strings.TrimSpace(string(key))} {
		if strings.Contains(string(log), s) {
			t.Errorf("%s is in serve's log", what)
		}
	}
}
