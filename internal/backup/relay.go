package backup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The archive relay (S3 repositories): archive_command runs `RELAY push SOCKET STANZA %f
// %p` as the cluster's account; the client (RelayMain) reads the segment with the
// account's own rights and streams it to serve, which knows the caller by the socket's
// peer uid, checks that uid owns STANZA (the record Prepare wrote), and pushes the
// segment with pgBackRest as root. The account never holds a key; what it sends is only
// ever pushed to its own stanza, where pgBackRest refuses to overwrite an archived
// segment with other content.
//
// Protocol, one request per connection: "push STANZA NAME SIZE\n", SIZE bytes; the answer
// is "ok\n" or "error TEXT\n" (TEXT never carries pgBackRest's output: it goes to the
// server's log, readable by the tenant).
const relayPush = "push"

// RelaySubcommand is the borealis subcommand that runs RelayMain.
const RelaySubcommand = "backup-relay"

// walNameRE is every name archive_command is given: segments, partial segments, backup
// history files, timeline history files.
var walNameRE = regexp.MustCompile(`^([0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$`)

// maxWALFile bounds what one request may send, and so what one stanza may spool on root's
// volume: the segment size of every server Borealis makes (initdb's default, which the
// engine keeps). Anything bigger is no WAL file of a cluster's.
const maxWALFile = 16 << 20

const (
	relayTimeout       = 10 * time.Minute
	relayHeaderTimeout = 30 * time.Second
	relayConnsPerUID   = 4 // the archiver sends one segment at a time
)

// ListenRelay serves archive_command's requests on RelaySocket until the returned stop
// is called (S3 repositories only; otherwise it does nothing). A socket left by a killed
// serve is replaced.
func (m *Manager) ListenRelay(ctx context.Context) (stop func(), err error) {
	if !m.asRoot() {
		return func() {}, nil
	}
	if os.Geteuid() == 0 {
		if err := CheckRelayProgram(m.o.RelayCommand[0]); err != nil {
			return nil, err
		}
		// Every cluster's account runs it: whoever can replace it runs code as all of them.
		if err := unreplaceable(m.o.RelayCommand[0]); err != nil {
			return nil, err
		}
	}
	sock := m.RelaySocket()
	if err := unreplaceable(filepath.Dir(sock)); err != nil {
		return nil, err
	}
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("backup: %w", err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("backup: relay: %w", err)
	}
	// Every cluster's account connects (the peer's uid decides what it may do).
	if err := os.Chmod(sock, 0o666); err != nil {
		l.Close()
		return nil, fmt.Errorf("backup: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.AcceptUnix()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
					m.log.Error("backup relay", "err", err)
				}
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				m.serveRelay(ctx, conn)
			}()
		}
	}()
	return func() {
		cancel()
		l.Close()
		wg.Wait()
	}, nil
}

// unreplaceable checks that only root (Borealis's own account) can change or replace p
// or a directory above it, by the path given and by the one its links lead to: whoever can
// put a socket in the relay's place reads every cluster's WAL and acknowledges what no
// bucket holds. A directory others may write must be sticky (/tmp), its child then root's.
func unreplaceable(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for _, p := range []string{dir, real} {
		for q := p; ; q = filepath.Dir(q) {
			fi, err := os.Lstat(q)
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok {
				return fmt.Errorf("backup: %s: no owner", q)
			}
			writable := fi.Mode().Perm()&0o022 != 0 && (q == p || fi.Mode()&os.ModeSticky == 0) && fi.Mode()&os.ModeSymlink == 0
			if (st.Uid != 0 && int(st.Uid) != os.Geteuid()) || writable {
				return fmt.Errorf("backup: the archive relay needs %s, but others could replace %s (uid %d, mode %v): choose a --backup-repo, a data directory and a borealis binary only root can change", dir, q, st.Uid, fi.Mode())
			}
			if q == "/" {
				break
			}
		}
	}
	return nil
}

// peerUID is the uid of the process at the other end of conn.
func peerUID(conn *net.UnixConn) (int, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return int(cred.Uid), nil
}

func (m *Manager) serveRelay(ctx context.Context, conn *net.UnixConn) {
	conn.SetDeadline(time.Now().Add(relayTimeout))
	ctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	answer := func(err error) {
		if err == nil {
			io.WriteString(conn, "ok\n")
			return
		}
		io.WriteString(conn, "error "+err.Error()+"\n")
	}
	uid, err := peerUID(conn)
	if err != nil {
		answer(errors.New("no peer credentials"))
		return
	}
	// One account cannot hold serve's descriptors and goroutines away from the others.
	release, ok := m.relayConns.take(uid)
	if !ok {
		answer(errors.New("busy: too many requests from this account"))
		return
	}
	defer release()
	conn.SetReadDeadline(time.Now().Add(relayHeaderTimeout))
	r := bufio.NewReaderSize(conn, 512)
	// At most the reader's buffer: a line without its end is refused, not gathered.
	b, err := r.ReadSlice('\n')
	line := string(b)
	if err != nil || len(line) > 400 {
		answer(errors.New("malformed request"))
		return
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != relayPush || checkID("stanza", f[1]) != nil || !walNameRE.MatchString(f[2]) {
		answer(errors.New("malformed request"))
		return
	}
	conn.SetReadDeadline(time.Now().Add(relayTimeout))
	rid, name := f[1], f[2]
	size, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil || size < 0 || size > maxWALFile {
		answer(errors.New("malformed request"))
		return
	}
	// The same answer whether the stanza does not exist or is another's: a caller learns
	// nothing of other clusters.
	errNotOwner := errors.New("refused: this account does not archive to that stanza")
	owns := func() error {
		owner, err := m.ownerOfStanza(rid)
		if err == nil && owner != uid {
			err = errors.New("not its owner")
		}
		return err
	}
	if err := owns(); err != nil {
		if n, ok := m.relayConns.refused(uid, m.now()); ok {
			m.log.Warn("backup relay: refused a WAL push", "uid", uid, "stanza", rid, "why", err, "refusals_not_logged", n)
		}
		answer(errNotOwner)
		return
	}
	unlock, ok := m.pushes.tryLock(rid)
	if !ok {
		answer(errors.New("busy: another push to this stanza is running"))
		return
	}
	defer unlock()
	// Again under the lock: Forget drops the owner, then waits for the push holding it.
	if owns() != nil {
		answer(errNotOwner)
		return
	}
	if err := m.pushWAL(ctx, rid, name, io.LimitReader(r, size), size); err != nil {
		m.log.Error("backup relay: archive-push failed", "cluster", rid, "wal", name, "err", err)
		answer(errors.New("archive-push failed (see serve's log)"))
		return
	}
	answer(nil)
}

// pushWAL copies the segment into root's staging directory for rid, then pushes it to
// rid's stanza as root.
func (m *Manager) pushWAL(ctx context.Context, rid, name string, body io.Reader, size int64) error {
	dir := m.pushPath(rid)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, name)
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, body)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("got %d of %d bytes", n, size)
	}
	if _, err := m.run(ctx, invocation{as: self(), conf: m.rootConfPath(rid), stanza: rid, command: "archive-push", operands: []string{p}}); err != nil {
		return err
	}
	if len(name) == 24 { // a whole segment: when it reached the bucket (see archivedAt)
		if err := writeFileAs(m.lastPushedPath(rid), []byte(name+"\n"), 0, 0, 0o600); err != nil {
			m.log.Warn("backup relay: recording the last archived segment", "cluster", rid, "err", err)
		}
	}
	return nil
}

// lastPushedPath records the newest whole segment the relay pushed for rid; its time is
// when that segment reached the bucket.
func (m *Manager) lastPushedPath(rid string) string {
	return filepath.Join(m.rootWorkPath(rid), "last-archived")
}

// pushedAt is when segment reached the bucket, if it is the last one the relay pushed.
func (m *Manager) pushedAt(rid, segment string) (time.Time, bool) {
	p := m.lastPushedPath(rid)
	b, err := os.ReadFile(p)
	if err != nil || strings.TrimSpace(string(b)) != segment {
		return time.Time{}, false
	}
	fi, err := os.Stat(p)
	if err != nil {
		return time.Time{}, false
	}
	return fi.ModTime().UTC(), true
}

// tryLocks lets one holder per key at a time, refusing others (a stanza's pushes: the
// archiver sends one segment at a time, so a second is a retry or an abuse).
type tryLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when its holder lets go
}

func (t *tryLocks) tryLock(key string) (func(), bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held == nil {
		t.held = map[string]chan struct{}{}
	}
	if t.held[key] != nil {
		return nil, false
	}
	done := make(chan struct{})
	t.held[key] = done
	return func() {
		t.mu.Lock()
		delete(t.held, key)
		close(done)
		t.mu.Unlock()
	}, true
}

// waitHolder returns once whoever holds key now has let go (at once if nobody does): a
// push begun before the caller changed what pushes do (the stanza's configuration, its
// owner) has then ended, and later ones see the change.
func (t *tryLocks) waitHolder(ctx context.Context, key string) error {
	t.mu.Lock()
	done := t.held[key]
	t.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// uidCounts bounds the relay's connections per peer uid, and how often its refusals of
// one uid are logged.
type uidCounts struct {
	mu      sync.Mutex
	n       map[int]int
	logged  map[int]time.Time
	skipped map[int]int
}

// refusalLogEvery is how often the relay logs the refusals of one uid: any local user may
// ask as fast as it likes, and serve's log is no place for all of it.
const refusalLogEvery = time.Minute

// refused counts a refusal of uid at now; ok says to log it, with n refusals not logged
// since the last one that was.
func (u *uidCounts) refused(uid int, now time.Time) (n int, ok bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.logged == nil {
		u.logged, u.skipped = map[int]time.Time{}, map[int]int{}
	}
	if last, seen := u.logged[uid]; seen && now.Sub(last) < refusalLogEvery {
		u.skipped[uid]++
		return 0, false
	}
	n = u.skipped[uid]
	u.logged[uid] = now
	delete(u.skipped, uid)
	return n, true
}

func (u *uidCounts) take(uid int) (func(), bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n == nil {
		u.n = map[int]int{}
	}
	if u.n[uid] >= relayConnsPerUID {
		return nil, false
	}
	u.n[uid]++
	return func() {
		u.mu.Lock()
		u.n[uid]--
		u.mu.Unlock()
	}, true
}

// RelayMain is the client archive_command runs (`borealis backup-relay push SOCKET
// STANZA NAME PATH`), as the cluster's account, in the server's data directory. It
// returns the exit status: 0 once the segment is archived; otherwise PostgreSQL retries.
func RelayMain(args []string, stderr io.Writer) int {
	if err := relayClient(args); err != nil {
		fmt.Fprintf(stderr, "borealis backup-relay: %v\n", err)
		return 1
	}
	return 0
}

func relayClient(args []string) error {
	if len(args) != 5 || args[0] != relayPush {
		return errors.New("usage: push SOCKET STANZA WAL-NAME WAL-PATH")
	}
	sock, rid, name, path := args[1], args[2], args[3], args[4]
	if !walNameRE.MatchString(name) || checkID("stanza", rid) != nil {
		return errors.New("malformed stanza or WAL name")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fmt.Errorf("serve is not reachable (it archives once it runs again): %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(relayTimeout))
	_, werr := fmt.Fprintf(conn, "%s %s %s %d\n", relayPush, rid, name, fi.Size())
	if werr == nil {
		_, werr = io.CopyN(conn, f, fi.Size())
	}
	conn.CloseWrite()
	// serve may answer (a refusal) before it has read everything: its answer says why.
	reply, err := bufio.NewReaderSize(conn, 512).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer from serve: %w", errors.Join(werr, err))
	}
	if reply = strings.TrimSpace(reply); reply != "ok" {
		return errors.New(strings.TrimPrefix(reply, "error "))
	}
	return nil
}
