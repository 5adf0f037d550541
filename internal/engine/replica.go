package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/borealis-db/borealis/internal/scram"
)

// replicationPassword is Replicator's password in the cluster of s: derived from rdsadmin's,
// which every server of a cluster shares and only Borealis knows, so that nothing more is
// stored and a reader made on any serve run finds the same one.
func replicationPassword(s Spec) string {
	m := hmac.New(sha256.New, []byte(s.AdminPassword))
	m.Write([]byte("borealis streaming replication"))
	return hex.EncodeToString(m.Sum(nil))
}

// primaryConninfo is a reader's primary_conninfo: the writer's socket, the password in
// passFile (pg_read_all_settings members read settings, never that file).
func primaryConninfo(s Spec) string {
	p := s.Primary
	return fmt.Sprintf("host=%s port=%d user=%s passfile=%s sslmode=disable application_name=%s",
		p.SocketDir, p.Port, Replicator, filepath.Join(s.DataDir, passFile), s.Name)
}

// passLine is the libpq passfile line for Replicator at the primary of s: libpq matches a
// socket directory other than the default by its path (the password is hex).
func passLine(s Spec) []byte {
	host := strings.NewReplacer(`\`, `\\`, ":", `\:`).Replace(s.Primary.SocketDir)
	return []byte(fmt.Sprintf("%s:%d:*:%s:%s\n", host, s.Primary.Port, Replicator, replicationPassword(s)))
}

// writeStandbyFiles makes the server of s a standby of s.Primary at its next start.
func writeStandbyFiles(a account, s Spec) error {
	if s.Primary == nil {
		return nil
	}
	if err := a.writeFile(filepath.Join(s.DataDir, passFile), passLine(s), 0o600); err != nil {
		return err
	}
	return a.writeFile(filepath.Join(s.DataDir, standbyFile), nil, 0o600)
}

// ensureReplicator gives Replicator on the running server of s its attributes (replication
// and login, nothing else) and the cluster's replication password. The session logs
// nothing: the statement carries the verifier.
func (l *Local) ensureReplicator(ctx context.Context, s Spec) error {
	c, err := l.Connect(ctx, s, Admin)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	if err := setupAdminSession(ctx, c); err != nil {
		return fmt.Errorf("engine: %s: %w", s.Name, err)
	}
	verifier, err := scram.Verifier(replicationPassword(s))
	if err != nil {
		return fmt.Errorf("engine: %s: %w", s.Name, err)
	}
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", Replicator).Scan(&exists); err != nil {
			return fmt.Errorf("engine: %s: replication role: %w", s.Name, err)
		}
		verb := "CREATE ROLE "
		if exists {
			verb = "ALTER ROLE "
		}
		q := verb + ident(Replicator) + " WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS CONNECTION LIMIT 5 PASSWORD " + quoteLiteral(verifier)
		if _, err := tx.Exec(ctx, q); err != nil {
			// Never the statement: it carries the verifier.
			return fmt.Errorf("engine: %s: replication role: %s", s.Name, pgErrText(err))
		}
		return nil
	})
}

// pgErrText is err without anything a server could quote from the statement.
func pgErrText(err error) string {
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) {
		return "SQLSTATE " + pe.Code
	}
	return "failed"
}

// CreateReplica makes the reader volume s from a base backup of the running server of
// source, taken by pg_basebackup as the cluster's OS account (the reader's volume is that
// account's too) over source's socket as Replicator. The copy lands in a staging directory beside
// DataDir and is renamed into place with the marker written last, so that a crash half-way
// leaves no volume that looks complete: the next call starts over.
func (l *Local) CreateReplica(ctx context.Context, s, source Spec) error {
	return l.createReplica(ctx, s, source, false)
}

// Rebase copies the reader volume s afresh from source, whatever it holds.
func (l *Local) Rebase(ctx context.Context, s, source Spec) error {
	return l.createReplica(ctx, s, source, true)
}

func (l *Local) createReplica(ctx context.Context, s, source Spec, afresh bool) error {
	if err := s.validate(); err != nil {
		return err
	}
	if err := source.validate(); err != nil {
		return err
	}
	if s.Primary == nil {
		return fmt.Errorf("engine: %s: a replica needs a primary", s.Name)
	}
	if s.OSUser != source.OSUser || s.AdminPassword != source.AdminPassword {
		return fmt.Errorf("engine: %s: a replica belongs to its source's cluster", s.Name)
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
	if created(s) && l.Standby(s) && !afresh {
		return nil
	}
	if err := l.stop(ctx, inst, s); err != nil {
		return err
	}
	if created(s) {
		// A former writer (a failover moved the cluster's writer away): its WAL may hold
		// what the new writer never got, so it is copied afresh rather than rewound.
		l.log.Warn("the volume of a former writer is copied afresh from the new writer", "instance", s.Name, "source", source.Name)
	}
	if err := l.prepare(a, s); err != nil {
		return err
	}
	if err := l.ensureReplicator(ctx, source); err != nil {
		return err
	}
	staging := s.DataDir + ".new"
	if err := os.RemoveAll(staging); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if err := a.ensureOwnedDir(staging, 0o700); err != nil {
		return err
	}
	l.log.Info("copying the writer for a reader", "instance", s.Name, "source", source.Name, "account", a.name)
	if err := l.runBasebackup(ctx, a, s, source, staging); err != nil {
		os.RemoveAll(staging)
		return err
	}
	// The source's marker came with the copy: this volume is complete only when renamed.
	if err := os.Remove(filepath.Join(staging, Marker)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("engine: %w", err)
	}
	for _, f := range []string{pidFile, passFile, standbyFile} {
		os.Remove(filepath.Join(staging, f))
	}
	// A standby's volume from the start: were the first start to fail, the next call must
	// not take it for a former writer's.
	st := s
	st.DataDir = staging
	if err := writeStandbyFiles(a, st); err != nil {
		return err
	}
	if err := a.writeFile(filepath.Join(staging, Marker), []byte("borealis replica 1\n"), 0o600); err != nil {
		return err
	}
	if err := syncDir(staging); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if err := os.RemoveAll(s.DataDir); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if err := os.Rename(staging, s.DataDir); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if err := syncDir(filepath.Dir(s.DataDir)); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	l.log.Info("reader volume created", "instance", s.Name)
	return nil
}

// runBasebackup copies the running server of source into dir.
func (l *Local) runBasebackup(ctx context.Context, a account, s, source Spec, dir string) error {
	logf, err := openLog(s.LogFile, l.root)
	if err != nil {
		return err
	}
	defer logf.Close()
	conn := fmt.Sprintf("host=%s port=%d user=%s sslmode=disable application_name=%s",
		source.SocketDir, source.Port, Replicator, s.Name)
	cmd := exec.Command(filepath.Join(filepath.Dir(l.postgres), "pg_basebackup"),
		"-D", dir, "-d", conn, "-X", "stream", "-c", "fast", "--no-password")
	cmd.Dir = "/"
	// The password by environment: /proc/PID/environ is the account's and root's alone.
	cmd.Env = append(l.env(), "PGPASSWORD="+replicationPassword(s))
	return l.runTool(ctx, a, s, cmd, logf, "pg_basebackup")
}

// serving tells the postmaster.pid statuses of a server that accepts connections: a
// primary's "ready", a hot standby's "standby".
func serving(status string) bool { return status == "ready" || status == "standby" }

// Standby reports whether the volume of s is a standby's: PostgreSQL removes standby.signal
// when it promotes the server.
func (l *Local) Standby(s Spec) bool {
	_, err := os.Stat(filepath.Join(s.DataDir, standbyFile))
	return err == nil
}

// Promote ends the recovery of the running standby of s (pg_promote, waiting until the
// server accepts writes). A server already read-write is left alone.
func (l *Local) Promote(ctx context.Context, s Spec, upTo uint64) error {
	inst, err := l.lockValid(s, s.validatePaths)
	if err != nil {
		return err
	}
	defer inst.op.Unlock()
	c, err := l.Connect(ctx, s, Admin)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	var recovering bool
	if err := c.QueryRow(ctx, "SELECT pg_catalog.pg_is_in_recovery()").Scan(&recovering); err != nil {
		return fmt.Errorf("engine: %s: promote: %w", s.Name, err)
	}
	if !recovering {
		return nil
	}
	if upTo > 0 {
		l.waitReceived(ctx, c, s, upTo)
	}
	var done bool
	if err := c.QueryRow(ctx, "SELECT pg_catalog.pg_promote(true, 60)").Scan(&done); err != nil {
		return fmt.Errorf("engine: %s: promote: %w", s.Name, err)
	}
	if !done {
		return fmt.Errorf("engine: %s: promotion not finished within 60 s; %s ends:\n%s", s.Name, s.LogFile, s.logTails())
	}
	os.Remove(filepath.Join(s.DataDir, passFile))
	l.log.Info("standby promoted: it is the writer", "instance", s.Name)
	return nil
}

// promoteWait bounds how long a promotion waits for WAL the standby may still receive.
const promoteWait = 10 * time.Second

// waitReceived waits, at most promoteWait, until the standby behind c has received the WAL
// up to upTo: what the old writer sent before it stopped is then not lost.
func (l *Local) waitReceived(ctx context.Context, c *pgx.Conn, s Spec, upTo uint64) {
	deadline := time.Now().Add(promoteWait)
	for {
		var text string
		err := c.QueryRow(ctx, "SELECT coalesce(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn(), '0/0')::text").Scan(&text)
		got, perr := ParseLSN(text)
		if err == nil && perr == nil && got > upTo {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			l.log.Warn("promoting a standby that did not receive all of the old writer's WAL", "instance", s.Name, "received", text, "want_past", FormatLSN(upTo))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// EndOfWAL reads the last checkpoint of the stopped server of s with pg_controldata: after
// a clean shutdown, the end of its WAL.
func (l *Local) EndOfWAL(ctx context.Context, s Spec) (uint64, bool) {
	if err := s.validatePaths(); err != nil {
		return 0, false
	}
	cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(l.postgres), "pg_controldata"), "-D", s.DataDir)
	cmd.Env = l.env()
	out, err := cmd.Output()
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Latest checkpoint location:"); ok {
			lsn, err := ParseLSN(strings.TrimSpace(v))
			return lsn, err == nil
		}
	}
	return 0, false
}

// ParseLSN reads PostgreSQL's "X/Y" (two hexadecimal halves).
func ParseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("engine: LSN %q", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("engine: LSN %q: %w", s, err)
	}
	return h<<32 | l, nil
}

// FormatLSN writes an LSN as PostgreSQL does.
func FormatLSN(lsn uint64) string { return fmt.Sprintf("%X/%X", lsn>>32, uint32(lsn)) }

// TimelineStart reads the switch point of the running writer's timeline from its history
// file (the last line: parent timeline, switch point, reason).
func (l *Local) TimelineStart(ctx context.Context, s Spec) (uint64, bool) {
	c, err := l.Connect(ctx, s, Admin)
	if err != nil {
		return 0, false
	}
	defer c.Close(context.Background())
	var history string
	err = c.QueryRow(ctx, `SELECT pg_catalog.pg_read_file('pg_wal/' || substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8) || '.history')`).Scan(&history)
	if err != nil {
		return 0, false // timeline 1 has no history file
	}
	lines := strings.Split(strings.TrimSpace(history), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 2 {
		return 0, false
	}
	lsn, err := ParseLSN(f[1])
	return lsn, err == nil
}
