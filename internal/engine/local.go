package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"
)

// Options tune a Local driver; the zero value is ready to use.
type Options struct {
	// BinDir holds postgres and initdb. Default: `pg_config --bindir`, else
	// /usr/lib/postgresql/15/bin.
	BinDir string
	// OSUser is the shared account PostgreSQL runs as when Borealis is root
	// and a Spec names no account of its own (Spec.OSUser); volumes it owns are
	// taken over by their own account. Default "postgres". When Borealis is not
	// root, PostgreSQL runs as Borealis' own user.
	OSUser string
	// StartTimeout bounds the wait for readiness when the context allows
	// longer. Default 2 minutes (crash recovery can take a while).
	StartTimeout time.Duration
	// StopTimeout is how long a fast shutdown (SIGINT) may take before the
	// driver escalates to immediate shutdown (SIGQUIT), then SIGKILL.
	// Default 30 seconds.
	StopTimeout time.Duration
	// Owner names the Borealis whose servers this driver runs (serve gives its data
	// directory). Servers run detached, marked with it and their name: a driver adopts a
	// running server only when both match, and StopOrphans stops only its owner's.
	Owner string
	// StopWithParent makes every server die with this process (a parent-death signal)
	// instead of outliving it: for test harnesses, whose servers no one would adopt.
	StopWithParent bool
	// Ports is the host's port registry; Destroy releases the claims of the volume's
	// name (the cluster's). nil: none.
	Ports *Ports
}

const defaultBinDir = "/usr/lib/postgresql/15/bin"

// Local runs PostgreSQL servers as children of this process.
type Local struct {
	log *slog.Logger
	// root is true when Borealis runs as root and PostgreSQL as other accounts;
	// otherwise every server runs as self, Borealis' own user.
	root         bool
	self         account
	shared       string     // Options.OSUser
	tenantMu     sync.Mutex // serialises useradd and userdel
	postgres     string
	initdb       string
	version      string
	locale       string
	startTimeout time.Duration
	stopTimeout  time.Duration
	owner        string
	attached     bool // Options.StopWithParent
	ports        *Ports

	spawnc      chan spawnReq
	quit        chan struct{}
	spawnerDone chan struct{}
	exits       chan Exit

	mu     sync.Mutex
	closed bool
	insts  map[string]*instance
}

var _ Driver = (*Local)(nil)

type instance struct {
	op sync.Mutex // serialises the operations on one server

	// Guarded by Local.mu.
	proc  *proc
	state State
	since time.Time
	err   error
}

func (i *instance) set(st State, err error) {
	i.state, i.since, i.err = st, time.Now(), err
}

// proc is one postmaster of this driver's: a child it started, or one it adopted from an
// earlier run (then it is not our child and is watched and signalled through a pidfd, which
// pins the process: a PID reused meanwhile is never signalled).
type proc struct {
	cmd      *exec.Cmd // nil when adopted
	fdMu     sync.Mutex
	pidfd    int // adopted only; -1 once closed
	pid      int
	done     chan struct{} // closed once reaped
	err      error         // wait status, set before done is closed
	stopping atomic.Bool   // an exit from now on was asked for
	ready    bool          // guarded by Local.mu
}

func (p *proc) signal(sig syscall.Signal) error {
	if p.cmd != nil {
		// os.Process knows when the child is reaped: no stray signal.
		return p.cmd.Process.Signal(sig)
	}
	p.fdMu.Lock()
	defer p.fdMu.Unlock()
	if p.pidfd < 0 {
		return os.ErrProcessDone
	}
	return unix.PidfdSendSignal(p.pidfd, sig, nil, 0)
}

// closeFD closes an adopted server's pidfd, never while a signal goes through it (the
// number could name another file by then).
func (p *proc) closeFD() {
	p.fdMu.Lock()
	defer p.fdMu.Unlock()
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
		p.pidfd = -1
	}
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// NewLocal finds the PostgreSQL binaries and the account to run them as.
func NewLocal(logger *slog.Logger, o Options) (*Local, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bin := o.BinDir
	if bin == "" {
		bin = defaultBinDir
		if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
			if d := strings.TrimSpace(string(out)); d != "" {
				bin = d
			}
		}
	}
	l := &Local{
		log:          logger,
		postgres:     filepath.Join(bin, "postgres"),
		initdb:       filepath.Join(bin, "initdb"),
		locale:       "C",
		startTimeout: o.StartTimeout,
		stopTimeout:  o.StopTimeout,
		owner:        o.Owner,
		attached:     o.StopWithParent,
		ports:        o.Ports,
		spawnc:       make(chan spawnReq),
		quit:         make(chan struct{}),
		spawnerDone:  make(chan struct{}),
		exits:        make(chan Exit, 64),
		insts:        map[string]*instance{},
	}
	for _, p := range []string{l.postgres, l.initdb} {
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("engine: PostgreSQL binary %s not found or not executable (set Options.BinDir)", p)
		}
	}
	l.shared = o.OSUser
	if l.shared == "" {
		l.shared = "postgres"
	}
	l.root = os.Geteuid() == 0
	if !l.root {
		l.self = account{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}
		if u, err := user.Current(); err == nil {
			l.self.name = u.Username
		}
	}
	out, err := exec.Command(l.postgres, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("engine: %s --version: %w", l.postgres, err)
	}
	if l.version = parseVersion(string(out)); l.version == "" {
		return nil, fmt.Errorf("engine: cannot read the PostgreSQL version from %q", strings.TrimSpace(string(out)))
	}
	// C.UTF-8 sorts like C but knows the case of non-ASCII letters.
	if _, err := os.Stat("/usr/lib/locale/C.utf8"); err == nil {
		l.locale = "C.UTF-8"
	}
	if l.startTimeout <= 0 {
		l.startTimeout = 2 * time.Minute
	}
	if l.stopTimeout <= 0 {
		l.stopTimeout = 30 * time.Second
	}
	go l.spawner()
	if l.root {
		l.log.Info("postgres driver ready; each cluster's server runs as an OS account of its own", "bin", bin)
	} else {
		l.log.Warn("postgres driver ready, not as root: every server runs as Borealis' own user, so clusters are not isolated from each other's files on this host",
			"bin", bin, "user", l.self.name, "uid", l.self.uid)
	}
	return l, nil
}

// Version is the PostgreSQL version the driver runs, e.g. "15.18": what the RDS API reports
// as EngineVersion.
func (l *Local) Version() string { return l.version }

// parseVersion reads "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
func parseVersion(out string) string {
	f := strings.Fields(out)
	if len(f) < 3 || f[1] != "(PostgreSQL)" {
		return ""
	}
	return f[2]
}

// spawner forks every child, from one goroutine locked to its OS thread.
//
// Servers run detached and outlive Borealis (see detachedProcAttr). initdb,
// the bootstrap server and the servers of a driver with StopWithParent carry
// Pdeathsig instead, so that a SIGKILLed `borealis serve` leaves no half-made
// volume running: the kernel signals them when their parent dies. But "parent" is the
// forking *thread*: a child forked from an ordinary goroutine is signalled
// whenever the runtime retires that thread (it does so when a goroutine that
// locked it returns; go.dev/issue/27505), killing a healthy server while
// Borealis lives on. This goroutine keeps its thread until the driver closes,
// so the signal comes exactly when the process dies. Go sets PR_SET_PDEATHSIG
// in the child after setuid (which would clear it) and re-checks the parent,
// so a parent dying during the fork is caught too.
func (l *Local) spawner() {
	runtime.LockOSThread()
	defer close(l.spawnerDone)
	for {
		select {
		case r := <-l.spawnc:
			r.done <- r.cmd.Start()
		case <-l.quit:
			// Back to the pool rather than exiting: a child that outlived
			// Close must not be signalled now.
			runtime.UnlockOSThread()
			return
		}
	}
}

func (l *Local) spawn(cmd *exec.Cmd) error {
	r := spawnReq{cmd: cmd, done: make(chan error, 1)}
	select {
	case l.spawnc <- r:
		return <-r.done
	case <-l.quit:
		return ErrClosed
	}
}

// env is the whole environment of children: nothing of Borealis' leaks in.
func (l *Local) env() []string {
	return []string{"PATH=/usr/bin:/bin", "LC_ALL=" + l.locale}
}

// account is the OS account the server of s runs as, made when missing.
func (l *Local) account(ctx context.Context, s Spec) (account, error) {
	switch {
	case !l.root:
		return l.self, nil
	case s.OSUser != "":
		return l.ensureTenant(ctx, s)
	}
	a, _, err := lookupAccount(l.shared)
	if err != nil {
		return account{}, fmt.Errorf("engine: PostgreSQL must not run as root and the %q account is missing: %w", l.shared, err)
	}
	return a, nil
}

// tenant tells whether the server of s runs as an account of its own.
func (l *Local) tenant(s Spec) bool { return l.root && s.OSUser != "" }

// detachedProcAttr starts a server that outlives Borealis: a session of its own (no
// terminal's signals, no process group of serve's), no parent-death signal, and its
// output goes to its log file, never to serve's. A restarted serve adopts it.
func detachedProcAttr(a account) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: a.credential(), Setsid: true}
}

func sysProcAttr(a account, deathSig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential: a.credential(),
		// Own process group: a Ctrl-C on serve's terminal reaches Borealis,
		// which stops the servers itself, not the servers behind its back.
		Setpgid:   true,
		Pdeathsig: deathSig,
	}
}

// lock returns the instance for name with its operation lock held.
func (l *Local) lock(name string) (*instance, error) {
	l.mu.Lock()
	inst := l.insts[name]
	if inst == nil {
		inst = &instance{state: StateStopped}
		l.insts[name] = inst
	}
	l.mu.Unlock()
	inst.op.Lock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		inst.op.Unlock()
		return nil, ErrClosed
	}
	return inst, nil
}

// lockValid checks s (s.validate, or s.validatePaths where only the paths matter) and then
// locks its instance; the caller unlocks inst.op.
func (l *Local) lockValid(s Spec, check func() error) (*instance, error) {
	if err := check(); err != nil {
		return nil, err
	}
	return l.lock(s.Name)
}

// Exits reports servers that were running and ended without being asked to.
// The channel is buffered and never closed; when nobody drains it, events
// are dropped (and logged): Status stays authoritative.
func (l *Local) Exits() <-chan Exit { return l.exits }

// Status reports the driver's view of the server named name. A server this
// driver never started is StateStopped.
func (l *Local) Status(name string) Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	inst := l.insts[name]
	if inst == nil {
		return Status{State: StateStopped}
	}
	st := Status{State: inst.state, Since: inst.since, Err: inst.err}
	if inst.proc != nil {
		st.PID = inst.proc.pid
	}
	return st
}

// Create initialises the cluster volume (initdb, then the bootstrap SQL on a
// temporary start without TCP) and leaves the server stopped. A volume that
// holds the marker is left alone; one without it (a crash half-way) is wiped
// and made again.
func (l *Local) Create(ctx context.Context, s Spec, b Bootstrap) error {
	if err := s.validate(); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	inst, err := l.lock(s.Name)
	if err != nil {
		return err
	}
	defer inst.op.Unlock()
	a, err := l.account(ctx, s)
	if err != nil {
		return err
	}
	if created(s) {
		return nil
	}
	if err := l.stop(ctx, inst, s); err != nil {
		return err
	}
	if err := l.prepare(a, s); err != nil {
		return err
	}
	if err := wipeDir(s.DataDir); err != nil {
		return err
	}
	l.log.Info("creating cluster volume", "instance", s.Name, "datadir", s.DataDir, "account", a.name)
	if err := l.runInitdb(ctx, a, s); err != nil {
		return err
	}
	if err := l.writeConfig(a, s); err != nil {
		return err
	}
	// No TCP listener while the roles are being made.
	p, err := l.launchSocketOnly(ctx, a, s)
	if err != nil {
		return err
	}
	err = l.bootstrap(ctx, s, b)
	if serr := l.stopProc(ctx, nil, s, p); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if err := a.writeFile(filepath.Join(s.DataDir, Marker), []byte("borealis bootstrap 1\n"), 0o600); err != nil {
		return err
	}
	if err := syncDir(s.DataDir); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	l.log.Info("cluster volume created", "instance", s.Name)
	return nil
}

// createdAccount is the account of the server of s, whose volume Create must have made
// (ErrNotCreated otherwise).
func (l *Local) createdAccount(ctx context.Context, s Spec) (account, error) {
	if !created(s) {
		return account{}, fmt.Errorf("%w: %s", ErrNotCreated, s.DataDir)
	}
	return l.account(ctx, s)
}

func created(s Spec) bool {
	_, err := os.Stat(filepath.Join(s.DataDir, Marker))
	return err == nil
}

// prepare makes the directories of s and checks PostgreSQL can reach them.
// The log file is opened by Borealis, so only its directory is made. A server
// with an account of its own gets its directories for itself (see
// prepareVolumeDir, prepareTenantSocketDir), a volume of the shared account
// included (takeOver).
func (l *Local) prepare(a account, s Spec) error {
	for _, p := range []string{s.DataDir, s.SocketDir} {
		if err := a.checkTraversable(p); err != nil {
			return err
		}
	}
	if !l.tenant(s) {
		if err := a.prepareSocketDir(s.SocketDir); err != nil {
			return err
		}
		if err := mkdirParents(s.LogFile); err != nil {
			return err
		}
		if err := a.ensureLogDir(s.LogDir); err != nil {
			return err
		}
		return a.ensureOwnedDir(s.DataDir, 0o700)
	}
	for _, p := range []string{s.DataDir, s.SocketDir, s.LogFile} {
		if err := checkNotSwappable(p); err != nil {
			return err
		}
	}
	for _, p := range []string{s.DataDir, s.LogFile} {
		if err := mkdirParents(p); err != nil {
			return err
		}
	}
	if err := prepareVolumeDir(a, filepath.Dir(s.DataDir)); err != nil {
		return err
	}
	if err := l.prepareTenantSocketDir(a, s.SocketDir); err != nil {
		return err
	}
	if created(s) {
		if err := l.takeOver(a, s.DataDir, "data directory"); err != nil {
			return err
		}
	}
	if err := a.ensureLogDir(s.LogDir); err != nil {
		return err
	}
	return a.ensureOwnedDir(s.DataDir, 0o700)
}

func (l *Local) runInitdb(ctx context.Context, a account, s Spec) error {
	// Beside DataDir (which must be empty for initdb) under a fixed name, so
	// that a crash leaves no stray copy: the next Create overwrites it.
	pw := pwFile(s)
	defer os.Remove(pw)
	if err := a.writeFile(pw, []byte(s.AdminPassword+"\n"), 0o600); err != nil {
		return err
	}
	logf, err := openLog(s.LogFile, l.root)
	if err != nil {
		return err
	}
	// SCRAM: rdsadmin's stored verifier is then no login by itself, as an md5 one is.
	cmd := exec.Command(l.initdb, "-D", s.DataDir, "-U", Admin, "--pwfile="+pw,
		"-E", "UTF8", "--locale="+l.locale, "--auth=scram-sha-256")
	cmd.Dir = "/" // initdb fails in a cwd it cannot read (e.g. /root)
	cmd.Env = l.env()
	err = l.runTool(ctx, a, s, cmd, logf, "initdb")
	logf.Close()
	return err
}

// runTool runs one of PostgreSQL's tools (initdb, pg_basebackup) as account a, its output
// into s's log, until it ends or ctx does. A half-done run is worthless: it dies with
// Borealis, and is killed when ctx ends.
func (l *Local) runTool(ctx context.Context, a account, s Spec, cmd *exec.Cmd, logf *os.File, name string) error {
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr(a, syscall.SIGKILL)
	if err := l.spawn(cmd); err != nil {
		return fmt.Errorf("engine: %s: starting %s: %w", s.Name, name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("engine: %s: %s: %w; %s ends:\n%s", s.Name, name, err, s.LogFile, s.logTails())
	}
	return nil
}

func pwFile(s Spec) string {
	return filepath.Join(filepath.Dir(s.DataDir), "."+filepath.Base(s.DataDir)+".pwfile")
}

// writeConfig (re)writes every file Borealis manages in DataDir.
func (l *Local) writeConfig(a account, s Spec) error {
	dd := s.DataDir
	conf, err := readPlain(filepath.Join(dd, confFile))
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if c := withInclude(conf); c != nil {
		if err := a.writeFile(filepath.Join(dd, confFile), c, 0o600); err != nil {
			return err
		}
	}
	files := []struct {
		name string
		data []byte
	}{
		{certFile, s.CertPEM},
		{keyFile, s.KeyPEM},
		{hbaFile, []byte(renderHBA(hbaRules(s)))},
		{managedConf, []byte(renderConf(s))},
	}
	for _, f := range files {
		if err := a.writeFile(filepath.Join(dd, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	if err := writeStandbyFiles(a, s); err != nil {
		return err
	}
	auto, err := readPlain(filepath.Join(dd, autoConfFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("engine: %w", err)
	}
	if c, dropped := scrubAutoConf(auto); c != nil {
		l.log.Warn("dropping managed settings from postgresql.auto.conf", "instance", s.Name, "settings", dropped)
		if err := a.writeFile(filepath.Join(dd, autoConfFile), c, 0o600); err != nil {
			return err
		}
	}
	if err := syncDir(dd); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}

// launchWait launches a server for s and waits until it is ready; one that does not get
// ready is stopped.
func (l *Local) launchWait(ctx context.Context, inst *instance, a account, s Spec, extra ...string) (*proc, error) {
	p, err := l.launch(inst, a, s, extra...)
	if err != nil {
		return nil, err
	}
	if err := l.waitReady(ctx, s, p); err != nil {
		l.stopProc(ctx, inst, s, p)
		return nil, err
	}
	return p, nil
}

// launchSocketOnly launches a server for s that listens on its unix socket only (no TCP
// listener: no endpoint reaches it) and is no server of the driver's, and waits until it is
// ready. The caller stops it (stopProc with a nil instance).
func (l *Local) launchSocketOnly(ctx context.Context, a account, s Spec) (*proc, error) {
	return l.launchWait(ctx, nil, a, s, "-c", "listen_addresses=")
}

// launch starts a postmaster on s. inst is nil for the bootstrap start,
// which is no server of the driver's.
func (l *Local) launch(inst *instance, a account, s Spec, extra ...string) (*proc, error) {
	logf, err := openLog(s.LogFile, l.root)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(l.postgres, append([]string{"-D", s.DataDir}, extra...)...)
	cmd.Dir = s.DataDir
	cmd.Env = l.env()
	cmd.Stdout, cmd.Stderr = logf, logf
	if inst != nil && !l.attached {
		cmd.Env = append(cmd.Env, envInstance+"="+s.Name, envOwner+"="+l.owner)
		cmd.SysProcAttr = detachedProcAttr(a)
	} else {
		// SIGINT is PostgreSQL's fast shutdown: clean and quick.
		cmd.SysProcAttr = sysProcAttr(a, syscall.SIGINT)
	}
	err = l.spawn(cmd)
	logf.Close()
	if err != nil {
		return nil, fmt.Errorf("engine: %s: starting postgres: %w", s.Name, err)
	}
	p := &proc{cmd: cmd, pidfd: -1, pid: cmd.Process.Pid, done: make(chan struct{})}
	if inst != nil {
		l.mu.Lock()
		inst.proc = p
		inst.set(StateStarting, nil)
		l.mu.Unlock()
	}
	l.log.Info("postgres started", "instance", s.Name, "pid", p.pid, "port", s.Port, "account", a.name)
	go l.reap(s.Name, inst, p)
	return p, nil
}

func (l *Local) reap(name string, inst *instance, p *proc) {
	l.exited(name, inst, p, p.cmd.Wait())
}

// exited records that p ended with err.
func (l *Local) exited(name string, inst *instance, p *proc, err error) {
	var ev *Exit
	l.mu.Lock()
	p.err = err
	close(p.done)
	if inst != nil && inst.proc == p {
		inst.proc = nil
		switch {
		case p.stopping.Load():
			inst.set(StateStopped, nil)
		default:
			why := err
			if why == nil {
				why = errors.New("exit status 0")
			}
			inst.set(StateCrashed, fmt.Errorf("postmaster %d ended unexpectedly: %w", p.pid, why))
			if p.ready {
				ev = &Exit{Name: name, PID: p.pid, Err: why, At: inst.since}
			}
		}
	}
	l.mu.Unlock()
	switch {
	case ev != nil:
		l.log.Error("postgres exited unexpectedly", "instance", name, "pid", p.pid, "err", ev.Err)
		select {
		case l.exits <- *ev:
		default:
			l.log.Warn("exit events not drained; dropped one", "instance", name)
		}
	case p.stopping.Load():
		l.log.Info("postgres stopped", "instance", name, "pid", p.pid)
	default:
		l.log.Warn("postgres exited", "instance", name, "pid", p.pid, "err", err)
	}
}

// waitReady polls postmaster.pid for the "ready" status, which costs less
// than connecting.
func (l *Local) waitReady(ctx context.Context, s Spec, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, l.startTimeout)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if pid, st := readPidFile(filepath.Join(s.DataDir, pidFile)); pid == p.pid && serving(st) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("engine: %s: postgres exited during startup (%v); %s ends:\n%s",
				s.Name, p.err, s.LogFile, s.logTails())
		case <-ctx.Done():
			return fmt.Errorf("engine: %s: postgres not ready: %w; %s ends:\n%s",
				s.Name, ctx.Err(), s.LogFile, s.logTails())
		case <-t.C:
		}
	}
}

// Start writes the config files and certificate and starts the server,
// waiting until it accepts connections. It is a no-op when this driver's
// server is running. A server an earlier run of this driver's owner started
// for s is adopted, not restarted: it is reloaded with the files, and
// restarted only when where it listens or a setting that needs a restart
// changed (see adopt). Any other postgres on DataDir (or orphaned backends) is
// stopped first. A port held by another program fails with a *PortTakenError.
func (l *Local) Start(ctx context.Context, s Spec) error {
	inst, err := l.lockValid(s, s.validate)
	if err != nil {
		return err
	}
	defer inst.op.Unlock()
	return l.start(ctx, inst, s)
}

func (l *Local) start(ctx context.Context, inst *instance, s Spec) error {
	l.mu.Lock()
	running := inst.proc != nil
	l.mu.Unlock()
	if running {
		return nil
	}
	a, err := l.createdAccount(ctx, s)
	if err != nil {
		return err
	}
	if fd, pf, ok := l.adoptable(s, a); ok {
		return l.adopt(ctx, inst, a, s, fd, pf)
	}
	return l.launchReady(ctx, inst, a, s)
}

// launchReady starts a new server for s and waits until it is ready.
func (l *Local) launchReady(ctx context.Context, inst *instance, a account, s Spec) error {
	// Strays first: a server of the shared account must be gone before its
	// volume changes hands.
	if err := l.stopStrays(ctx, s); err != nil {
		return err
	}
	if err := l.prepare(a, s); err != nil {
		return err
	}
	if err := l.writeConfig(a, s); err != nil {
		return err
	}
	if err := checkPortFree(s.ListenAddr, s.Port); err != nil {
		return fmt.Errorf("engine: %s: %w", s.Name, err)
	}
	p, err := l.launchWait(ctx, inst, a, s)
	if err != nil {
		return err
	}
	l.mu.Lock()
	p.ready = true
	if inst.proc == p {
		inst.set(StateRunning, nil)
	}
	l.mu.Unlock()
	return nil
}

// Stop shuts down this driver's server for s and any other postgres left on
// s.DataDir: fast shutdown, then immediate shutdown and SIGKILL on timeout
// (or at once when ctx ends).
func (l *Local) Stop(ctx context.Context, s Spec) error {
	inst, err := l.lockValid(s, s.validatePaths)
	if err != nil {
		return err
	}
	defer inst.op.Unlock()
	return l.stop(ctx, inst, s)
}

func (l *Local) stop(ctx context.Context, inst *instance, s Spec) error {
	l.mu.Lock()
	p := inst.proc
	l.mu.Unlock()
	if p != nil {
		if err := l.stopProc(ctx, inst, s, p); err != nil {
			return err
		}
	}
	return l.stopStrays(ctx, s)
}

// Restart stops and starts the server (for settings that need a restart).
func (l *Local) Restart(ctx context.Context, s Spec) error {
	inst, err := l.lockValid(s, s.validate)
	if err != nil {
		return err
	}
	defer inst.op.Unlock()
	if err := l.stop(ctx, inst, s); err != nil {
		return err
	}
	return l.start(ctx, inst, s)
}

// Reload rewrites the config files and certificate and, when the server
// runs, signals it and waits until it has re-read them. A stopped server
// picks the files up at its next Start.
func (l *Local) Reload(ctx context.Context, s Spec) error {
	inst, err := l.lockValid(s, s.validate)
	if err != nil {
		return err
	}
	defer inst.op.Unlock()
	a, err := l.createdAccount(ctx, s)
	if err != nil {
		return err
	}
	if err := l.writeConfig(a, s); err != nil {
		return err
	}
	l.mu.Lock()
	p := inst.proc
	l.mu.Unlock()
	if p == nil {
		return nil
	}
	_, err = l.reloadProc(ctx, s, p)
	return err
}

// cancelWriters cancels the statements of sessions, but superusers', whose transaction
// has written (it has a transaction id) or that write temporary files (named
// pgsql_tmpPID..., the PID of the session, a parallel query's leader's too).
const cancelWriters = `SELECT pg_catalog.pg_cancel_backend(a.pid) FROM pg_catalog.pg_stat_activity a
	JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid
	WHERE a.backend_type = 'client backend' AND a.state = 'active'
	AND (a.backend_xid IS NOT NULL OR a.pid IN (
		SELECT pg_catalog.substring(f, '^pgsql_tmp([0-9]+)')::int
		FROM pg_catalog.pg_ls_dir('base/pgsql_tmp', true, false) f WHERE f ~ '^pgsql_tmp[0-9]+'))
	AND NOT r.rolsuper AND a.pid <> pg_catalog.pg_backend_pid()`

// reloadProc signals p to re-read its files and waits until it has. It returns the
// settings whose new values wait for a restart.
func (l *Local) reloadProc(ctx context.Context, s Spec, p *proc) ([]string, error) {
	// The rdsadmin database: the master user owns "postgres" and could attach settings to it.
	c, err := l.Connect(ctx, s, Admin)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	// Every process stamps pg_conf_load_time() when it re-reads the files; a
	// backend does so after the postmaster, which has then loaded pg_hba.conf.
	var before, now time.Time
	if err := c.QueryRow(ctx, "SELECT pg_catalog.pg_conf_load_time()").Scan(&before); err != nil {
		return nil, fmt.Errorf("engine: %s: reload: %w", s.Name, err)
	}
	if err := p.signal(syscall.SIGHUP); err != nil {
		return nil, fmt.Errorf("engine: %s: reload: %w", s.Name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if err := c.QueryRow(wctx, "SELECT pg_catalog.pg_conf_load_time()").Scan(&now); err != nil {
			return nil, fmt.Errorf("engine: %s: reload not confirmed: %w; %s ends:\n%s", s.Name, err, s.LogFile, s.logTails())
		}
		if now.After(before) {
			break
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("engine: %s: reload not confirmed: %w; %s ends:\n%s", s.Name, wctx.Err(), s.LogFile, s.logTails())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if s.ReadOnly {
		// Sessions re-read the settings between statements: one writing now (a single
		// INSERT of gigabytes) would go on filling the volume. Cancel it; its next
		// statement is refused.
		if _, err := c.Exec(ctx, cancelWriters); err != nil {
			return nil, fmt.Errorf("engine: %s: cancel writing statements: %w", s.Name, err)
		}
	}
	rows, err := c.Query(ctx, "SELECT name FROM pg_catalog.pg_settings WHERE pending_restart ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("engine: %s: reload: %w", s.Name, err)
	}
	pending, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("engine: %s: reload: %w", s.Name, err)
	}
	return pending, nil
}

// Destroy stops the server and removes DataDir, then the server's own account
// with its socket directory and shared memory, and releases the ports claimed
// for s.Name (Options.Ports). The log file stays; the log directory goes.
func (l *Local) Destroy(ctx context.Context, s Spec) error {
	inst, err := l.lockValid(s, s.validatePaths)
	if err != nil {
		return err
	}
	defer inst.op.Unlock()
	if err := l.stop(ctx, inst, s); err != nil {
		return err
	}
	os.Remove(pwFile(s))
	if err := os.RemoveAll(s.DataDir); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if s.LogDir != "" {
		// RemoveAll never follows a link the server's account put in it.
		if err := os.RemoveAll(s.LogDir); err != nil {
			return fmt.Errorf("engine: %w", err)
		}
	}
	if l.tenant(s) {
		if err := l.forgetTenant(ctx, s); err != nil {
			return err
		}
	}
	if l.ports != nil {
		if err := l.ports.ReleaseName(s.Name); err != nil {
			return err
		}
	}
	l.mu.Lock()
	inst.set(StateStopped, nil)
	l.mu.Unlock()
	l.log.Info("cluster volume destroyed", "instance", s.Name, "datadir", s.DataDir)
	return nil
}

// Connect opens a session as rdsadmin over the unix socket.
func (l *Local) Connect(ctx context.Context, s Spec, database string) (*pgx.Conn, error) {
	if err := s.validatePaths(); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig("sslmode=disable")
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	// Set every field: ParseConfig also read PG* variables of the environment.
	cfg.Host, cfg.Port = s.SocketDir, uint16(s.Port)
	cfg.User, cfg.Password, cfg.Database = Admin, s.AdminPassword, database
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	// search_path is pinned in the startup packet, whose settings outrank ALTER DATABASE /
	// ALTER ROLE ones: a database owner must not be able to put its own functions or
	// operators in front of a superuser session's unqualified names.
	cfg.RuntimeParams = map[string]string{"application_name": "borealis", "search_path": "pg_catalog"}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("engine: %s: connecting as %s: %w", s.Name, Admin, err)
	}
	return c, nil
}

// Release refuses further operations and leaves every server running, for the
// next driver of the same owner to adopt (serve asked to keep its servers on exit).
func (l *Local) Release() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.spawnerDone
}

// Close stops every server this driver runs (fast shutdown, escalating),
// then refuses further operations.
func (l *Local) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	insts := make([]*instance, 0, len(l.insts))
	for _, inst := range l.insts {
		insts = append(insts, inst)
	}
	l.mu.Unlock()

	var wg sync.WaitGroup
	errc := make(chan error, len(insts))
	for _, inst := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst.op.Lock() // let a running operation finish
			defer inst.op.Unlock()
			l.mu.Lock()
			p := inst.proc
			l.mu.Unlock()
			if p != nil {
				errc <- l.stopProc(ctx, inst, Spec{}, p)
			}
		}()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	close(l.quit)
	<-l.spawnerDone
	return errors.Join(errs...)
}

// stopProc stops a postmaster this driver started: SIGINT (fast shutdown),
// then SIGQUIT (immediate), then SIGKILL. It escalates at once when ctx
// ends: a caller giving up must not leave a half-stopped server.
func (l *Local) stopProc(ctx context.Context, inst *instance, s Spec, p *proc) error {
	p.stopping.Store(true)
	if inst != nil {
		l.mu.Lock()
		if inst.proc == p {
			inst.set(StateStopping, nil)
		}
		l.mu.Unlock()
	}
	gone := func(d time.Duration, useCtx bool) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		var cdone <-chan struct{}
		if useCtx {
			cdone = ctx.Done()
		}
		select {
		case <-p.done:
			return true
		case <-t.C:
		case <-cdone:
		}
		return false
	}
	steps := []struct {
		sig    syscall.Signal
		wait   time.Duration
		useCtx bool
	}{
		{syscall.SIGINT, l.stopTimeout, true},
		{syscall.SIGQUIT, 10 * time.Second, true},
		{syscall.SIGKILL, 10 * time.Second, false},
	}
	for _, st := range steps {
		p.signal(st.sig)
		if gone(st.wait, st.useCtx) {
			break
		}
		l.log.Warn("postgres did not stop in time; escalating", "pid", p.pid, "signal", st.sig.String())
	}
	select {
	case <-p.done:
	default:
		return fmt.Errorf("engine: postmaster %d did not exit, even after SIGKILL", p.pid)
	}
	if s.DataDir != "" {
		// After SIGQUIT or SIGKILL, backends may outlive the postmaster.
		return l.stopStrays(ctx, s)
	}
	return nil
}

// stopStrays stops postgres processes on s.DataDir that are not this
// driver's: a postmaster left by an earlier Borealis process, or backends
// orphaned by a postmaster's death, whose shared memory stops a new postmaster
// from starting. It then removes lock files that name dead processes, which
// PostgreSQL would otherwise trust if their PIDs were reused.
func (l *Local) stopStrays(ctx context.Context, s Spec) error {
	ps := serverProcs(s.DataDir)
	if len(ps) > 0 {
		lockPID, _ := readPidFile(filepath.Join(s.DataDir, pidFile))
		for _, pm := range postmasters(ps) {
			if pm != lockPID && isBackendTitle(pm) {
				continue // orphaned backend: below
			}
			l.log.Warn("stopping a postgres left on the data directory by an earlier run",
				"instance", s.Name, "pid", pm)
			l.terminate(ctx, pm, []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGKILL},
				[]time.Duration{l.stopTimeout, 10 * time.Second, 10 * time.Second})
		}
		for _, p := range serverProcs(s.DataDir) {
			l.log.Warn("stopping an orphaned postgres backend", "instance", s.Name, "pid", p.pid)
			l.terminate(ctx, p.pid, []syscall.Signal{syscall.SIGQUIT, syscall.SIGKILL},
				[]time.Duration{5 * time.Second, 5 * time.Second})
		}
		if left := serverProcs(s.DataDir); len(left) > 0 {
			return fmt.Errorf("engine: %s: postgres process %d on %s did not exit", s.Name, left[0].pid, s.DataDir)
		}
	}
	pf := filepath.Join(s.DataDir, pidFile)
	if _, err := os.Stat(pf); err == nil {
		if err := os.Remove(pf); err != nil {
			return fmt.Errorf("engine: %w", err)
		}
	}
	if s.SocketDir != "" && s.Port != 0 {
		sock := SocketPath(s)
		if pid, _ := readPidFile(sock + ".lock"); pid != 0 && !(alive(pid) && isPostgres(pid)) {
			os.Remove(sock + ".lock")
			os.Remove(sock)
		}
	}
	return nil
}

// terminate sends sigs in turn to a process that is not our child, waiting
// waits[i] after each (less once ctx ends, except for the last).
func (l *Local) terminate(ctx context.Context, pid int, sigs []syscall.Signal, waits []time.Duration) {
	for i, sig := range sigs {
		if !alive(pid) {
			return
		}
		syscall.Kill(pid, sig)
		syscall.Kill(pid, syscall.SIGCONT) // a stopped process would hold the signal
		deadline := time.Now().Add(waits[i])
		for alive(pid) && time.Now().Before(deadline) {
			if i < len(sigs)-1 && ctx.Err() != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// isBackendTitle tells a postmaster's child by its process title
// ("postgres: NAME: checkpointer"); a postmaster keeps its command line.
func isBackendTitle(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.HasPrefix(string(b), "postgres: ")
}
