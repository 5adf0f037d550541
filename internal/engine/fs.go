package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
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
			return fmt.Errorf("engine: %w: directory %s is not traversable by the %s account (uid %d), so PostgreSQL cannot reach %s; grant it search (x) permission or choose another place",
				ErrUnreachable, d, a.name, a.uid, p)
		}
		if d == "/" {
			return nil
		}
	}
}

// ErrUnreachable is a directory of a server that its account cannot reach (a parent it
// may not traverse): the server cannot start until the host's permissions change.
var ErrUnreachable = errors.New("directory unreachable by the server's account")

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

// ensureLogDir makes the server's log directory (Spec.LogDir), the account's and 0700:
// never through a link, and its parent must be no one else's to swap (checkNotSwappable;
// a volume directory is root's).
func (a account) ensureLogDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := checkNotSwappable(dir); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("engine: %w", err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("engine: log directory %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if a.setuid {
		if err := unix.Fchown(fd, int(a.uid), int(a.gid)); err != nil {
			return fmt.Errorf("engine: log directory %s: %w", dir, err)
		}
	}
	if err := unix.Fchmod(fd, 0o700); err != nil {
		return fmt.Errorf("engine: log directory %s: %w", dir, err)
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

// prepareTenantSocketDir makes SocketDir the tenant's own, 0700: no other account may
// connect to the socket, list the directory, or swap the socket for one of its own (which
// would receive Borealis' rdsadmin password). An existing directory is taken over only from
// the shared account (an upgrade) or, when empty, from root.
func (l *Local) prepareTenantSocketDir(a account, dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := mkdirParents(dir); err != nil {
			return err
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return fmt.Errorf("engine: %w", err)
		}
	case err != nil:
		return fmt.Errorf("engine: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("engine: socket directory %s is not a directory", dir)
	default:
		switch uid := fi.Sys().(*syscall.Stat_t).Uid; {
		case uid == a.uid, uid == 0 && emptyDir(dir):
		case l.sharedUID(uid):
			if err := l.takeOver(a, dir, "socket directory"); err != nil {
				return err
			}
		default:
			return fmt.Errorf("engine: socket directory %s belongs to uid %d; the server needs one of its own (owned by %s)", dir, uid, a.name)
		}
	}
	// Through a descriptor of the directory itself: in a sticky directory (/tmp) its owner
	// may rename it away and put a symlink in its place since the checks above.
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("engine: socket directory %s: %w", dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if st.Uid != a.uid && st.Uid != 0 {
		return fmt.Errorf("engine: socket directory %s belongs to uid %d; the server needs one of its own (owned by %s)", dir, st.Uid, a.name)
	}
	if err := unix.Fchown(fd, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if err := unix.Fchmod(fd, 0o700); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}

func emptyDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) == 0
}

// prepareVolumeDir keeps the volume directory (DataDir's parent, which also holds the log
// and initdb's password file) root's, searchable by the tenant's group alone: the tenant
// cannot put a symlink where Borealis, as root, opens the log, and any other account gets
// "Permission denied" for every name below it, existing or not.
func prepareVolumeDir(a account, vol string) error {
	fi, err := os.Lstat(vol)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	switch {
	case vol == "/" || !fi.IsDir():
		return fmt.Errorf("engine: %s cannot be a volume directory (the parent of a data directory)", vol)
	case st.Uid != 0:
		return fmt.Errorf("engine: volume directory %s belongs to uid %d, not root", vol, st.Uid)
	}
	if err := os.Lchown(vol, 0, int(a.gid)); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if err := os.Chmod(vol, 0o710); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}

// checkNotSwappable fails when a directory above p is writable by every account without the
// sticky bit: another tenant could then rename p away and put its own in its place.
func checkNotSwappable(p string) error {
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil && fi.Mode().Perm()&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0 {
			return fmt.Errorf("engine: directory %s (above %s) is writable by every account; make it 0755 or sticky", d, p)
		}
		if d == "/" {
			return nil
		}
	}
}

// openLog opens the server's log for appending, as Borealis: root's, 0600, never through
// a symlink. The server only ever gets the open descriptor.
func openLog(path string, root bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err == nil && root {
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 0 {
			err = f.Chown(0, 0)
		}
	}
	if err == nil && fi.Mode().Perm() != 0o600 {
		err = f.Chmod(0o600)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("engine: log file: %w", err)
	}
	return f, nil
}

// writeFile atomically replaces path with data, owned by the account. The
// temporary name ends in ".tmp" (see wipeable). It is made afresh, never
// opened through a symlink or link the account put there: Borealis writes
// as root into directories the account owns.
func (a account) writeFile(path string, data []byte, perm fs.FileMode) error {
	if a.holds(path, data, perm) {
		return nil // nothing to write: a full volume does not stop a start
	}
	err := replaceFile(path, data, perm, func(f *os.File) error {
		err := f.Chmod(perm) // umask, or a leftover tmp with other bits
		if err == nil && a.setuid {
			err = f.Chown(int(a.uid), int(a.gid))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("engine: writing %s: %w", path, err)
	}
	return nil
}

// replaceFile atomically replaces path with data: a temporary path+".tmp" made afresh
// (never opened through a symlink or a link someone put there), given its mode and owner by
// own (nil: as made), written, synced and renamed over path.
func replaceFile(path string, data []byte, perm fs.FileMode, own func(*os.File) error) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, perm)
	if err != nil {
		return err
	}
	if own != nil {
		err = own(f)
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
	}
	return err
}

// holds reports whether path already is a plain file of the account's with
// exactly data and perm, so that writeFile has nothing to do.
func (a account) holds(path string, data []byte, perm fs.FileMode) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != perm || fi.Size() != int64(len(data)) {
		return false
	}
	if st := fi.Sys().(*syscall.Stat_t); a.setuid && (st.Uid != a.uid || st.Gid != a.gid) {
		return false
	}
	b, err := readPlain(path)
	return err == nil && bytes.Equal(b, data)
}

// readPlain reads a file that the server's account may have replaced, as
// root: never through a symlink, a FIFO or a second hard link, which would
// make Borealis read (and copy into the account's files) a file of root's.
func readPlain(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is not a plain file but a symlink", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
		return nil, fmt.Errorf("%s is not a plain file", path)
	}
	return io.ReadAll(io.LimitReader(f, 16<<20))
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
