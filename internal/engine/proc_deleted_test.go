package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestServerProcsFindsAServerWhoseDataDirectoryIsGone: a postmaster whose data directory
// was removed under it still runs (on the files it holds open) and still takes writes from
// its sessions; its cwd then reads "DIR (deleted)". It is still that directory's server:
// a failover that stops "every server on the old writer's directory" must find it, or a
// serve restarted after the removal leaves it running beside the promoted reader.
func TestServerProcsFindsAServerWhoseDataDirectoryIsGone(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	root := t.TempDir()
	bin := filepath.Join(root, "postgres") // isPostgres goes by the executable's name
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(root, "cluster", "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "60")
	cmd.Dir = dataDir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); len(serverProcs(dataDir)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the process on the data directory is not found while the directory exists")
		}
	}
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	ps := serverProcs(dataDir)
	if len(ps) != 1 || ps[0].pid != cmd.Process.Pid {
		t.Fatalf("serverProcs after the data directory was removed = %v, want the process %d still on it", ps, cmd.Process.Pid)
	}
	// A data directory made anew at the same path (a fresh copy) is the same place.
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if ps := serverProcs(dataDir); len(ps) != 1 {
		t.Fatalf("serverProcs after the data directory was made anew = %v, want the old process", ps)
	}
}
