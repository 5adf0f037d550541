package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// startHelper runs a driver of owner on s in a child process (standing for `borealis
// serve`), and returns that process and the pid of the postmaster it started.
func startHelper(t *testing.T, s Spec, owner string) (*exec.Cmd, int) {
	t.Helper()
	spec, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(spec), helperOwnerEnv+"="+owner)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY ") {
		t.Fatalf("helper: %q %v", line, err)
	}
	go io.Copy(io.Discard, out)
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "READY ")))
	if !alive(pid) {
		t.Fatalf("helper's postmaster %d not running", pid)
	}
	return cmd, pid
}

// killHelper kills the helper as kill -9 kills serve: no chance to clean up.
func killHelper(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Kill()
	cmd.Wait()
}

// stopped makes sure the fixture's own driver runs nothing, so that a helper starts afresh.
func (f *fixture) stopped(t *testing.T) {
	t.Helper()
	if err := f.l.Stop(ctxT(t), f.spec); err != nil {
		t.Fatal(err)
	}
	drain(f.l.Exits())
}

func scalar(t *testing.T, c *pgx.Conn, sql string) string {
	t.Helper()
	var v string
	if err := c.QueryRow(ctxT(t), sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// TestServerOutlivesKilledServe: kill -9 of the process that runs the driver leaves the
// server running and an open session (in a transaction) going; the next driver adopts the
// same postmaster, applies a changed reloadable setting without a restart, and reports
// the adopted server's death.
func TestServerOutlivesKilledServe(t *testing.T) {
	f := sharedFixture(t)
	f.stopped(t)
	helper, pid := startHelper(t, f.spec, "")
	ctx := ctxT(t)
	c, err := f.tcp(ctx, f.boot.MasterUsername, f.password, f.boot.DatabaseName)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS outlive (v int)"); err != nil {
		t.Fatal(err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO outlive VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	killHelper(t, helper)
	time.Sleep(200 * time.Millisecond) // what a parent-death signal would have done by now
	if !alive(pid) {
		t.Fatalf("postmaster %d died with its driver's process", pid)
	}
	if _, ppid, _ := procStat(pid); ppid == helper.Process.Pid {
		t.Fatalf("postmaster %d still has the dead helper as parent", pid)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO outlive VALUES (2)"); err != nil {
		t.Fatalf("session ended with its driver's process: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	s := f.spec
	s.Settings = map[string]string{"work_mem": "9MB"}
	if err := f.l.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	st := f.l.Status(s.Name)
	if st.State != StateRunning || st.PID != pid {
		t.Fatalf("after Start: %+v, want running pid %d (adopted)", st, pid)
	}
	if got := scalar(t, c, "SELECT count(*)::text FROM outlive WHERE v IN (1, 2)"); got != "2" {
		t.Errorf("rows committed across the kill: %s", got)
	}
	if got := scalar(t, f.admin(t, "postgres"), "SHOW work_mem"); got != "9MB" {
		t.Errorf("work_mem after adoption = %s: the adopted server was not caught up", got)
	}

	// The adopted server is watched as a child is.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitExit(t, f.l.Exits(), s.Name, pid)
	if st := f.l.Status(s.Name); st.State != StateCrashed {
		t.Errorf("status after the adopted server was killed: %+v", st)
	}
	f.running(t)
}

// TestAdoptionRestartsForStaticSettings: a setting that needs a restart (changed while
// serve was away) restarts the adopted server; so does a changed port.
func TestAdoptionRestartsForStaticSettings(t *testing.T) {
	f := sharedFixture(t)
	f.stopped(t)
	helper, pid := startHelper(t, f.spec, "")
	killHelper(t, helper)
	s := f.spec
	s.Settings = map[string]string{"max_connections": "42"}
	if err := f.l.Start(ctxT(t), s); err != nil {
		t.Fatal(err)
	}
	if st := f.l.Status(s.Name); st.PID == pid || alive(pid) {
		t.Errorf("server not restarted for max_connections: %+v (old pid %d alive: %v)", st, pid, alive(pid))
	}
	if got := scalar(t, f.admin(t, "postgres"), "SHOW max_connections"); got != "42" {
		t.Errorf("max_connections = %s", got)
	}

	f.stopped(t)
	helper, pid = startHelper(t, f.spec, "")
	killHelper(t, helper)
	s = f.spec
	s.Port = freePort(t)
	if err := f.l.Start(ctxT(t), s); err != nil {
		t.Fatal(err)
	}
	defer f.l.Stop(context.Background(), s)
	if st := f.l.Status(s.Name); st.PID == pid || alive(pid) {
		t.Errorf("server not restarted for a new port: %+v", st)
	}
	if pf, _ := readPidFileInfo(filepath.Join(s.DataDir, pidFile)); pf.port != s.Port {
		t.Errorf("server listens on %d, want %d", pf.port, s.Port)
	}
}

// TestNotOursIsNeverAdopted: a postmaster.pid naming a live process that is no postgres
// (its PID reused), a postmaster whose start time is not the one recorded, one started by
// hand and one of another Borealis are never adopted: a process that is no server is left
// alone, the others (squatting the volume) are stopped and a server of the driver's own
// starts.
func TestNotOursIsNeverAdopted(t *testing.T) {
	f := sharedFixture(t)
	pidPath := filepath.Join(f.spec.DataDir, pidFile)
	a := f.account(t)
	restartOwn := func(t *testing.T, notPID int) {
		t.Helper()
		if err := f.l.Start(ctxT(t), f.spec); err != nil {
			t.Fatal(err)
		}
		st := f.l.Status(f.spec.Name)
		if st.State != StateRunning || st.PID == notPID {
			t.Fatalf("status %+v: adopted %d", st, notPID)
		}
		if pms := postmasters(serverProcs(f.spec.DataDir)); len(pms) != 1 || pms[0] != st.PID {
			t.Errorf("postmasters on the data directory: %v, want [%d]", pms, st.PID)
		}
		scalar(t, f.admin(t, "postgres"), "SELECT 1")
	}

	t.Run("reused pid", func(t *testing.T) {
		f.stopped(t)
		sleep := exec.Command("sleep", "60")
		if err := sleep.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { sleep.Process.Kill(); sleep.Wait() }()
		started, _ := procStartTime(sleep.Process.Pid)
		pf := fmt.Sprintf("%d\n%s\n%d\n%d\n%s\n127.0.0.1\n  1234  5678\nready   \n",
			sleep.Process.Pid, f.spec.DataDir, started.Unix(), f.spec.Port, f.spec.SocketDir)
		if err := a.writeFile(pidPath, []byte(pf), 0o600); err != nil {
			t.Fatal(err)
		}
		restartOwn(t, sleep.Process.Pid)
		if !alive(sleep.Process.Pid) {
			t.Error("the process holding the reused PID was signalled")
		}
	})

	t.Run("start time", func(t *testing.T) {
		f.stopped(t)
		helper, pid := startHelper(t, f.spec, "")
		killHelper(t, helper)
		pf, ok := readPidFileInfo(pidPath)
		if !ok || pf.pid != pid {
			t.Fatalf("postmaster.pid: %+v", pf)
		}
		b, _ := os.ReadFile(pidPath)
		lines := strings.Split(string(b), "\n")
		lines[2] = strconv.FormatInt(pf.start.Unix()-3600, 10)
		if err := a.writeFile(pidPath, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		restartOwn(t, pid)
		if alive(pid) {
			t.Errorf("the unadoptable postmaster %d still runs on the volume", pid)
		}
	})

	t.Run("another Borealis", func(t *testing.T) {
		f.stopped(t)
		helper, pid := startHelper(t, f.spec, "/elsewhere")
		killHelper(t, helper)
		restartOwn(t, pid)
		if alive(pid) {
			t.Errorf("the other Borealis' postmaster %d still runs on the volume", pid)
		}
	})

	t.Run("started by hand", func(t *testing.T) {
		f.stopped(t)
		cmd := exec.Command(f.l.postgres, "-D", f.spec.DataDir)
		cmd.Dir = f.spec.DataDir
		cmd.Env = f.l.env()
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: a.credential(), Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if pid, st := readPidFile(pidPath); pid == cmd.Process.Pid && st == "ready" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("hand-started postgres not ready")
			}
			time.Sleep(20 * time.Millisecond)
		}
		restartOwn(t, cmd.Process.Pid)
		if alive(cmd.Process.Pid) {
			t.Errorf("the hand-started postmaster still runs on the volume")
		}
	})
}

// TestOrphanOfDeletedInstanceIsStopped: a server whose instance the store no longer has
// (deleted while serve was away) is stopped by StopOrphans, with its lock file; a known
// one, and one of another Borealis, are left running.
func TestOrphanOfDeletedInstanceIsStopped(t *testing.T) {
	f := sharedFixture(t)
	f.stopped(t)
	helper, pid := startHelper(t, f.spec, "")
	killHelper(t, helper)
	ctx := ctxT(t)

	if got, err := f.l.StopOrphans(ctx, f.root, []string{f.spec.Name}); err != nil || len(got) != 0 || !alive(pid) {
		t.Fatalf("StopOrphans of a known server: %v, %v; alive %v", got, err, alive(pid))
	}
	other, err := NewLocal(testLogger(), Options{Owner: "/another/borealis"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	if got, err := other.StopOrphans(ctx, f.root, nil); err != nil || len(got) != 0 || !alive(pid) {
		t.Fatalf("another owner's StopOrphans: %v, %v; alive %v", got, err, alive(pid))
	}

	got, err := f.l.StopOrphans(ctx, f.root, []string{"some-other-instance"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].PID != pid || got[0].Name != f.spec.Name || got[0].DataDir != f.spec.DataDir {
		t.Fatalf("StopOrphans = %+v, want the server %d on %s", got, pid, f.spec.DataDir)
	}
	if alive(pid) || len(serverProcs(f.spec.DataDir)) != 0 {
		t.Errorf("orphan still running: %v", serverProcs(f.spec.DataDir))
	}
	if _, err := os.Stat(filepath.Join(f.spec.DataDir, pidFile)); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid left behind: %v", err)
	}
	f.running(t)
}

// TestReleaseKeepsServersRunning: Release (serve asked to keep its servers on exit) leaves
// them running for the next driver; Close stops them.
func TestReleaseKeepsServersRunning(t *testing.T) {
	f := sharedFixture(t)
	f.stopped(t)
	l2, err := NewLocal(testLogger(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Start(ctxT(t), f.spec); err != nil {
		t.Fatal(err)
	}
	pid := l2.Status(f.spec.Name).PID
	l2.Release()
	if err := l2.Start(ctxT(t), f.spec); err != ErrClosed {
		t.Errorf("Start after Release: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if !alive(pid) {
		t.Fatal("Release stopped the server")
	}
	l3, err := NewLocal(testLogger(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l3.Start(ctxT(t), f.spec); err != nil {
		t.Fatal(err)
	}
	if got := l3.Status(f.spec.Name).PID; got != pid {
		t.Errorf("next driver runs %d, want %d adopted", got, pid)
	}
	if err := l3.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Error("Close left the adopted server running")
	}
	f.running(t)
}

// TestStopOrphansIgnoresImpostors: a process that only claims to be a server of Borealis
// (a program named postgres, with the marks in its environment) is neither signalled nor
// has a postmaster.pid removed for it: not outside the directory StopOrphans is given, not
// as root, not in a directory its account does not own.
func TestStopOrphansIgnoresImpostors(t *testing.T) {
	f := sharedFixture(t)
	root := testRoot(t)
	fake := filepath.Join(root, "bin", "postgres")
	if err := os.MkdirAll(filepath.Dir(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fake, b, 0o755); err != nil {
		t.Fatal(err)
	}
	start := func(t *testing.T, dir string, cred *syscall.Credential) *exec.Cmd {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, pidFile), []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(fake, "60")
		cmd.Dir = dir
		cmd.Env = []string{envInstance + "=gone", envOwner + "=" + f.l.owner}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for !isPostgres(cmd.Process.Pid) {
			time.Sleep(10 * time.Millisecond)
		}
		return cmd
	}
	// Outside the directory given, as an account in a directory of its own.
	var cred *syscall.Credential
	elsewhere := filepath.Join(root, "elsewhere")
	if f.l.root {
		a, _, err := lookupAccount("postgres")
		if err != nil {
			t.Fatal(err)
		}
		cred = &syscall.Credential{Uid: a.uid, Gid: a.gid}
		if err := os.MkdirAll(elsewhere, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(elsewhere, int(a.uid), int(a.gid)); err != nil {
			t.Fatal(err)
		}
	}
	var cmds = []*exec.Cmd{start(t, elsewhere, cred)}
	if f.l.root {
		// Inside the directory given, but as root, and in a directory of root's.
		cmds = append(cmds, start(t, filepath.Join(f.root, "impostor"), nil))
	}
	got, err := f.l.StopOrphans(ctxT(t), f.root, []string{f.spec.Name})
	if err != nil || len(got) != 0 {
		t.Errorf("StopOrphans = %+v, %v", got, err)
	}
	for _, c := range cmds {
		if !alive(c.Process.Pid) {
			t.Errorf("impostor in %s was signalled", c.Dir)
		}
		if _, err := os.Stat(filepath.Join(c.Dir, pidFile)); err != nil {
			t.Errorf("postmaster.pid in %s removed: %v", c.Dir, err)
		}
	}
}

// TestStopOrphansDirectorySwappedAfterCheck: an impostor in a directory of its own account
// below the one given (a tenant's data directory, say) that, when told to stop, puts a
// symlink in place of its working directory does not make StopOrphans signal the
// processes, or remove the postmaster.pid, where the symlink points: another tenant's
// server, here a root process.
func TestStopOrphansDirectorySwappedAfterCheck(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the impostor runs as another account")
	}
	a, _, err := lookupAccount("postgres")
	if err != nil {
		t.Fatal(err)
	}
	root := testRoot(t)
	copyAs := func(dir, src string) string {
		t.Helper()
		p, err := exec.LookPath(src)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, dir, "postgres")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	sleepPG, shPG := copyAs("bin1", "sleep"), copyAs("bin2", "sh")

	// The victim: a "postgres" of root's outside the directory given.
	victimDir := filepath.Join(root, "victim")
	if err := os.MkdirAll(victimDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victimDir, pidFile), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	victim := exec.Command(sleepPG, "60")
	victim.Dir = victimDir
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { victim.Process.Kill(); victim.Wait() })

	// The impostor: the tenant's account, in a directory of its own below under.
	under := filepath.Join(root, "clusters")
	data := filepath.Join(under, "vol", "data")
	sub := filepath.Join(data, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{data, sub} {
		if err := os.Chown(d, int(a.uid), int(a.gid)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := NewLocal(nil, Options{Owner: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	script := fmt.Sprintf(`trap 'cd %s && mv sub sub.old && ln -s %s sub; exit 0' INT; : >%s/trapped; while :; do sleep 0.05; done`, data, victimDir, data)
	imp := exec.Command(shPG, "-c", script)
	imp.Dir = sub
	imp.Env = []string{"PATH=/usr/bin:/bin", envInstance + "=gone", envOwner + "=" + root}
	imp.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: a.uid, Gid: a.gid}}
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { imp.Process.Kill() })
	for _, err := os.Stat(filepath.Join(data, "trapped")); err != nil; _, err = os.Stat(filepath.Join(data, "trapped")) {
		time.Sleep(10 * time.Millisecond)
	}
	go imp.Wait() // reap it: a zombie is not gone for the pidfd watch

	l.StopOrphans(ctxT(t), under, nil)
	if fi, err := os.Lstat(sub); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the impostor did not swap its directory (%v): the test proves nothing", err)
	}
	if !alive(victim.Process.Pid) {
		t.Error("the process where the swapped directory points was signalled")
	}
	if _, err := os.Stat(filepath.Join(victimDir, pidFile)); err != nil {
		t.Errorf("postmaster.pid where the swapped directory points removed: %v", err)
	}
}
