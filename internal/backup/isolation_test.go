package backup

import (
	"context"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asAccount runs a shell command as the cluster's own account, as its compromised server
// would.
func asAccount(t *testing.T, c Cluster, script string) (string, error) {
	t.Helper()
	a, err := lookupAccount(c.OSUser)
	if err != nil {
		t.Fatal(err)
	}
	cmd := osexec.Command("/bin/sh", "-c", script)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: []uint32{uint32(a.gid)}}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Another tenant's server (cluster B's account) reads and writes none of cluster A's
// backups: not its repository, its configuration (with its cipher pass), its snapshots,
// nor the installation key; and B's own pass opens nothing of A's.
func TestAnotherClustersAccountReachesNoBackup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst := newInstallation(t)
	a := inst.cluster(t, "victim")
	inst.create(t, ctx, a)
	if _, err := inst.m.Backup(ctx, a.c); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.m.TakeSnapshot(ctx, a.c, "victim-snap"); err != nil {
		t.Fatal(err)
	}
	b := inst.cluster(t, "attacker")
	inst.create(t, ctx, b)

	repoA := inst.m.repoPath(a.c.ResourceID)
	snapA := inst.m.snapshotPath("victim-snap")
	for _, probe := range []string{
		"ls " + repoA,
		"cat " + filepath.Join(repoA, "backup", a.c.ResourceID, "backup.info"),
		"touch " + filepath.Join(repoA, "archive", a.c.ResourceID, "planted"),
		"rm -rf " + filepath.Join(repoA, "backup"),
		"cat " + confPath(a.c),
		"ls " + snapA,
		"ls " + filepath.Dir(snapA),
		"cat " + inst.m.o.KeyFile,
		"ls " + inst.m.o.Root,
		// pgBackRest itself, with B's configuration pointed at A's repository.
		inst.m.bin + " --config=" + confPath(b.c) + " --stanza=" + a.c.ResourceID + " --repo1-path=" + repoA + " info",
	} {
		out, err := asAccount(t, b.c, probe)
		// (pgbackrest info reports the error in its output and exits 0.)
		if !strings.Contains(strings.ToLower(out), "permission denied") {
			t.Errorf("as %s: %s: %v, %q; want Permission denied", b.c.OSUser, probe, err, out)
		}
	}
	// Its own are its own.
	if out, err := asAccount(t, b.c, "cat "+confPath(b.c)+" >/dev/null && ls "+inst.m.repoPath(b.c.ResourceID)); err != nil {
		t.Fatalf("B's own configuration and repository: %v %s", err, out)
	}
	// It cannot change its configuration (where archive_command pushes, with which pass).
	if out, err := asAccount(t, b.c, "echo repo1-path=/tmp >> "+confPath(b.c)); err == nil {
		t.Fatalf("B rewrote its own pgBackRest configuration: %s", out)
	}
	if inst.m.cipherPass(a.c.ResourceID) == inst.m.cipherPass(b.c.ResourceID) {
		t.Fatal("two clusters share a cipher pass")
	}
	if conf, _ := os.ReadFile(confPath(b.c)); strings.Contains(string(conf), inst.m.cipherPass(a.c.ResourceID)) {
		t.Fatal("B's configuration carries A's pass")
	}
}
