package backup

import (
	"context"
	"fmt"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// heldPuts holds the S3 server's PUTs whose path contains a marker until released, and
// says when the first one arrived: a push pgBackRest has begun and not finished.
type heldPuts struct {
	marker  string
	hold    func(path string) bool // which of the marked PUTs wait for release
	seen    chan struct{}
	once    sync.Once
	release chan struct{}
	before  func(path string) // called for every PUT first (nil: nothing)
}

func newHeldPuts(marker string, hold func(string) bool) *heldPuts {
	return &heldPuts{marker: marker, hold: hold, seen: make(chan struct{}), release: make(chan struct{})}
}

func (h *heldPuts) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			if h.before != nil {
				h.before(r.URL.Path)
			}
			if strings.Contains(r.URL.Path, h.marker) {
				h.once.Do(func() { close(h.seen) })
				if h.hold(r.URL.Path) {
					<-h.release
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// releaseWhen releases the held PUTs once done is closed, or a while after the first
// arrived if it never is (the fixed code waits for the held push: only a deadlock
// breaker, nothing asserted on it).
func (h *heldPuts) releaseWhen(done <-chan struct{}) {
	go func() {
		select {
		case <-done:
		case <-h.seen:
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		close(h.release)
	}()
}

// pushAs sends one WAL file through the relay as account name, as its archive_command
// could (any name the relay accepts, any bytes).
func pushAs(t *testing.T, name, sock, rid, wal, body string) (string, error) {
	py := fmt.Sprintf(`import socket,sys
s=socket.socket(socket.AF_UNIX)
s.connect(%q)
s.sendall(bytes.fromhex(%q))
s.shutdown(socket.SHUT_WR)
sys.stdout.write(s.makefile().readline())`, sock, fmt.Sprintf("%x", fmt.Sprintf("push %s %s %d\n%s", rid, wal, len(body), body)))
	return asUser(t, name, "python3 -c '"+py+"'")
}

// A cluster's account keeps a push to the relay running (a large file, a slow bucket)
// while its cluster is deleted: Forget must not remove the stanza and then let that push
// land, leaving the deleted cluster's WAL in the bucket for good.
func TestS3ForgetWaitsForAPushUnderway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	held := newHeldPuts("00000009.history", func(string) bool { return true })
	inst, mem, _ := newS3InstallationWith(t, ctx, testLogger(), held.wrap)
	cl := inst.cluster(t, "s3forget")
	inst.create(t, ctx, cl)
	rid := cl.c.ResourceID
	if err := inst.driver.Stop(ctx, cl.spec); err != nil {
		t.Fatal(err)
	}
	pushed := make(chan string, 1)
	go func() {
		out, err := pushAs(t, cl.c.OSUser, inst.m.RelaySocket(), rid, "00000009.history", "9\t0/9000000\tforged\n")
		pushed <- fmt.Sprint(strings.TrimSpace(out), err)
	}()
	select {
	case <-held.seen:
	case out := <-pushed:
		t.Fatalf("the push ended before it reached the bucket: %s", out)
	}
	forgot := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		err := inst.m.Retire(ctx, cl.c)
		if err == nil {
			err = inst.m.Forget(ctx, rid)
		}
		forgot <- err
		close(done)
	}()
	held.releaseWhen(done)
	if err := <-forgot; err != nil {
		t.Fatalf("forget: %v", err)
	}
	t.Logf("the push: %s", <-pushed)
	if left := bucketKeys(t, mem, "site-a/"+rid+"/"); len(left) != 0 {
		t.Fatalf("the deleted cluster's stanza left in the bucket:\n%s", strings.Join(left, "\n"))
	}
}

// A snapshot is immutable once complete: a push the cluster's account began while the
// snapshot was taken (its configuration then named the snapshot's repository too) must
// not land in the snapshot after it is sealed (a history file there would change, or
// break, what a restore of it recovers).
func TestS3SealedSnapshotGetsNoLatePush(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const snap = "snap-late"
	held := newHeldPuts("00000009.history", func(p string) bool { return strings.Contains(p, "/snapshots/"+snap+"/") })
	var (
		cl       *cluster
		inst     *installation
		started  sync.Once
		pushed   = make(chan string, 1)
		sockPath string
	)
	// When the snapshot's set is finished (its manifest, then backup.info), the account
	// begins a push: the relay's pgBackRest reads the configuration naming the snapshot's
	// repository. (stanza-create writes a backup.info first.)
	var manifest bool
	held.before = func(p string) {
		if !strings.Contains(p, "/snapshots/"+snap+"/backup/") {
			return
		}
		if strings.HasSuffix(p, "/backup.manifest") {
			manifest = true
		}
		if !manifest || !strings.HasSuffix(p, "/backup.info") {
			return
		}
		started.Do(func() {
			go func() {
				out, err := pushAs(t, cl.c.OSUser, sockPath, cl.c.ResourceID, "00000009.history", "9\t0/9000000\tforged\n")
				pushed <- fmt.Sprint(strings.TrimSpace(out), err)
			}()
			select {
			case <-held.seen:
			case <-time.After(30 * time.Second):
			}
		})
	}
	inst, mem, _ := newS3InstallationWith(t, ctx, testLogger(), held.wrap)
	sockPath = inst.m.RelaySocket()
	cl = inst.cluster(t, "s3late")
	inst.create(t, ctx, cl)
	sqlExec(t, ctx, inst.conn(t, ctx, cl), "CREATE TABLE public.t AS SELECT generate_series(1, 10) n")

	taken := make(chan struct{})
	held.releaseWhen(taken)
	p, err := inst.m.TakeSnapshot(ctx, cl.c, snap)
	if err != nil || p.Phase != PhaseComplete {
		t.Fatalf("snapshot: %+v, %v; log:\n%s", p, err, tail(cl.spec.LogFile))
	}
	sealed := bucketKeys(t, mem, "site-a/snapshots/"+snap+"/")
	close(taken)
	t.Logf("the push: %s", <-pushed)
	if after := bucketKeys(t, mem, "site-a/snapshots/"+snap+"/"); !slices.Equal(after, sealed) {
		t.Fatalf("the complete snapshot changed after it was sealed:\nsealed:\n%s\nnow:\n%s", strings.Join(sealed, "\n"), strings.Join(after, "\n"))
	}
}

// forgedRemote makes the PostgreSQL-side remote report file name as forged (what the
// account, which may ptrace its remote, can make it say): the manager's pgbackrest becomes
// a wrapper that preloads a readdir shim into the remote alone (not root's pgBackRest).
func forgedRemote(t *testing.T, inst *installation, name, forged string) {
	t.Helper()
	forgedAccount(t, inst, name, forged, "*:remote*")
}

// forgedAccount is forgedRemote for every pgbackrest the manager runs as an account whose
// arguments match pattern (a shell case pattern).
func forgedAccount(t *testing.T, inst *installation, name, forged, pattern string) {
	t.Helper()
	dir := filepath.Join(inst.root, "forge")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := `#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <string.h>
static void forge(char *n) { if (strcmp(n, "` + name + `") == 0) strcpy(n, "` + forged + `"); }
struct dirent *readdir(DIR *d) {
	struct dirent *(*real)(DIR *) = dlsym(RTLD_NEXT, "readdir");
	struct dirent *e = real(d); if (e) forge(e->d_name); return e;
}
struct dirent64 *readdir64(DIR *d) {
	struct dirent64 *(*real)(DIR *) = dlsym(RTLD_NEXT, "readdir64");
	struct dirent64 *e = real(d); if (e) forge(e->d_name); return e;
}
`
	if err := os.WriteFile(filepath.Join(dir, "forge.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := osexec.Command("gcc", "-shared", "-fPIC", "-o", filepath.Join(dir, "forge.so"), filepath.Join(dir, "forge.c"), "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v: %s", err, out)
	}
	real, err := osexec.LookPath(inst.m.bin)
	if err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/sh\ncase \"$*\" in " + pattern + ") [ \"$(id -u)\" = 0 ] || export LD_PRELOAD=" + filepath.Join(dir, "forge.so") + ";; esac\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "pgbackrest"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	inst.m.bin = filepath.Join(dir, "pgbackrest")
}

// The account forges its remote's file list during a snapshot: a file over the bundle
// limit named with ".." (pgBackRest 2.45 takes the name and puts it in the object's key as
// it is). Such a snapshot is never complete (a copy and a restore refuse the name), and
// what it put in the bucket goes.
func TestS3SnapshotOfAForgedRemoteIsNeverComplete(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst, mem, _ := newS3Installation(t, ctx, testLogger())
	cl := inst.cluster(t, "forge")
	inst.create(t, ctx, cl)
	big := filepath.Join(cl.c.DataDir, "bigfile")
	if out, err := asUser(t, cl.c.OSUser, "head -c 3000000 /dev/urandom > "+big); err != nil {
		t.Fatal(out, err)
	}
	// Up to the root, then down to the file again: the remote can open it by that name.
	forgedRemote(t, inst, "bigfile", strings.Repeat("../", 12)+strings.TrimPrefix(big, "/"))
	p, err := inst.m.TakeSnapshot(ctx, cl.c, "snap-forge")
	if err == nil || p.Phase == PhaseComplete {
		t.Fatalf("a snapshot holding a key with .. is %+v (%v)", p, err)
	}
	t.Logf("refused: %v", err)
	if p := inst.m.SnapshotStatus("snap-forge"); p.Phase == PhaseComplete {
		t.Fatalf("it reads %+v", p)
	}
	if left := bucketKeys(t, mem, "site-a/snapshots/snap-forge/"); len(left) != 0 {
		t.Fatalf("the failed snapshot left in the bucket:\n%s", strings.Join(left, "\n"))
	}
}

// The account forges a small file's name (it goes in a bundle: its name is only in the
// set's manifest) so that a restore of the set, run as the new cluster's account, writes
// outside the new data directory, to a file the account chose (pgBackRest 2.45 does). A
// snapshot of it is never complete; a restore to a point in time from such a backup is
// refused before the new account runs pgBackRest, and the file is untouched.
func TestS3RestoreRefusesAManifestNameOutsideTheDataDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst, _, _ := newS3Installation(t, ctx, testLogger())
	cl := inst.cluster(t, "fbund")
	inst.create(t, ctx, cl)
	// A file anyone may write, outside every cluster's data directory.
	shared := filepath.Join(inst.root, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(shared, "smallfile")
	if out, err := asUser(t, cl.c.OSUser, "echo forged > "+target+" && chmod 666 "+target+" && echo x > "+filepath.Join(cl.c.DataDir, "smallfile")); err != nil {
		t.Fatal(out, err)
	}
	forgedRemote(t, inst, "smallfile", strings.Repeat("../", 12)+strings.TrimPrefix(target, "/"))

	p, err := inst.m.TakeSnapshot(ctx, cl.c, "snap-fb")
	if err == nil || p.Phase == PhaseComplete || !strings.Contains(err.Error(), "leaves the data directory") {
		t.Fatalf("a snapshot whose restore writes outside the data directory: %+v (%v)", p, err)
	}
	inst.archived(t, ctx, cl)
	if _, err := inst.m.Backup(ctx, cl.c); err != nil {
		t.Fatal(err)
	}
	inst.archived(t, ctx, cl)
	if err := os.WriteFile(target, []byte("mine\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	dst := inst.cluster(t, "fbdst")
	if err := inst.driver.PrepareVolume(ctx, dst.spec); err != nil {
		t.Fatal(err)
	}
	err = inst.m.Restore(ctx, RestoreRequest{SourceResourceID: cl.c.ResourceID, Latest: true, Into: dst.c, Rekey: rekeyTo(dst.spec.AdminPassword)})
	if err == nil || !strings.Contains(err.Error(), "leaves the data directory") {
		t.Errorf("restore of a set naming a file outside the data directory: %v", err)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "mine\n" {
		t.Fatalf("the restore wrote %s: %q (%v)", target, b, err)
	}
}

// With a local repository the account writes its repository itself (forging its own
// backup's file names is no harder): a restore from it refuses a set whose manifest names
// a file outside the data directory before pgBackRest writes it as the new account.
func TestLocalRestoreRefusesAManifestNameOutsideTheDataDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst := newInstallation(t)
	cl := inst.cluster(t, "lbund")
	inst.create(t, ctx, cl)
	shared := filepath.Join(inst.root, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(shared, "smallfile")
	if out, err := asUser(t, cl.c.OSUser, "echo forged > "+target+" && chmod 666 "+target+" && echo x > "+filepath.Join(cl.c.DataDir, "smallfile")); err != nil {
		t.Fatal(out, err)
	}
	forgedAccount(t, inst, "smallfile", strings.Repeat("../", 12)+strings.TrimPrefix(target, "/"), "*backup")
	inst.archived(t, ctx, cl)
	if _, err := inst.m.Backup(ctx, cl.c); err != nil {
		t.Fatal(err)
	}
	inst.archived(t, ctx, cl)
	if err := os.WriteFile(target, []byte("mine\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	dst := inst.cluster(t, "lbdst")
	if err := inst.driver.PrepareVolume(ctx, dst.spec); err != nil {
		t.Fatal(err)
	}
	err := inst.m.Restore(ctx, RestoreRequest{SourceResourceID: cl.c.ResourceID, Latest: true, Into: dst.c, Rekey: rekeyTo(dst.spec.AdminPassword)})
	if err == nil || !strings.Contains(err.Error(), "leaves the data directory") {
		t.Errorf("restore of a set naming a file outside the data directory: %v", err)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "mine\n" {
		t.Fatalf("the restore wrote %s: %q (%v)", target, b, err)
	}
}
