package engine

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestSocketDirSwappedForASymlink: a socket directory in a sticky directory (/tmp, where
// a long data directory path puts it) can be renamed away by its owner, the tenant's
// account, and a symlink put in its place between the engine's check and its chmod; the
// chmod must not follow it to a file of root's.
func TestSocketDirSwappedForASymlink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	a, _, err := lookupAccount("postgres")
	if err != nil {
		t.Fatal(err)
	}
	a.setuid = true
	root := testRoot(t)
	target := filepath.Join(root, "roots-file")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "sock")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, int(a.uid), int(a.gid)); err != nil {
		t.Fatal(err)
	}
	l := &Local{}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() { // the tenant, swapping as fast as it can
		defer close(done)
		aside := dir + ".aside"
		for !stop.Load() {
			if os.Rename(dir, aside) == nil {
				os.Symlink(target, dir)
				os.Remove(dir)
				os.Rename(aside, dir)
			}
		}
	}()
	for i := 0; i < 20000; i++ {
		l.prepareTenantSocketDir(a, dir)
		if fi, err := os.Stat(target); err == nil && fi.Mode().Perm() != 0o644 {
			t.Errorf("after %d tries, root's file is mode %v", i+1, fi.Mode().Perm())
			break
		}
	}
	stop.Store(true)
	<-done
}
