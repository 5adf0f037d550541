package engine

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Each cluster's server runs under an OS account of its own (a tenant), so that nothing a
// database user makes its server open (libpq's sslkey, sslcert, passfile, host=<socket
// directory>, ...) reaches another cluster's files: they are the other account's, 0700.

// tenantPrefix starts the name of every account Borealis makes; TenantMarker is their GECOS
// field. An account is only ever used or removed when it carries both: Borealis never
// takes over or deletes an account it did not make.
const (
	tenantPrefix = "borealis-"
	TenantMarker = "Borealis PostgreSQL tenant"
)

var tenantRE = regexp.MustCompile(`^` + tenantPrefix + `[0-9a-f]{12}$`)

// TenantUser is the OS account the server of the volume named id runs as (Spec.OSUser): a
// stable short hash of the id, so that every start, on every Borealis run, finds the same
// account. 21 characters, within useradd's 32.
func TenantUser(id string) string {
	sum := sha256.Sum256([]byte(id))
	return tenantPrefix + hex.EncodeToString(sum[:6])
}

// lookupAccount finds a passwd entry by name (never a hard-coded uid).
func lookupAccount(name string) (account, *user.User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, nil, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return account{}, nil, fmt.Errorf("engine: account %q: %w", name, err)
	}
	if uid == 0 {
		return account{}, nil, fmt.Errorf("engine: account %q is root; PostgreSQL refuses to run as root", name)
	}
	a := account{name: name, uid: uint32(uid), gid: uint32(gid), setuid: true}
	gids, err := u.GroupIds()
	if err != nil {
		return account{}, nil, fmt.Errorf("engine: groups of %q: %w", name, err)
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			a.groups = append(a.groups, uint32(n))
		}
	}
	return a, u, nil
}

func unknownUser(err error) bool {
	var uerr user.UnknownUserError
	return errors.As(err, &uerr)
}

// ensureTenant returns the account named s.OSUser, creating it when missing: a system
// account with a group of its own, no login shell, and the volume directory (the parent of
// DataDir, which it cannot write) as its home, where libpq finds no ~/.pgpass,
// ~/.pg_service.conf or ~/.postgresql. Idempotent; l.tenantMu serialises useradd, which
// fails on a locked /etc/passwd.
func (l *Local) ensureTenant(ctx context.Context, s Spec) (account, error) {
	l.tenantMu.Lock()
	defer l.tenantMu.Unlock()
	name := s.OSUser
	for attempt := 0; ; attempt++ {
		a, u, err := lookupAccount(name)
		if err == nil {
			if u.Name != TenantMarker {
				return account{}, fmt.Errorf("engine: %s: account %q exists but Borealis did not make it (GECOS %q); refusing to run the server as it",
					s.Name, name, u.Name)
			}
			if err := l.homeIs(ctx, s, u); err != nil {
				return account{}, err
			}
			// Only its own group: nothing inherited from root's.
			a.groups = []uint32{a.gid}
			return a, nil
		}
		if !unknownUser(err) {
			return account{}, err
		}
		if attempt == 5 {
			return account{}, fmt.Errorf("engine: %s: account %q still missing after useradd", s.Name, name)
		}
		args := []string{"--system", "--no-create-home", "--home-dir", filepath.Dir(s.DataDir),
			"--shell", nologin(), "--comment", TenantMarker}
		if _, gerr := user.LookupGroup(name); gerr == nil {
			args = append(args, "--gid", name) // left by a useradd that died half-way
		} else {
			args = append(args, "--user-group")
		}
		out, err := exec.CommandContext(ctx, "useradd", append(args, name)...).CombinedOutput()
		if errors.Is(err, exec.ErrNotFound) {
			return account{}, fmt.Errorf("engine: %s: useradd is needed to give the server an account of its own: %w", s.Name, err)
		}
		if err != nil {
			l.log.Warn("useradd failed; retrying", "account", name, "err", err, "output", strings.TrimSpace(string(out)))
			select {
			case <-ctx.Done():
				return account{}, ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
			}
			continue
		}
		l.log.Info("made the OS account of a cluster", "instance", s.Name, "account", name)
	}
}

// homeIs checks that the account's home is the volume directory of s: one account never
// serves two volumes (were two ids to hash alike). A home that no longer exists is a
// volume that moved (another --data-dir): the account follows it.
func (l *Local) homeIs(ctx context.Context, s Spec, u *user.User) error {
	vol := filepath.Dir(s.DataDir)
	if u.HomeDir == vol {
		return nil
	}
	if _, err := os.Lstat(u.HomeDir); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("engine: %s: account %q belongs to the volume in %s, not %s", s.Name, u.Username, u.HomeDir, vol)
	}
	if out, err := exec.CommandContext(ctx, "usermod", "--home", vol, u.Username).CombinedOutput(); err != nil {
		return fmt.Errorf("engine: %s: usermod --home %s %s: %v: %s", s.Name, vol, u.Username, err, strings.TrimSpace(string(out)))
	}
	l.log.Warn("the volume of an account moved", "instance", s.Name, "account", u.Username, "from", u.HomeDir, "to", vol)
	return nil
}

func nologin() string {
	for _, p := range []string{"/usr/sbin/nologin", "/sbin/nologin"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/bin/false"
}

// removeTenant deletes the account named name, and what it may still own outside the
// volume (shared memory), so that a later account given the same uid inherits nothing. A
// missing account is fine; one Borealis did not make is left alone.
func (l *Local) removeTenant(ctx context.Context, s Spec) error {
	l.tenantMu.Lock()
	defer l.tenantMu.Unlock()
	name := s.OSUser
	a, u, err := lookupAccount(name)
	switch {
	case unknownUser(err):
		if _, gerr := user.LookupGroup(name); gerr == nil {
			if out, err := exec.CommandContext(ctx, "groupdel", name).CombinedOutput(); err != nil {
				return fmt.Errorf("engine: %s: groupdel %s: %v: %s", s.Name, name, err, strings.TrimSpace(string(out)))
			}
		}
		return nil
	case err != nil:
		return err
	case u.Name != TenantMarker:
		l.log.Warn("not removing an account Borealis did not make", "instance", s.Name, "account", name)
		return nil
	}
	if err := removeSharedMemory(a.uid); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "userdel", name).CombinedOutput(); err != nil {
		return fmt.Errorf("engine: %s: userdel %s: %v: %s", s.Name, name, err, strings.TrimSpace(string(out)))
	}
	// USERGROUPS_ENAB removes the group with the user; where it is off, do it here.
	if _, gerr := user.LookupGroup(name); gerr == nil {
		if out, err := exec.CommandContext(ctx, "groupdel", name).CombinedOutput(); err != nil {
			return fmt.Errorf("engine: %s: groupdel %s: %v: %s", s.Name, name, err, strings.TrimSpace(string(out)))
		}
	}
	l.log.Info("removed the OS account of a cluster", "instance", s.Name, "account", name)
	return nil
}

// removeSharedMemory removes the POSIX (/dev/shm/PostgreSQL.*) and System V shared memory
// segments uid owns: a server killed with SIGKILL leaves them behind.
func removeSharedMemory(uid uint32) error {
	ents, err := os.ReadDir("/dev/shm")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("engine: %w", err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "PostgreSQL.") {
			continue
		}
		p := filepath.Join("/dev/shm", e.Name())
		if owner(p) == int64(uid) {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("engine: %w", err)
			}
		}
	}
	for _, id := range sysvSegments(uid) {
		if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EIDRM) {
			return fmt.Errorf("engine: removing shared memory segment %d: %w", id, err)
		}
	}
	return nil
}

// sysvSegments lists the System V shared memory segments uid owns.
func sysvSegments(uid uint32) []int {
	f, err := os.Open("/proc/sysvipc/shm")
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var idCol, uidCol = -1, -1
	var ids []int
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if idCol < 0 {
			for i, h := range fields {
				switch h {
				case "shmid":
					idCol = i
				case "uid":
					uidCol = i
				}
			}
			if idCol < 0 || uidCol < 0 {
				return nil
			}
			continue
		}
		if len(fields) <= max(idCol, uidCol) || fields[uidCol] != strconv.FormatUint(uint64(uid), 10) {
			continue
		}
		if id, err := strconv.Atoi(fields[idCol]); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// owner is the uid owning p (not following a symlink), or -1.
func owner(p string) int64 {
	fi, err := os.Lstat(p)
	if err != nil {
		return -1
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1
	}
	return int64(st.Uid)
}

// takeOver gives the tree at dir to account a: the upgrade of a volume that the shared
// account (or root) owns. dir itself is changed last, so a crash half-way leaves it with
// its old owner and the next start walks the whole tree again. A file with more than one
// link is refused: its other name may be another volume's.
func (l *Local) takeOver(a account, dir, what string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid == a.uid {
		return nil
	}
	if !fi.IsDir() {
		return fmt.Errorf("engine: %s %s is not a directory", what, dir)
	}
	if st.Uid != 0 && !l.sharedUID(st.Uid) {
		return fmt.Errorf("engine: %s %s belongs to uid %d, neither %s nor the shared account; refusing to take it over",
			what, dir, st.Uid, a.name)
	}
	l.log.Warn("giving a directory to the cluster's own account", "dir", dir, "account", a.name, "from_uid", st.Uid)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("engine: taking over %s: %w", dir, err)
	}
	err = chownBelow(fd, dir, a)
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("engine: taking over %s: %w", dir, err)
	}
	// The new owners are durable before dir's says the walk is done.
	if err := syncFS(dir); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return a.chown(dir)
}

// chownBelow gives every entry below the directory open as fd to a, by names relative to
// their directory and never through a symlink: a process of the old owner that swaps a
// directory for a symlink half-way cannot make root chown a file elsewhere.
func chownBelow(fd int, path string, a account) error {
	names, err := readDirNames(fd)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, name := range names {
		p := filepath.Join(path, name)
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if st.Nlink > 1 {
				return fmt.Errorf("%s has %d links; refusing to give it to %s", p, st.Nlink, a.name)
			}
			if err := unix.Fchownat(fd, name, int(a.uid), int(a.gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			continue
		}
		cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		err = chownBelow(cfd, p, a)
		if err == nil {
			err = unix.Fchown(cfd, int(a.uid), int(a.gid))
		}
		unix.Close(cfd)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// readDirNames lists the directory open as fd (without closing fd).
func readDirNames(fd int) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(dup), "")
	defer d.Close()
	return d.Readdirnames(-1)
}

// sharedUID tells whether uid is the shared account's (Options.OSUser), the owner of every
// volume before clusters had accounts of their own.
func (l *Local) sharedUID(uid uint32) bool {
	a, _, err := lookupAccount(l.shared)
	return err == nil && a.uid == uid
}

// forgetTenant undoes what the server's own account holds outside DataDir (already gone):
// its socket directory, the volume directory's group, then the account itself.
func (l *Local) forgetTenant(ctx context.Context, s Spec) error {
	if a, _, err := lookupAccount(s.OSUser); err == nil {
		if owner(s.SocketDir) == int64(a.uid) {
			if err := os.RemoveAll(s.SocketDir); err != nil {
				return fmt.Errorf("engine: %w", err)
			}
		}
		vol := filepath.Dir(s.DataDir)
		if fi, err := os.Lstat(vol); err == nil && fi.IsDir() && owner(vol) == 0 && fi.Sys().(*syscall.Stat_t).Gid == a.gid {
			if err := os.Lchown(vol, 0, 0); err != nil {
				return fmt.Errorf("engine: %w", err)
			}
		}
	}
	return l.removeTenant(ctx, s)
}

// syncFS flushes the filesystem holding p.
func syncFS(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
