package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A server's environment names it and its owner (Options.Owner): the marks a later run
// looks for before it adopts or reaps a running server. Only root and the server's own
// account can read them, and neither can forge them for a server of another volume (the
// data directory, its inode and the account are checked too).
const (
	envInstance = "BOREALIS_INSTANCE"
	envOwner    = "BOREALIS_OWNER"
)

// startSlack is how far a process's start time may lie from the one its postmaster.pid
// records (the file is written a moment after the fork; the clock ticks are 10 ms).
const startSlack = 3 * time.Second

// adoptable finds the server an earlier run of this driver's owner started for s and
// that still runs, pinned by a pidfd from before the checks, so that what they found stays
// true of the process the driver then signals. ok is false when there is none: any
// postgres left on DataDir is then a stray, for launchReady to stop.
func (l *Local) adoptable(s Spec, a account) (pidfd int, pf pidFileInfo, ok bool) {
	pf, ok = readPidFileInfo(filepath.Join(s.DataDir, pidFile))
	if !ok {
		return -1, pf, false
	}
	fd, err := unix.PidfdOpen(pf.pid, 0)
	if err != nil {
		return -1, pf, false
	}
	if why := l.notOurs(s, a, pf); why != "" {
		unix.Close(fd)
		if alive(pf.pid) {
			l.log.Info("not adopting the process postmaster.pid names", "instance", s.Name, "pid", pf.pid, "why", why)
		}
		return -1, pf, false
	}
	return fd, pf, true
}

// notOurs says why the process pf names is not a server to adopt for s, or "".
func (l *Local) notOurs(s Spec, a account, pf pidFileInfo) string {
	pid := pf.pid
	switch {
	case !alive(pid):
		return "not running"
	case !isPostgres(pid):
		return "not a postgres process (its PID was given to another process)"
	case isBackendTitle(pid):
		return "a backend, not a postmaster"
	case pf.dataDir != s.DataDir || !sameDir(pid, s.DataDir):
		return "not working on this data directory"
	case !serving(pf.status) && pf.status != "starting":
		return "status " + strconv.Quote(pf.status)
	}
	if uid, ok := procUIDOf(pid); !ok || uid != a.uid {
		return "runs as another account"
	}
	started, ok := procStartTime(pid)
	if d := started.Sub(pf.start); !ok || d > startSlack || d < -startSlack {
		return "started at another time than postmaster.pid records (its PID was given to another process)"
	}
	if name, ok := procEnv(pid, envInstance); !ok || name != s.Name {
		return "not started by Borealis for " + s.Name
	}
	if owner, ok := procEnv(pid, envOwner); !ok || owner != l.owner {
		return "started by another Borealis"
	}
	return ""
}

// adopt makes the running server pf names this driver's, then catches it up with s: the
// files are rewritten and reloaded, and the server is restarted only when where it listens,
// or a setting that needs a restart, changed.
func (l *Local) adopt(ctx context.Context, inst *instance, a account, s Spec, pidfd int, pf pidFileInfo) error {
	p := &proc{pidfd: pidfd, pid: pf.pid, done: make(chan struct{})}
	l.mu.Lock()
	inst.proc = p
	inst.set(StateStarting, nil)
	l.mu.Unlock()
	go l.watch(s.Name, inst, p)
	l.log.Info("postgres adopted", "instance", s.Name, "pid", p.pid, "port", pf.port)
	restart := func(why string, what ...string) error {
		l.log.Info("restarting an adopted postgres", "instance", s.Name, "pid", p.pid, "why", why, "settings", what)
		if err := l.stopProc(ctx, inst, s, p); err != nil {
			return err
		}
		return l.launchReady(ctx, inst, a, s)
	}
	if pf.port != s.Port || pf.socketDir != s.SocketDir {
		// The driver reaches a server by its socket, which the spec no longer names.
		return restart("port or socket directory changed")
	}
	if err := l.waitReady(ctx, s, p); err != nil {
		l.stopProc(ctx, inst, s, p)
		return err
	}
	l.mu.Lock()
	p.ready = true
	l.mu.Unlock()
	if err := l.prepare(a, s); err != nil {
		return err
	}
	if err := l.writeConfig(a, s); err != nil {
		return err
	}
	pending, err := l.reloadProc(ctx, s, p)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		return restart("settings changed that take effect at a restart", pending...)
	}
	l.mu.Lock()
	if inst.proc == p {
		inst.set(StateRunning, nil)
	}
	l.mu.Unlock()
	return nil
}

// watch waits for an adopted server to end, as reap does for a child. It gives up when the
// driver closes (Close has stopped the server by then, Release leaves it running).
func (l *Local) watch(name string, inst *instance, p *proc) {
	defer p.closeFD()
	fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
	for {
		select {
		case <-l.quit:
			return
		default:
		}
		n, err := unix.Poll(fds, 500)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			l.log.Error("watching an adopted postgres", "instance", name, "pid", p.pid, "err", err)
			return
		}
		if n > 0 {
			break
		}
	}
	// Not our child: its exit status went to its parent.
	l.exited(name, inst, p, errors.New("ended (adopted, so its exit status is unknown)"))
}

// Orphan is a server StopOrphans stopped.
type Orphan struct {
	Name    string // the instance it served
	DataDir string
	PID     int
}

// StopOrphans stops the running servers of this driver's owner, working below the
// directory under, whose names known does not list (a cluster or instance deleted while
// serve was away), with their orphaned backends, and removes the lock files they leave.
// Servers of other owners, and postgres processes Borealis did not start, are never
// touched; nor is anything outside under, where a process that only claims to be a
// server could send Borealis. It returns what it stopped; removing an orphan's volume is
// the caller's decision (Destroy).
func (l *Local) StopOrphans(ctx context.Context, under string, known []string) ([]Orphan, error) {
	if err := checkPath("directory", under); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	var out []Orphan
	var errs []error
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !isPostgres(pid) || isBackendTitle(pid) {
			continue
		}
		if owner, ok := procEnv(pid, envOwner); !ok || owner != l.owner {
			continue
		}
		name, ok := procEnv(pid, envInstance)
		if !ok || slices.Contains(known, name) {
			continue
		}
		o, err := l.stopOrphan(ctx, under, pid, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o.PID != 0 {
			out = append(out, o)
		}
	}
	return out, errors.Join(errs...)
}

// stopOrphan stops server pid of instance name, pinned by a pidfd and checked again once
// pinned: its marks, a data directory below under, owned by the account it runs as (not
// root's).
func (l *Local) stopOrphan(ctx context.Context, under string, pid int, name string) (Orphan, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return Orphan{}, nil // gone meanwhile
	}
	dir, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	// The directory itself, not its name: the account owns it and could put a symlink
	// in its place (to another tenant's data directory) once the checks below are done.
	cwd, cerr := unix.Open("/proc/"+strconv.Itoa(pid)+"/cwd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if cerr != nil {
		cwd = -1
	} else {
		defer unix.Close(cwd)
	}
	owner, _ := procEnv(pid, envOwner)
	uid, _ := procUIDOf(pid)
	var st unix.Stat_t
	var dirUID uint32 = 0
	if cerr == nil && unix.Fstat(cwd, &st) == nil {
		dirUID = st.Uid
	}
	if n, _ := procEnv(pid, envInstance); err != nil || cerr != nil || n != name || owner != l.owner || !alive(pid) ||
		!strings.HasPrefix(dir, under+"/") || uid == 0 || dirUID != uid {
		unix.Close(fd)
		l.log.Warn("not stopping a process that claims to be a server of Borealis", "pid", pid, "instance", name, "cwd", dir, "uid", uid)
		return Orphan{}, nil
	}
	l.mu.Lock()
	inst := l.insts[name]
	l.mu.Unlock()
	if inst != nil {
		// A Start, Stop or Destroy of this run's on the same name goes first.
		inst.op.Lock()
		defer inst.op.Unlock()
	}
	l.log.Warn("stopping a server whose instance Borealis no longer has", "instance", name, "pid", pid, "datadir", dir)
	p := &proc{pidfd: fd, pid: pid, done: make(chan struct{})}
	p.stopping.Store(true)
	go l.watch(name, nil, p)
	// No DataDir: stopStrays would go by the name.
	if err := l.stopProc(ctx, nil, Spec{Name: name}, p); err != nil {
		return Orphan{}, err
	}
	if err := l.stopOrphanStrays(ctx, name, cwd, st, uid); err != nil {
		return Orphan{}, err
	}
	return Orphan{Name: name, DataDir: dir, PID: pid}, nil
}

// stopOrphanStrays does for a stopped orphan what stopStrays does for a data directory,
// on the directory the orphan worked in (dirfd, st) and its account's processes only: its
// backends left running are stopped and its postmaster.pid removed.
func (l *Local) stopOrphanStrays(ctx context.Context, name string, dirfd int, st unix.Stat_t, uid uint32) error {
	in := func() []int {
		var out []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || !isPostgres(pid) || !alive(pid) {
				continue
			}
			var cst unix.Stat_t
			if u, ok := procUIDOf(pid); !ok || u != uid || unix.Stat("/proc/"+e.Name()+"/cwd", &cst) != nil ||
				cst.Dev != st.Dev || cst.Ino != st.Ino {
				continue
			}
			out = append(out, pid)
		}
		return out
	}
	for _, pid := range in() {
		l.log.Warn("stopping an orphaned postgres backend", "instance", name, "pid", pid)
		l.terminate(ctx, pid, []syscall.Signal{syscall.SIGQUIT, syscall.SIGKILL},
			[]time.Duration{5 * time.Second, 5 * time.Second})
	}
	if left := in(); len(left) > 0 {
		return fmt.Errorf("engine: %s: postgres process %d did not exit", name, left[0])
	}
	if err := unix.Unlinkat(dirfd, pidFile, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("engine: %s: removing %s: %w", name, pidFile, err)
	}
	return nil
}
