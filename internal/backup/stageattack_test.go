package backup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// swappingRepo is a repository source whose first fetch lets "the account" act while
// root stages: it moves the directory being filled away and puts a link to outside in its
// place (a process the new cluster's account left running, say from a failed restore's
// recovery, when the restore is retried).
type swappingRepo struct {
	t       *testing.T
	dir     string // where the files are staged
	swapDir string // relative to dir
	outside string
	fetched int
}

func (s *swappingRepo) files(context.Context, string) ([]repoFile, error) { return nil, nil }

func (s *swappingRepo) fetch(_ context.Context, rel, dst string) error {
	if s.fetched == 1 { // the first file is staged (and the account's): now the swap
		victim := filepath.Join(s.dir, s.swapDir)
		if err := os.Rename(victim, victim+".moved"); err != nil {
			s.t.Fatal(err)
		}
		if err := os.Symlink(s.outside, victim); err != nil {
			s.t.Fatal(err)
		}
	}
	s.fetched++
	return os.WriteFile(dst, []byte("staged "+rel), 0o600)
}

// Root stages the files of a restore into the new cluster's staging directory, which the
// new account owns: a directory it swaps for a link while root writes leads root nowhere
// outside (no file made there, none given to the account).
func TestStagingFollowsNoLinkTheAccountPlants(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	a, err := lookupAccount("nobody")
	if err != nil {
		t.Skip(err)
	}
	vol := runnableDir(t) // the volume directory: root's
	stage := filepath.Join(vol, "restore-staging")
	if err := ownedDir(stage, a, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(stage, "repo")
	outside := runnableDir(t) // say /etc/cron.d
	seg := "archive/s/15-1/0000000100000000"
	src := &swappingRepo{t: t, dir: dir, swapDir: seg, outside: outside}
	files := []repoFile{{rel: seg + "/000000010000000000000001-aa"}, {rel: seg + "/000000010000000000000002-bb"}, {rel: seg + "/1"}}
	err = (&Manager{log: testLogger()}).stageFiles(context.Background(), src, dir, files, a)
	ents, rerr := os.ReadDir(outside)
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, e := range ents {
		t.Errorf("staging (err %v) wrote %s outside the staging directory", err, filepath.Join(outside, e.Name()))
	}
	if err == nil {
		t.Errorf("staging went on through a link the account planted")
	}
	if err != nil {
		t.Logf("staging: %v", err)
	}
}

// linkingRepo is a local repository whose owner (the source cluster's account, alive)
// swaps a directory of it for a link to root's files once root has listed it.
type linkingRepo struct {
	localRepo
	t         *testing.T
	swapDir   string // relative to dir
	rootFiles string
	fetched   int
}

func (l *linkingRepo) fetch(ctx context.Context, rel, dst string) error {
	if l.fetched == 1 {
		victim := filepath.Join(l.dir, l.swapDir)
		if err := os.Rename(victim, victim+".moved"); err != nil {
			l.t.Fatal(err)
		}
		if err := os.Symlink(l.rootFiles, victim); err != nil {
			l.t.Fatal(err)
		}
	}
	l.fetched++
	return l.localRepo.fetch(ctx, rel, dst)
}

// Root copies a local repository's files for a restore; the source's account, which owns
// that repository, cannot make root copy root's own files to the new cluster instead.
func TestStagingReadsNoLinkInTheSourceRepository(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	a, err := lookupAccount("nobody")
	if err != nil {
		t.Skip(err)
	}
	backups := runnableDir(t) // ROOT: root's
	repoDir := filepath.Join(backups, "cluster-src")
	set := "backup/cluster-src/20261205-000000F/pg_data"
	if err := os.MkdirAll(filepath.Join(repoDir, set), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"PG_VERSION", "secret"} {
		if err := os.WriteFile(filepath.Join(repoDir, set, n), []byte("tenant's "+n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := chownTree(repoDir, a.uid, a.gid); err != nil { // the source's account's
		t.Fatal(err)
	}
	rootFiles := t.TempDir() // say /root or /etc
	if err := os.WriteFile(filepath.Join(rootFiles, "secret"), []byte("ROOT'S SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	vol := runnableDir(t)
	stage := filepath.Join(vol, "restore-staging")
	if err := ownedDir(stage, a, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(stage, "repo")
	src := &linkingRepo{localRepo: localRepo{dir: repoDir}, t: t, swapDir: set, rootFiles: rootFiles}
	files, err := src.files(context.Background(), "backup/cluster-src/20261205-000000F")
	if err != nil || len(files) != 2 {
		t.Fatalf("files: %v %v", files, err)
	}
	err = (&Manager{log: testLogger()}).stageFiles(context.Background(), src, dir, files, a)
	b, rerr := os.ReadFile(filepath.Join(dir, set, "secret"))
	if rerr == nil && strings.Contains(string(b), "ROOT") {
		t.Fatalf("root staged its own file for the new account (staging: %v): %q", err, b)
	}
	if err == nil {
		t.Errorf("staging went on through a link in the source repository")
	}
}
