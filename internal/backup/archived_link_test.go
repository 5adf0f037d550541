package backup

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A cluster's account owns its repository directory and may put a link where its archive
// directory was, to another cluster's: serve, reading as root, must not then report that
// cluster's archiving (when it last wrote) as the first one's LatestRestorableTime.
func TestLastArchivedFollowsNoLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := t.TempDir()
	m, err := New(testLogger(), Options{Root: filepath.Join(root, "backups"), KeyFile: filepath.Join(root, "backup.key")})
	if err != nil {
		t.Fatal(err)
	}
	const tenant = 54321
	victimSegs := filepath.Join(m.repoPath("cluster-victim"), "archive", "cluster-victim", "15-1", "0000000100000000")
	if err := os.MkdirAll(victimSegs, 0o700); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(victimSegs, "000000010000000000000003-0123456789abcdef0123456789abcdef01234567.gz")
	if err := os.WriteFile(seg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 12, 5, 9, 17, 0, 0, time.UTC)
	if err := os.Chtimes(seg, when, when); err != nil {
		t.Fatal(err)
	}
	own := m.repoPath("cluster-tenant")
	if err := os.MkdirAll(filepath.Join(own, "archive"), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(own, "archive", "cluster-tenant")
	if err := os.Symlink(filepath.Join(m.repoPath("cluster-victim"), "archive", "cluster-victim"), link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{own, filepath.Join(own, "archive"), link} {
		if err := os.Lchown(p, tenant, tenant); err != nil {
			t.Fatal(err)
		}
	}
	c := Cluster{ResourceID: "cluster-tenant", VolumeDir: filepath.Join(root, "vol")}
	if at, ok := m.LastArchived(c); ok {
		t.Fatalf("LastArchived read through the link: %v", at)
	}
}

// With the bucket, what reached it is the relay's record (root's, written as each whole
// segment is pushed): serve knows LatestRestorableTime between repository reads without
// asking the writer at every pass.
func TestLastArchivedInTheBucketIsTheRelays(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	s3, err := ReadS3Config(writeS3Config(t, fullS3Config, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	m, err := New(testLogger(), Options{Root: root, KeyFile: filepath.Join(root, "key"), S3: s3, RelayCommand: []string{"/bin/true", relayArg}})
	if err != nil {
		t.Fatal(err)
	}
	c := Cluster{ResourceID: "cluster-s3", VolumeDir: filepath.Join(root, "vol")}
	if _, ok := m.LastArchived(c); ok {
		t.Fatal("archived WAL before the relay pushed any")
	}
	if err := os.MkdirAll(m.rootWorkPath(c.ResourceID), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.lastPushedPath(c.ResourceID), []byte("000000010000000000000003\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 12, 5, 9, 17, 0, 0, time.UTC)
	if err := os.Chtimes(m.lastPushedPath(c.ResourceID), when, when); err != nil {
		t.Fatal(err)
	}
	if at, ok := m.LastArchived(c); !ok || !at.Equal(when) {
		t.Fatalf("LastArchived %v %v, want the relay's %v", at, ok, when)
	}
}
