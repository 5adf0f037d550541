package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: every server runs as Borealis' own user")
	}
}

// sqlErr is err as a database user sees it, with the names in repl replaced, so that
// texts about different paths compare.
func sqlErr(err error, repl ...string) string {
	if err == nil {
		return "no error"
	}
	msg := err.Error()
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg = pe.Code + " " + pe.Message + " | " + pe.Detail
	}
	return strings.NewReplacer(repl...).Replace(msg)
}

// procIDs returns the Uid, Gid and Groups lines of /proc/PID/status.
func procIDs(t *testing.T, pid int) (uids, gids, groups string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ":")
		switch k {
		case "Uid":
			uids = strings.Join(strings.Fields(v), " ")
		case "Gid":
			gids = strings.Join(strings.Fields(v), " ")
		case "Groups":
			groups = strings.Join(strings.Fields(v), " ")
		}
	}
	return
}

func statOwner(t *testing.T, p string) (uid, gid uint32, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid, fi.Mode()
}

// shmOf lists the POSIX and System V shared memory segments uid owns.
func shmOf(uid uint32) (posix []string, sysv []int) {
	ents, _ := os.ReadDir("/dev/shm")
	for _, e := range ents {
		if p := filepath.Join("/dev/shm", e.Name()); owner(p) == int64(uid) {
			posix = append(posix, p)
		}
	}
	return posix, sysvSegments(uid)
}

// TestServersAreTenantsOfTheirOwn: a superuser session on cluster A's server (more than any
// database user gets: it may read server files and use every libpq option) can neither
// read, list nor connect to anything of cluster B's, and learns from the error texts
// nothing about which of B's files exist. Before each cluster had its own account, A read
// B's server.key and logged in to B as rdsadmin through B's socket.
func TestServersAreTenantsOfTheirOwn(t *testing.T) {
	needRoot(t)
	a := sharedFixture(t)
	a.running(t)
	b := newFixture(t, "tenant-b")
	ctx := ctxT(t)
	if err := b.l.Create(ctx, b.spec, b.boot); err != nil {
		t.Fatal(err)
	}
	b.running(t)
	accA, accB := a.account(t), b.account(t)

	// Each server, every process of it, runs as its own account and group alone.
	shared, _, _ := lookupAccount("postgres")
	for _, f := range []struct {
		fx  *fixture
		acc account
	}{{a, accA}, {b, accB}} {
		ps := serverProcs(f.fx.spec.DataDir)
		if len(ps) < 3 {
			t.Fatalf("%s: %d server processes", f.fx.spec.Name, len(ps))
		}
		for _, p := range ps {
			uids, gids, groups := procIDs(t, p.pid)
			u, g := strconv.Itoa(int(f.acc.uid)), strconv.Itoa(int(f.acc.gid))
			if uids != strings.Repeat(u+" ", 3)+u || gids != strings.Repeat(g+" ", 3)+g || groups != g {
				t.Errorf("%s pid %d: Uid %q Gid %q Groups %q, want %s/%s only", f.fx.spec.Name, p.pid, uids, gids, groups, u, g)
			}
		}
		if f.acc.uid == 0 || f.acc.uid == shared.uid || f.acc.name != f.fx.spec.OSUser {
			t.Errorf("%s runs as %s (uid %d)", f.fx.spec.Name, f.acc.name, f.acc.uid)
		}
	}
	if accA.uid == accB.uid || accA.gid == accB.gid {
		t.Fatalf("A and B share uid %d / gid %d", accA.uid, accA.gid)
	}

	// What B holds on the host: its own, or root's and shut to everyone but B.
	vol := filepath.Dir(b.spec.DataDir)
	for _, c := range []struct {
		path     string
		uid, gid uint32
		perm     fs.FileMode
	}{
		{b.spec.DataDir, accB.uid, accB.gid, 0o700},
		{filepath.Join(b.spec.DataDir, keyFile), accB.uid, accB.gid, 0o600},
		{b.spec.SocketDir, accB.uid, accB.gid, 0o700},
		{SocketPath(b.spec), accB.uid, accB.gid, 0o700},
		{vol, 0, accB.gid, 0o710},
		{b.spec.LogFile, 0, 0, 0o600},
	} {
		uid, gid, mode := statOwner(t, c.path)
		if uid != c.uid || gid != c.gid || mode.Perm() != c.perm {
			t.Errorf("%s: %d:%d %v, want %d:%d %v", c.path, uid, gid, mode.Perm(), c.uid, c.gid, c.perm)
		}
	}

	ca := a.admin(t, "postgres")
	if _, err := ca.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS dblink SCHEMA public"); err != nil {
		t.Fatal(err)
	}
	// The attacker's own files are there for it: the failures below are B's.
	var own []byte
	if err := ca.QueryRow(ctx, "SELECT pg_read_binary_file($1)", filepath.Join(a.spec.DataDir, keyFile)).Scan(&own); err != nil || len(own) == 0 {
		t.Fatalf("A reading its own key: %v", err)
	}

	// Reading, stat-ing and listing: every name below B's directories, existing or not,
	// gets the same "Permission denied".
	bpid := b.l.Status(b.spec.Name).PID
	posix, _ := shmOf(accB.uid)
	if len(posix) == 0 {
		t.Fatal("B has no POSIX shared memory segment to try")
	}
	targets := map[string]bool{ // path → exists
		filepath.Join(b.spec.DataDir, keyFile):                true,
		filepath.Join(b.spec.DataDir, certFile):               true,
		filepath.Join(b.spec.DataDir, "global", "pg_control"): true,
		filepath.Join(b.spec.DataDir, "postgresql.conf"):      true,
		filepath.Join(b.spec.DataDir, "no-such-file"):         false,
		filepath.Join(b.spec.DataDir, "base", "no-such-file"): false,
		b.spec.LogFile:                                true,
		pwFile(b.spec):                                false,
		filepath.Join(vol, "no-such-file"):            false,
		SocketPath(b.spec):                            true,
		SocketPath(b.spec) + ".lock":                  true,
		filepath.Join(b.spec.SocketDir, ".s.PGSQL.1"): false,
		fmt.Sprintf("/proc/%d/cwd/%s", bpid, keyFile): true,
		fmt.Sprintf("/proc/%d/root%s/%s", bpid, b.spec.DataDir, keyFile): true,
	}
	for _, q := range []string{"SELECT pg_stat_file($1)::text", "SELECT pg_read_binary_file($1)::text"} {
		texts := map[string][]string{}
		for p, exists := range targets {
			var out string
			got := sqlErr(ca.QueryRow(ctx, q, p).Scan(&out), p, "<path>")
			texts[got] = append(texts[got], fmt.Sprintf("%s (exists: %v)", p, exists))
		}
		for text, paths := range texts {
			if len(texts) != 1 || !strings.HasPrefix(text, "42501 ") || !strings.Contains(text, "Permission denied") {
				t.Errorf("%s: %s for %v", q, text, paths)
			}
		}
		t.Logf("%s on B's files, existing or not: %v", q, slices.Collect(maps.Keys(texts)))
	}
	for _, p := range append([]string{b.spec.DataDir, b.spec.SocketDir, vol}, posix[0],
		fmt.Sprintf("/proc/%d/environ", bpid), fmt.Sprintf("/proc/%d/fd/1", bpid), fmt.Sprintf("/proc/%d/mem", bpid)) {
		var out string
		q := "SELECT pg_read_binary_file($1)::text"
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			q = "SELECT count(*)::text FROM pg_ls_dir($1)"
		}
		if err := ca.QueryRow(ctx, q, p).Scan(&out); err == nil || !strings.Contains(err.Error(), "Permission denied") {
			t.Errorf("%s on %s: %q, %v", q, p, out, err)
		}
	}

	// libpq's file-naming options, from inside A's server (dblink), on a TLS connection to
	// A itself, so that the certificate files are opened. Each is tried on a file of B's and
	// on a missing name beside it: the texts must be the same.
	bkey, bcrt := filepath.Join(b.spec.DataDir, keyFile), filepath.Join(b.spec.DataDir, certFile)
	missing := filepath.Join(b.spec.DataDir, "no-such-file")
	acrt := filepath.Join(a.spec.DataDir, certFile)
	tls := fmt.Sprintf("host=%s port=%d dbname=postgres user=nobody ", a.spec.ListenAddr, a.spec.Port)
	dblink := func(connstr string) error {
		var ok string
		err := ca.QueryRow(ctx, "SELECT public.dblink_connect_u('probe', $1)", connstr).Scan(&ok)
		if err == nil {
			ca.Exec(ctx, "SELECT public.dblink_disconnect('probe')")
		}
		return err
	}
	for _, c := range []struct {
		name, opts string // opts names the file as %s
		want       string
	}{
		{"sslcert", "sslmode=require sslcert=%s sslkey=" + bkey, "Permission denied"},
		{"sslkey", "sslmode=require sslcert=" + acrt + " sslkey=%s", "Permission denied"},
		{"sslrootcert", "sslmode=verify-ca sslrootcert=%s", "does not exist"},
		{"sslcrl", "sslmode=verify-ca sslrootcert=" + acrt + " sslcrl=%s", ""},
		{"sslcrldir", "sslmode=verify-ca sslrootcert=" + acrt + " sslcrldir=%s", ""},
		{"passfile", "sslmode=disable passfile=%s", ""},
	} {
		for _, file := range []string{bkey, bcrt} {
			real := sqlErr(dblink(tls+fmt.Sprintf(c.opts, file)), file, "<file>")
			none := sqlErr(dblink(tls+fmt.Sprintf(c.opts, missing)), missing, "<file>")
			if real != none || !strings.Contains(real, c.want) {
				t.Errorf("%s=%s tells B's file from a missing one:\n  B's:     %s\n  missing: %s", c.name, file, real, none)
			}
		}
		t.Logf("dblink %s=<B's file or a missing one>: %s", c.name, sqlErr(dblink(tls+fmt.Sprintf(c.opts, missing)), missing, "<file>"))
	}
	// PostgreSQL 15 names no service file in the connection string: the service is looked
	// for in A's home (the volume directory, which holds none) and the system's file.
	if got := sqlErr(dblink(tls + "service=" + b.spec.Name)); !strings.Contains(got, "definition of service") {
		t.Errorf("service=: %s", got)
	}

	// B's socket, even with B's rdsadmin password: the directory is B's.
	sock := fmt.Sprintf("host=%s port=%%d user=%s password=%s dbname=postgres sslmode=disable", b.spec.SocketDir, Admin, b.spec.AdminPassword)
	live := sqlErr(dblink(fmt.Sprintf(sock, b.spec.Port)), SocketPath(b.spec), "<socket>")
	dead := sqlErr(dblink(fmt.Sprintf(sock, 1)), filepath.Join(b.spec.SocketDir, ".s.PGSQL.1"), "<socket>")
	if !strings.Contains(live, "Permission denied") || live != dead {
		t.Errorf("B's socket from A:\n  live:    %s\n  missing: %s", live, dead)
	}
	t.Logf("dblink host=<B's socket directory>, with B's rdsadmin password: %s", live)

	// B's System V segment is B's alone.
	if _, sysv := shmOf(accB.uid); len(sysv) == 0 {
		t.Error("B has no System V segment to check")
	}
	if b, err := os.ReadFile("/proc/sysvipc/shm"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) > 7 && f[7] == strconv.Itoa(int(accB.uid)) && f[2] != "600" {
				t.Errorf("B's System V segment: %s", l)
			}
		}
	}

	// Deleting B, even after a SIGKILL that left its shared memory behind, removes its
	// account and everything the account owned: a later account with the same uid
	// inherits nothing.
	for _, p := range serverProcs(b.spec.DataDir) {
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
	if err := b.l.Destroy(ctx, b.spec); err != nil {
		t.Fatal(err)
	}
	if _, err := user.Lookup(b.spec.OSUser); !unknownUser(err) {
		t.Errorf("account %s after Destroy: %v", b.spec.OSUser, err)
	}
	if _, err := user.LookupGroup(b.spec.OSUser); err == nil {
		t.Errorf("group %s outlived Destroy", b.spec.OSUser)
	}
	if _, err := os.Lstat(b.spec.SocketDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket directory after Destroy: %v", err)
	}
	if posix, sysv := shmOf(accB.uid); len(posix)+len(sysv) > 0 {
		t.Errorf("shared memory of uid %d after Destroy: %v %v", accB.uid, posix, sysv)
	}
	if uid, gid, _ := statOwner(t, vol); uid != 0 || gid != 0 {
		t.Errorf("volume directory after Destroy: %d:%d", uid, gid)
	}
}

// TestSharedVolumeIsTakenOver: a volume the shared postgres account made (Borealis before
// clusters had accounts) goes to the cluster's own account on start, also when an earlier
// start died half-way through, and keeps its data.
func TestSharedVolumeIsTakenOver(t *testing.T) {
	needRoot(t)
	f := newFixture(t, "upgrade")
	ctx := ctxT(t)
	tenant := f.spec.OSUser
	f.spec.OSUser = ""
	if err := f.l.Create(ctx, f.spec, f.boot); err != nil {
		t.Fatal(err)
	}
	f.running(t)
	if _, err := f.admin(t, "postgres").Exec(ctx, "CREATE TABLE public.kept AS SELECT 'survives' AS v"); err != nil {
		t.Fatal(err)
	}
	old := f.account(t)
	f.spec.OSUser = tenant
	acc := f.account(t) // made here
	// What a start killed half-way through its chown leaves: some files moved, the top not.
	if err := os.Lchown(filepath.Join(f.spec.DataDir, "PG_VERSION"), int(acc.uid), int(acc.gid)); err != nil {
		t.Fatal(err)
	}
	// A symlink the old owner left: given away itself, never what it names.
	victim := filepath.Join(f.root, "upgrade-victim")
	if err := os.WriteFile(victim, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(f.spec.DataDir, "pg_planted")); err != nil {
		t.Fatal(err)
	}
	// The old server is still running: Start stops it before anything changes hands.
	l2, err := NewLocal(testLogger(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close(context.Background())
	if err := l2.Start(ctx, f.spec); err != nil {
		t.Fatal(err)
	}
	uids, _, _ := procIDs(t, l2.Status(f.spec.Name).PID)
	if want := strconv.Itoa(int(acc.uid)); !strings.HasPrefix(uids, want+" ") {
		t.Errorf("postmaster Uid %s, want %s", uids, want)
	}
	err = filepath.WalkDir(f.spec.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if uid, gid, _ := statOwner(t, p); uid != acc.uid || gid != acc.gid {
			t.Errorf("%s still %d:%d (was the shared account's %d)", p, uid, gid, old.uid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if uid, gid, _ := statOwner(t, victim); uid != 0 || gid != 0 {
		t.Errorf("the takeover followed a symlink to %s: now %d:%d", victim, uid, gid)
	}
	if uid, _, mode := statOwner(t, f.spec.SocketDir); uid != acc.uid || mode.Perm() != 0o700 {
		t.Errorf("socket directory %d %v", uid, mode.Perm())
	}
	c, err := l2.Connect(ctx, f.spec, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var v string
	if err := c.QueryRow(ctx, "SELECT v FROM public.kept").Scan(&v); err != nil || v != "survives" {
		t.Errorf("data after the takeover: %q, %v", v, err)
	}
	l2.Stop(ctx, f.spec)
}

// TestForeignAccountIsNeverUsedOrRemoved: an account with a tenant's name that Borealis did
// not make is neither run as nor deleted.
func TestForeignAccountIsNeverUsedOrRemoved(t *testing.T) {
	needRoot(t)
	f := newFixture(t, "foreign")
	name := f.spec.OSUser
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--user-group", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	ctx := ctxT(t)
	if err := f.l.Create(ctx, f.spec, f.boot); err == nil || !strings.Contains(err.Error(), "Borealis did not make it") {
		t.Errorf("Create as a foreign account: %v", err)
	}
	if err := f.l.Destroy(ctx, f.spec); err != nil {
		t.Fatal(err)
	}
	if _, err := user.Lookup(name); err != nil {
		t.Errorf("Destroy removed a foreign account: %v", err)
	}
}

// TestRootNeverFollowsTheTenantsLinks: Borealis writes and reads as root in directories the
// server's account owns. Links the account plants there (with code run in its server) must
// not turn those writes and reads against a file of root's.
func TestRootNeverFollowsTheTenantsLinks(t *testing.T) {
	needRoot(t)
	f := sharedFixture(t)
	f.running(t)
	ctx := ctxT(t)
	victim := filepath.Join(f.root, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	intact := func(when string) {
		t.Helper()
		b, err := os.ReadFile(victim)
		uid, gid, mode := statOwner(t, victim)
		if err != nil || string(b) != "precious\n" || uid != 0 || gid != 0 || mode.Perm() != 0o600 {
			t.Errorf("%s: victim %q %d:%d %v, %v", when, b, uid, gid, mode.Perm(), err)
		}
	}
	// A temporary name Borealis writes through.
	tmp := filepath.Join(f.spec.DataDir, keyFile+".tmp")
	if err := os.Symlink(victim, tmp); err != nil {
		t.Fatal(err)
	}
	if err := f.l.Reload(ctx, f.spec); err != nil {
		t.Fatal(err)
	}
	intact("after a reload through a planted " + keyFile + ".tmp")

	// A file Borealis reads and rewrites: refused, not copied into the account's files.
	auto := filepath.Join(f.spec.DataDir, autoConfFile)
	if err := os.Rename(auto, auto+".saved"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		os.Remove(auto)
		os.Rename(auto+".saved", auto)
	}()
	if err := os.Symlink(victim, auto); err != nil {
		t.Fatal(err)
	}
	if err := f.l.Reload(ctx, f.spec); err == nil || !strings.Contains(err.Error(), "not a plain file") {
		t.Errorf("reload through a symlinked %s: %v", autoConfFile, err)
	}
	os.Remove(auto)
	if err := os.Link(victim, auto); err != nil {
		t.Fatal(err)
	}
	if err := f.l.Reload(ctx, f.spec); err == nil || !strings.Contains(err.Error(), "not a plain file") {
		t.Errorf("reload through a hard-linked %s: %v", autoConfFile, err)
	}
	intact("after reloads through a planted " + autoConfFile)
	os.Remove(auto)
	os.Rename(auto+".saved", auto)
	if err := f.l.Reload(ctx, f.spec); err != nil {
		t.Fatal(err)
	}
}

// TestAccountServesOneVolume: an account already serving a volume elsewhere is refused for
// another (two ids hashing alike); one whose volume moved follows it.
func TestAccountServesOneVolume(t *testing.T) {
	needRoot(t)
	a := sharedFixture(t)
	twin := newFixture(t, "twin")
	ctx := ctxT(t)
	own := twin.spec.OSUser
	twin.spec.OSUser = a.spec.OSUser
	err := twin.l.Create(ctx, twin.spec, twin.boot)
	twin.spec.OSUser = own // its cleanup must not remove a's account
	if err == nil || !strings.Contains(err.Error(), "belongs to the volume in "+filepath.Dir(a.spec.DataDir)) {
		t.Errorf("Create with another volume's account: %v", err)
	}

	// An account whose home is gone: the volume moved.
	moved := newFixture(t, "moved")
	acc := moved.account(t)
	gone := filepath.Join(moved.root, "gone")
	if out, err := exec.Command("usermod", "--home", gone, moved.spec.OSUser).CombinedOutput(); err != nil {
		t.Fatalf("usermod: %v %s", err, out)
	}
	if acc2 := moved.account(t); acc2.uid != acc.uid {
		t.Errorf("account uid %d, then %d", acc.uid, acc2.uid)
	}
	if u, err := user.Lookup(moved.spec.OSUser); err != nil || u.HomeDir != filepath.Dir(moved.spec.DataDir) {
		t.Errorf("home after the move: %v %v", u, err)
	}
}
