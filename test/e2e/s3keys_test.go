package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// With the repositories in an S3 bucket (an S3-compatible server in the test process),
// serve archives every cluster's WAL through its relay, the writer a failover promoted
// included, backs up, and restores to the latest restorable time across the failover;
// no cluster's pgBackRest configuration holds the bucket's secret key.
func TestS3RepositoryThroughServeKeepsTheKeysFromTheClusters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-s3keys-")
	bucket := newS3Bucket(t, dir)
	srv, err := startServer(dir, freeAddr(t), "--backup-s3-config", bucket.config)
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
	// Only the relay can tell when the promoted writer's WAL reached the bucket.
	failoverWriterArchivesToTheSameRepository(ctx, t, srv, "s3k-fo")
	// Every cluster's own pgBackRest configuration (the one file of backups its account
	// reads) is keyless.
	confs, _ := filepath.Glob(filepath.Join(dir, "clusters", "*", "pgbackrest.conf"))
	if len(confs) < 2 {
		t.Fatalf("found %d cluster configurations", len(confs))
	}
	for _, p := range confs {
		if b, err := os.ReadFile(p); err != nil || strings.Contains(string(b), e2eS3Secret) || strings.Contains(string(b), "AKIAE2E") {
			t.Errorf("%s: %v, holds the bucket's keys: %v", p, err, strings.Contains(string(b), e2eS3Secret))
		}
	}
}
