package backup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
