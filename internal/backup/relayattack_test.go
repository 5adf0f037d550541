package backup

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A local user who can replace the relay's directory (it owns the repository root, or can
// rename a directory above it) could put its own socket there, read every cluster's WAL
// in the clear and answer "ok" for segments no bucket holds: serve refuses to listen
// there (and says where), before any archive_command sends anything.
func TestRelayRefusesADirectoryOthersCanReplace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	s3, err := ReadS3Config(writeS3Config(t, fullS3Config, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	nobody, err := lookupAccount("nobody")
	if err != nil {
		t.Skip(err)
	}
	prog := relayBinary(t, runnableDir(t))
	for _, c := range []struct {
		name  string // short: the socket's path is bounded
		setup func(base string) (root string)
	}{
		{"owned-root", func(base string) string {
			root := filepath.Join(base, "repo")
			mkdirOwned(t, root, 0o711, nobody.uid, nobody.gid) // made before serve's first start
			return root
		}},
		{"owned-parent", func(base string) string {
			home := filepath.Join(base, "home")
			mkdirOwned(t, home, 0o755, nobody.uid, nobody.gid)
			return filepath.Join(home, "repo")
		}},
		{"open-parent", func(base string) string {
			shared := filepath.Join(base, "shared")
			mkdirOwned(t, shared, 0o777, 0, 0)
			return filepath.Join(shared, "repo")
		}},
		{"link", func(base string) string {
			home := filepath.Join(base, "home")
			mkdirOwned(t, home, 0o755, nobody.uid, nobody.gid)
			real := filepath.Join(base, "real")
			mkdirOwned(t, real, 0o755, 0, 0)
			if err := os.Symlink(real, filepath.Join(home, "link")); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(home, "link", "repo")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := runnableDir(t)
			root := c.setup(base)
			m, err := New(testLogger(), Options{Root: root, KeyFile: filepath.Join(runnableDir(t), "key"), S3: s3, RelayCommand: []string{prog, relayArg}})
			if err != nil {
				t.Fatal(err)
			}
			stop, err := m.ListenRelay(context.Background())
			if err == nil {
				stop()
				t.Fatalf("the relay listens at %s", m.RelaySocket())
			}
			if !strings.Contains(err.Error(), "could replace") {
				t.Fatalf("ListenRelay: %v; want a refusal naming the directory", err)
			}
		})
	}
	// archive_command's program, which every cluster's account runs.
	for _, c := range []struct {
		name  string
		setup func(dir string) string
	}{
		{"prog-owned", func(dir string) string {
			p := relayBinary(t, dir)
			if err := os.Lchown(p, nobody.uid, nobody.gid); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"prog-writable", func(dir string) string {
			p := relayBinary(t, dir)
			if err := os.Chmod(p, 0o757); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"prog-dir", func(dir string) string {
			d := filepath.Join(dir, "bin")
			mkdirOwned(t, d, 0o755, nobody.uid, nobody.gid)
			return relayBinary(t, d)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := c.setup(runnableDir(t))
			m, err := New(testLogger(), Options{Root: filepath.Join(runnableDir(t), "repo"), KeyFile: filepath.Join(runnableDir(t), "key"), S3: s3, RelayCommand: []string{p, relayArg}})
			if err != nil {
				t.Fatal(err)
			}
			stop, err := m.ListenRelay(context.Background())
			if err == nil {
				stop()
				t.Fatalf("the relay listens, with archive_command running %s", p)
			}
			if !strings.Contains(err.Error(), "could replace") {
				t.Fatalf("ListenRelay: %v; want a refusal naming the program", err)
			}
		})
	}
	// The usual places are fine: a root-owned tree, /tmp's sticky bit.
	m, err := New(testLogger(), Options{Root: filepath.Join(runnableDir(t), "repo"), KeyFile: filepath.Join(runnableDir(t), "key"), S3: s3, RelayCommand: []string{prog, relayArg}})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := m.ListenRelay(context.Background())
	if err != nil {
		t.Fatalf("ListenRelay in a root-owned tree: %v", err)
	}
	stop()
}

// runnableDir is a fresh root-owned directory others may search (0711).
func runnableDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(d), 0o711); err != nil {
		t.Fatal(err)
	}
	return d
}

func mkdirOwned(t *testing.T, dir string, perm os.FileMode, uid, gid int) {
	t.Helper()
	if err := os.Mkdir(dir, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// Any local user may connect to the relay (the peer's uid is checked after the request
// line). A request line without its end is refused once it is longer than any request,
// not gathered in serve's memory for as long as the sender keeps sending (four
// connections per uid, every local uid: serve's memory, whole).
func TestRelayReadsNoUnendingRequestLine(t *testing.T) {
	m := &Manager{log: testLogger(), o: Options{Root: t.TempDir()}, pushes: &tryLocks{}, relayConns: &uidCounts{}}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	sf := os.NewFile(uintptr(fds[0]), "serve")
	serveSide, err := net.FileConn(sf) // a copy: the relay's close is the last
	sf.Close()
	if err != nil {
		t.Fatal(err)
	}
	client := os.NewFile(uintptr(fds[1]), "client")
	defer client.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer serveSide.Close()
		m.serveRelay(context.Background(), serveSide.(*net.UnixConn))
	}()
	const limit = 64 << 20
	chunk := []byte(strings.Repeat("a", 64<<10))
	sent := 0
	for sent < limit {
		n, err := client.Write(chunk)
		sent += n
		if err != nil {
			break // serve closed the connection
		}
	}
	if sent >= limit {
		t.Errorf("serve read %d bytes of one request line", sent)
	}
	syscall.Shutdown(fds[1], syscall.SHUT_WR)
	<-done
}

// lockedBuffer is a log destination for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A local user that is no cluster's asks the relay again and again: each is refused, and
// serve's log says so once a minute per uid (with the count), not once per request.
func TestRelayRefusalsDoNotFloodTheLog(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := lookupAccount("nobody"); err != nil {
		t.Skip(err)
	}
	s3, err := ReadS3Config(writeS3Config(t, fullS3Config, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	dir := runnableDir(t)
	m, err := New(slog.New(slog.NewTextHandler(&logs, nil)), Options{Root: filepath.Join(dir, "repo"), KeyFile: filepath.Join(dir, "key"), S3: s3, RelayCommand: []string{relayBinary(t, dir), relayArg},
		Now: func() time.Time { return time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC) }}) // all within one minute
	if err != nil {
		t.Fatal(err)
	}
	stop, err := m.ListenRelay(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const requests = 50
	py := fmt.Sprintf(`import socket,sys
for i in range(%d):
    s=socket.socket(socket.AF_UNIX); s.connect(%q)
    s.sendall(b"push cluster-x-0123456789ab 000000010000000000000001 5\nhello"); s.shutdown(socket.SHUT_WR)
    sys.stdout.write(s.makefile().readline()); s.close()`, requests, m.RelaySocket())
	out, err := asUser(t, "nobody", "python3 -c '"+py+"'")
	stop()
	if err != nil || strings.Count(out, "refused") != requests {
		t.Fatalf("as nobody: %v %q", err, out)
	}
	if n := strings.Count(logs.String(), "refused a WAL push"); n > 1 {
		t.Errorf("serve logged %d lines for %d refusals of one uid", n, requests)
	}
}
