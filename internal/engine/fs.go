package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// account is the OS user PostgreSQL runs as.
type account struct {
	name     string
	uid, gid uint32
	groups   []uint32
	// setuid is true when Borealis runs as root and must switch to the
	// account; otherwise PostgreSQL runs as Borealis' own user.
	setuid bool
}

func lookupAccount(name string) (account, error) {
	if os.Geteuid() != 0 {
		u, _ := user.Current()
		a := account{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}
		if u != nil {
			a.name = u.Username
		}
		return a, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, fmt.Errorf("engine: PostgreSQL must not run as root and the %q account is missing: %w", name, err)
	}
	a := account{name: name, setuid: true}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return account{}, fmt.Errorf("engine: account %q: %w", name, err)
	}
	if uid == 0 {
		return account{}, fmt.Errorf("engine: account %q is root; PostgreSQL refuses to run as root", name)
	}
	a.uid, a.gid = uint32(uid), uint32(gid)
	gids, err := u.GroupIds()
	if err != nil {
		return account{}, fmt.Errorf("engine: groups of %q: %w", name, err)
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err == nil {
			a.groups = append(a.groups, uint32(n))
		}
	}
	return a, nil
}

func (a account) credential() *syscall.Credential {
	if !a.setuid {
		return nil
	}
	return &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}
}

// may reports whether the account has the permission bits want (r=4, w=2,
// x=1) on fi, by the classic owner/group/other rule (ACLs aside).
func (a account) may(fi fs.FileInfo, want uint32) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	mode := uint32(fi.Mode().Perm())
	switch {
	case st.Uid == a.uid:
		return (mode>>6)&want == want
	case st.Gid == a.gid || a.inGroup(st.Gid):
		return (mode>>3)&want == want
	default:
		return mode&want == want
	}
}

func (a account) inGroup(g uint32) bool {
	for _, x := range a.groups {
		if x == g {
			return true
		}
	}
	return false
}

// checkTraversable fails, naming the directory, when an existing ancestor of
// p cannot be searched by the account. Missing ancestors are created 0711.
func (a account) checkTraversable(p string) error {
	if !a.setuid {
		return nil
	}
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("engine: %w", err)
		case !fi.IsDir():
			return fmt.Errorf("engine: %s (a parent of %s) is not a directory", d, p)
		case !a.may(fi, 1):
			return fmt.Errorf("engine: directory %s is not traversable by the %s account (uid %d), so PostgreSQL cannot reach %s; grant it search (x) permission or choose another place",
				d, a.name, a.uid, p)
		}
		if d == "/" {
			return nil
		}
	}
}

// mkdirParents creates the missing parents of p as root-owned 0711
// directories: traversable by PostgreSQL, listable by nobody else.
func mkdirParents(p string) error {
	parent := filepath.Dir(p)
	if _, err := os.Stat(parent); err == nil {
		return nil
	}
	if err := mkdirParents(parent); err != nil {
		return err
	}
	if err := os.Mkdir(parent, 0o711); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return fmt.Errorf("engine: %w", err)
	}
	return os.Chmod(parent, 0o711) // undo the umask
}

// ensureOwnedDir makes dir exist with mode perm, owned by the account. Only
// used for directories that are PostgreSQL's own (DataDir) or that the engine
// creates (SocketDir when missing).
func (a account) ensureOwnedDir(dir string, perm fs.FileMode) error {
	if err := mkdirParents(dir); err != nil {
		return err
	}
	if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("engine: %w", err)
	}
	if err := a.chown(dir); err != nil {
		return err
	}
	if err := os.Chmod(dir, perm); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}

func (a account) chown(p string) error {
	if !a.setuid {
		return nil
	}
	if err := os.Lchown(p, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}

// prepareSocketDir creates SocketDir for the account, or checks that an
// existing one is writable by it (it is not ours to chmod).
func (a account) prepareSocketDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return a.ensureOwnedDir(dir, 0o755)
	case err != nil:
		return fmt.Errorf("engine: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("engine: socket directory %s is not a directory", dir)
	case a.setuid && !a.may(fi, 3):
		return fmt.Errorf("engine: socket directory %s is not writable by the %s account (uid %d)", dir, a.name, a.uid)
	}
	return nil
}

// writeFile atomically replaces path with data, owned by the account. The
// temporary name ends in ".tmp" (see wipeable).
func (a account) writeFile(path string, data []byte, perm fs.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	err = f.Chmod(perm) // umask, or a leftover tmp with other bits
	if err == nil && a.setuid {
		err = f.Chown(int(a.uid), int(a.gid))
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("engine: writing %s: %w", path, err)
	}
	return nil
}

// syncDir makes a rename or a new file in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// wipeable reports whether a DataDir entry is one PostgreSQL or Borealis
// writes there: Create only wipes a half-made volume made of such names, so a
// wrong DataDir never loses someone else's files.
func wipeable(name string) bool {
	switch name {
	case "PG_VERSION", "base", "global", "postmaster.pid", "postmaster.opts", "current_logfiles",
		"log", confFile, autoConfFile, managedConf, hbaFile, "pg_ident.conf", certFile, keyFile, Marker:
		return true
	}
	return strings.HasPrefix(name, "pg_") || strings.HasSuffix(name, ".tmp")
}

// wipeDir empties dir (kept itself: it may be a mount point).
func wipeDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	for _, e := range entries {
		if !wipeable(e.Name()) {
			return fmt.Errorf("engine: refusing to wipe half-made data directory %s: it holds %q, which neither PostgreSQL nor Borealis writes", dir, e.Name())
		}
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("engine: %w", err)
		}
	}
	return nil
}
