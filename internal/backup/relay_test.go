package backup

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// relayArg makes the test binary the archive relay's client (as `borealis backup-relay`).
const relayArg = RelaySubcommand

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == relayArg {
		os.Exit(RelayMain(os.Args[2:], os.Stderr))
	}
	os.Exit(m.Run())
}

// relayBinary is a copy of the test binary where every cluster's account may run it.
func relayBinary(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	p := filepath.Join(dir, "borealis-relay")
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// asUser runs a shell command as any account (a cluster's, or a local user's).
func asUser(t *testing.T, name, script string) (string, error) {
	t.Helper()
	a, err := lookupAccount(name)
	if err != nil {
		t.Fatal(err)
	}
	cmd := osexec.Command("/bin/sh", "-c", script)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: []uint32{uint32(a.gid)}}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// rawRelay sends one raw request to the relay as account name (python3: no client-side
// checks) and returns the relay's answer.
func rawRelay(t *testing.T, name, sock, request string) string {
	t.Helper()
	py := fmt.Sprintf(`import socket,sys
s=socket.socket(socket.AF_UNIX)
s.connect(%q)
s.sendall(bytes.fromhex(%q))
s.shutdown(socket.SHUT_WR)
sys.stdout.write(s.makefile().readline())`, sock, fmt.Sprintf("%x", request))
	out, err := asUser(t, name, "python3 -c '"+py+"'")
	if err != nil {
		t.Fatalf("as %s: %v: %s", name, err, out)
	}
	return out
}

// bucketObjects maps the keys below prefix to their ETags.
func bucketObjects(t *testing.T, mem *s3mem.Backend, prefix string) map[string]string {
	t.Helper()
	objs, err := mem.ListBucket("borealis-backups", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, o := range objs.Contents {
		if strings.HasPrefix(o.Key, prefix) {
			keys[o.Key] = o.ETag
		}
	}
	return keys
}

// With an S3 repository no cluster's account holds the bucket's keys, even while a backup
// or a snapshot of its cluster runs (pgBackRest as root, its PostgreSQL-side remote as the account):
// not in a file it can read, not in any process's environment or command line it can
// see. As that account, pgBackRest cannot reach another cluster's stanza, and the archive
// relay pushes nothing for it but to its own stanza, whatever it claims; a local user
// that is no cluster's is refused; nobody can put a socket where the relay listens.
func TestS3TenantsHoldNoBucketKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst, mem, _ := newS3Installation(t, ctx, testLogger())
	victim := inst.cluster(t, "victim")
	inst.create(t, ctx, victim)
	attacker := inst.cluster(t, "attacker")
	inst.create(t, ctx, attacker)
	inst.archived(t, ctx, victim)
	inst.archived(t, ctx, attacker)
	if _, err := inst.m.Backup(ctx, victim.c); err != nil {
		t.Fatal(err)
	}
	victimPrefix := "site-a/" + victim.c.ResourceID + "/"
	before := bucketObjects(t, mem, victimPrefix)
	sock := inst.m.RelaySocket()
	me := attacker.c.OSUser

	// The secret, wherever the account can look, during its own cluster's backup.
	// (The pattern does not match itself: the grep's own command line is not a hit.)
	pattern := testS3Secret[:len(testS3Secret)-1] + "[" + testS3Secret[len(testS3Secret)-1:] + "]"
	list := filepath.Join(inst.root, "hunt-files") // names only
	hunt := func() string {
		t.Helper()
		// Every file of the installation (listed by root: the account cannot list most
		// directories, but may know the names), and every process's environment and
		// command line; the account greps those it can read.
		var names []string
		for _, dir := range []string{inst.root, "/proc"} {
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				switch {
				case err != nil:
					return nil
				case dir == "/proc" && d.IsDir() && p != "/proc" && (strings.Count(p, "/") > 2 || strings.Trim(d.Name(), "0123456789") != ""):
					return filepath.SkipDir
				case dir == "/proc" && (d.Name() == "environ" || d.Name() == "cmdline"):
					names = append(names, p)
				case dir != "/proc" && d.Type().IsRegular() && p != inst.m.o.RelayCommand[0]: // (the test binary holds the test's secret)
					names = append(names, p)
				}
				return nil
			})
		}
		if err := os.WriteFile(list, []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _ := asUser(t, me, "xargs -d '\\n' -a "+list+" grep -lsE -e '"+pattern+"'; true")
		return strings.TrimSpace(out)
	}
	during := func(what string, op func() error) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- op() }()
		for running := true; running; {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				running = false
			default:
			}
			if out := hunt(); out != "" {
				t.Fatalf("as %s, during %s, the bucket's secret key is in:\n%s", me, what, out)
			}
		}
	}
	during("a backup of its cluster", func() error {
		_, err := inst.m.Backup(ctx, attacker.c)
		return err
	})
	// A snapshot too: archive_command pushes to the snapshot's repository as well, and
	// the account's configuration still names no repository.
	during("a snapshot of its cluster", func() error {
		if _, err := inst.m.TakeSnapshot(ctx, attacker.c, "attacker-snap"); err != nil {
			return err
		}
		if conf, err := os.ReadFile(confPath(attacker.c)); err != nil || strings.Contains(string(conf), "repo") {
			return fmt.Errorf("the account's configuration after the snapshot (%v):\n%s", err, conf)
		}
		return nil
	})
	if p := inst.m.SnapshotStatus("attacker-snap"); p.Phase != PhaseComplete {
		t.Fatalf("the attacker's snapshot: %+v", p)
	}

	// pgBackRest as the account, with its cluster's configuration, aimed at the victim's
	// repository in the bucket.
	endpoint := inst.m.o.S3.Endpoint
	probe := inst.m.bin + " --config=" + confPath(attacker.c) + " --stanza=" + victim.c.ResourceID +
		" --repo1-type=s3 --repo1-s3-bucket=borealis-backups --repo1-s3-endpoint=" + endpoint +
		" --repo1-s3-region=us-east-1 --repo1-s3-uri-style=path --repo1-storage-verify-tls=n" +
		" --repo1-path=/site-a/" + victim.c.ResourceID + " --log-level-console=error repo-ls"
	if out, err := asUser(t, me, probe); err == nil {
		t.Errorf("as %s, pgBackRest listed the victim's repository:\n%s", me, out)
	}
	// Root's files: its configurations, the wrapper, and the place of the relay's socket.
	for _, p := range []string{
		"cat " + inst.m.rootConfPath(attacker.c.ResourceID),
		"ls " + inst.m.s3Dir(),
		"rm -f " + sock,
		"touch " + filepath.Join(inst.m.o.Root, "squat.sock"),
	} {
		if out, err := asUser(t, me, p); err == nil || !strings.Contains(out, "Permission denied") {
			t.Errorf("as %s: %s: %v %q; want Permission denied", me, p, err, out)
		}
	}

	// The relay, by its own client and raw.
	relay := inst.m.o.RelayCommand
	if out, err := asUser(t, me, strings.Join(relay, " ")+" push "+sock+" "+victim.c.ResourceID+" 000000010000000000000042 /etc/hostname"); err == nil || !strings.Contains(out, "refused") {
		t.Errorf("the relay client, as %s, pushing to the victim's stanza: %v %q; want refused", me, err, out)
	}
	seg := "000000010000000000000042"
	for _, c := range []struct{ who, request, want string }{
		{me, "push " + victim.c.ResourceID + " " + seg + " 5\nhello", "refused"},
		{me, "push " + attacker.c.ResourceID + " ../" + victim.c.ResourceID + "/" + seg + " 5\nhello", "malformed"},
		{me, "push ../site-a/" + victim.c.ResourceID + " " + seg + " 5\nhello", "malformed"},
		{me, "push " + attacker.c.ResourceID + " " + seg + " 99999999999\nhello", "malformed"},
		{me, "push " + attacker.c.ResourceID + " " + seg + " " + fmt.Sprint(maxWALFile+1) + "\nhello", "malformed"}, // more than a segment
		{me, "push " + attacker.c.ResourceID + " " + seg + " 5 extra\nhello", "malformed"},
		{"nobody", "push " + victim.c.ResourceID + " " + seg + " 5\nhello", "refused"},
		{"nobody", "push " + attacker.c.ResourceID + " " + seg + " 5\nhello", "refused"},
	} {
		if got := rawRelay(t, c.who, sock, c.request); !strings.HasPrefix(got, "error") || !strings.Contains(got, c.want) {
			t.Errorf("as %s, %q: the relay answered %q; want an error saying %s", c.who, c.request, got, c.want)
		}
	}
	// Idle connections of one account do not hold the relay from the others.
	// (The pause lets serve take the four before the fifth comes.)
	py := fmt.Sprintf(`import socket,sys,time
held=[]
for i in range(4):
    s=socket.socket(socket.AF_UNIX); s.connect(%q); held.append(s)
time.sleep(1)
s=socket.socket(socket.AF_UNIX); s.connect(%q)
sys.stdout.write(s.makefile().readline())`, sock, sock)
	if out, err := asUser(t, me, "python3 -c '"+py+"'"); err != nil || !strings.Contains(out, "busy") {
		t.Errorf("a fifth idle connection of one account: %v %q; want busy", err, out)
	}
	inst.archived(t, ctx, victim)
	// Its own stanza takes only real WAL of its own cluster (pgBackRest checks the header).
	if got := rawRelay(t, me, sock, "push "+attacker.c.ResourceID+" "+seg+" 5\nhello"); !strings.HasPrefix(got, "error") {
		t.Errorf("a forged segment was archived: %q", got)
	}
	// The victim's repository lost or changed nothing (it may have gained its own WAL),
	// and holds nothing the attacker sent.
	after := bucketObjects(t, mem, victimPrefix)
	for k, etag := range before {
		if after[k] != etag {
			t.Errorf("the victim's %s was removed or changed", k)
		}
	}
	for k := range after {
		if strings.Contains(k, seg) {
			t.Errorf("the victim's repository holds %s", k)
		}
	}
}

// kill -9 of serve: the relay's socket stays behind, unanswered; archive_command fails
// and PostgreSQL keeps the segment and retries; the next serve replaces the socket and
// the segment is archived.
func TestS3ArchivingResumesAfterServeDies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inst, _, stop := newS3Installation(t, ctx, testLogger())
	cl := inst.cluster(t, "resume")
	inst.create(t, ctx, cl)
	inst.archived(t, ctx, cl)
	stop()
	// What a killed serve leaves: a socket file nobody answers.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: inst.m.RelaySocket(), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	c := inst.conn(t, ctx, cl)
	sqlExec(t, ctx, c, "CREATE TABLE public.t AS SELECT 1 n")
	var seg string
	if err := c.QueryRow(ctx, "SELECT pg_walfile_name(pg_switch_wal())").Scan(&seg); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var failed *string
		if err := c.QueryRow(ctx, "SELECT last_failed_wal FROM pg_stat_archiver").Scan(&failed); err != nil {
			t.Fatal(err)
		}
		if failed != nil && *failed >= seg {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive_command never failed with serve gone; log:\n%s", tail(cl.spec.LogFile))
		}
	}
	// serve starts again.
	m2, err := New(testLogger(), inst.m.o)
	if err != nil {
		t.Fatal(err)
	}
	stop2, err := m2.ListenRelay(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	inst.archived(t, ctx, cl)
}

// serve refuses to listen when the relay's client is a program the clusters' accounts
// cannot run (archiving would fail for every cluster, silently until someone looked).
func TestRelayRefusesAProgramTheAccountsCannotRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	s3, err := ReadS3Config(writeS3Config(t, fullS3Config, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	private := t.TempDir() // 0700: others cannot search it
	prog := filepath.Join(private, "borealis")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	m, err := New(testLogger(), Options{Root: root, KeyFile: filepath.Join(root, "key"), S3: s3, RelayCommand: []string{prog, relayArg}})
	if err != nil {
		t.Fatal(err)
	}
	if stop, err := m.ListenRelay(context.Background()); err == nil || !strings.Contains(err.Error(), "others need x") {
		if err == nil {
			stop()
		}
		t.Fatalf("ListenRelay with %s: %v; want a refusal", prog, err)
	}
}
