package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// account is the OS user pgBackRest runs as: the cluster's own.
type account struct {
	name     string
	uid, gid int
	setuid   bool // Borealis is root and switches to it
}

func lookupAccount(name string) (account, error) {
	if name == "" || os.Geteuid() != 0 {
		return account{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, fmt.Errorf("backup: account %q: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return account{}, fmt.Errorf("backup: account %q: %w", name, err)
	}
	if uid == 0 {
		return account{}, fmt.Errorf("backup: account %q is root", name)
	}
	return account{name: name, uid: uid, gid: gid, setuid: true}, nil
}

// invocation is one pgbackrest run.
type invocation struct {
	as       account
	conf     string
	stanza   string
	command  string
	args     []string  // options, before the command
	operands []string  // after the command (a WAL file, a repository path)
	password string    // rdsadmin's, for commands that connect (PGPASSWORD); never logged
	stdout   io.Writer // where the output goes (repo-get); nil: returned by run
	stdin    io.Reader // what the command reads (repo-put); nil: nothing
	env      []string  // PGBACKREST_* options kept off the command line, which any host user may read
}

// run runs pgbackrest and returns its stdout. Its error names the command and carries
// pgBackRest's own message (which holds no secret: passes and passwords come from the
// configuration and the environment).
func (m *Manager) run(ctx context.Context, in invocation) ([]byte, error) {
	args := []string{"--config=" + in.conf}
	if in.stanza != "" {
		args = append(args, "--stanza="+in.stanza)
	}
	args = append(args, in.args...)
	args = append(args, in.command)
	args = append(args, in.operands...)
	cmd := exec.CommandContext(ctx, m.bin, args...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}
	if in.password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+in.password)
	}
	cmd.Env = append(cmd.Env, in.env...)
	if in.as.setuid {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(in.as.uid), Gid: uint32(in.as.gid), Groups: []uint32{uint32(in.as.gid)}},
			Pdeathsig:  syscall.SIGKILL,
		}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if in.stdout != nil {
		cmd.Stdout = in.stdout
	}
	cmd.Stdin = in.stdin
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return out.Bytes(), &runError{command: in.command, err: err, msg: msg}
	}
	return out.Bytes(), nil
}

type runError struct {
	command string
	err     error
	msg     string
}

func (e *runError) Error() string {
	return fmt.Sprintf("backup: pgbackrest %s: %v: %s", e.command, e.err, e.msg)
}

func (e *runError) Unwrap() error { return e.err }

// code is pgBackRest's error code (its exit status), 0 when unknown.
func (e *runError) code() int {
	var ee *exec.ExitError
	if errors.As(e.err, &ee) {
		return ee.ExitCode()
	}
	return 0
}

// keyedMutex serialises operations per cluster or snapshot.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*sync.Mutex{}
	}
	l := k.m[key]
	if l == nil {
		l = &sync.Mutex{}
		k.m[key] = l
	}
	k.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// opTable is the progress of running snapshots and restores, in memory: a crash forgets
// them, and the caller then finds PhaseNone (or the complete result on disk).
type opTable struct {
	mu sync.Mutex
	m  map[string]Progress
}

func (t *opTable) set(key string, p Progress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]Progress{}
	}
	t.m[key] = p
}

func (t *opTable) get(key string) Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[key]
}

func (t *opTable) drop(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key)
}
