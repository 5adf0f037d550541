package backup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Inside the new cluster's volume directory while a restore runs: the account's own, 0700.
const stagingName = "restore-staging"

// The text PostgreSQL (13 and later) ends recovery with when the WAL ends before a
// time target: every archived commit precedes the target, so the end of the WAL is
// the state at the target, and recovery runs again without it.
const endedBeforeTarget = "recovery ended before configured recovery target was reached"

func (m *Manager) restore(ctx context.Context, req RestoreRequest) error {
	into := req.Into
	if err := into.check(); err != nil {
		return err
	}
	if err := checkID("source resource id", req.SourceResourceID); err != nil {
		return err
	}
	if req.SnapshotID != "" {
		if err := checkID("snapshot id", req.SnapshotID); err != nil {
			return err
		}
	} else if req.Time.IsZero() && !req.Latest {
		return errors.New("backup: restore needs a time, the latest restorable time, or a snapshot")
	}
	if into.DataDir == "" || filepath.Dir(into.DataDir) != into.VolumeDir {
		return fmt.Errorf("backup: %s: the data directory must be in the volume directory", into.ResourceID)
	}
	defer m.locks.lock("restore/" + into.ResourceID)()
	if _, err := os.Lstat(into.DataDir); err == nil {
		return nil // restored before (a crash after the rename)
	}
	key := "restore/" + into.ResourceID
	m.ops.set(key, Progress{Phase: PhaseRunning})
	err := m.restoreLocked(ctx, req, key)
	if err != nil {
		m.ops.set(key, Progress{Phase: PhaseFailed, Err: err})
		return err
	}
	m.ops.set(key, Progress{Phase: PhaseComplete, Percent: 100})
	return nil
}

func (m *Manager) restoreLocked(ctx context.Context, req RestoreRequest, key string) error {
	into := req.Into
	a, err := lookupAccount(into.OSUser)
	if err != nil {
		return err
	}
	stage := filepath.Join(into.VolumeDir, stagingName)
	if err := os.RemoveAll(stage); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := ownedDir(stage, a, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	// The new cluster's account gets a private copy of what the restore needs (from a
	// bucket too: it holds no key to it) and the source's cipher pass for that copy alone.
	repoDir := filepath.Join(stage, "repo")
	stanza, label, err := m.stageRepo(ctx, req, a, repoDir)
	if err != nil {
		return err
	}
	if m.asRoot() {
		r, err := m.clusterRepo(stanza)
		if req.SnapshotID != "" {
			r, err = m.s3SnapshotRepo(stanza, req.SnapshotID)
		}
		if err == nil {
			err = m.checkSetManifest(ctx, r, stanza, label) // manifest.go
		}
		if err != nil {
			return err
		}
	}
	src := repo{path: repoDir, pass: m.cipherPass(stanza)}
	m.ops.set(key, Progress{Phase: PhaseRunning, Percent: 20})
	work := filepath.Join(stage, "work")
	for _, d := range []string{work, filepath.Join(stage, "sock")} { // sock: see recover
		if err := ownedDir(d, a, 0o700); err != nil {
			return err
		}
	}
	conf := filepath.Join(stage, confName)
	body := renderConf(work, []repo{src})
	if err := writeFileAs(conf, []byte(body), a.uid, a.gid, 0o600); err != nil {
		return err
	}
	if !m.asRoot() {
		// A local repository is its account's to write (manifests too): the staged
		// manifest, read as the new account (root reads none of it), names nothing outside
		// the data directory (manifest.go).
		out, err := m.run(ctx, invocation{as: a, conf: conf, stanza: stanza, command: "repo-get",
			operands: []string{"backup/" + stanza + "/" + label + "/backup.manifest"}})
		if err == nil {
			err = manifestNamesBelowData(out)
		}
		if err != nil {
			return fmt.Errorf("backup: set %s of %s: %w", label, stanza, err)
		}
	}
	data := filepath.Join(stage, "data")
	args := []string{"--pg1-path=" + data, "--set=" + label}
	switch {
	case req.SnapshotID != "":
		args = append(args, "--type=immediate", "--target-action=promote")
	case req.Latest:
		args = append(args, "--type=default")
	default:
		args = append(args, "--type=time", "--target="+req.Time.UTC().Format("2006-01-02 15:04:05.000000+00"),
			"--target-action=promote")
	}
	if _, err := m.run(ctx, invocation{as: a, conf: conf, stanza: stanza, command: "restore", args: args}); err != nil {
		return err
	}
	m.ops.set(key, Progress{Phase: PhaseRunning, Percent: 60})
	// The source's identity and wiring are not the new cluster's: its TLS key, a
	// reader's files. The engine writes the new cluster's on its first start.
	if err := removeBelow(data, []string{"server.key", "server.crt", "standby.signal", "borealis.pgpass", "postmaster.pid"}); err != nil {
		return err
	}
	if err := m.recover(ctx, req, a, stage, data); err != nil {
		return err
	}
	m.ops.set(key, Progress{Phase: PhaseRunning, Percent: 95})
	if err := placeRestored(data, into.DataDir, a); err != nil {
		return err
	}
	if err := syncFile(into.VolumeDir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	m.log.Info("cluster restored", "cluster", into.ResourceID, "source", req.SourceResourceID,
		"snapshot", req.SnapshotID, "set", label)
	return nil
}

// stageRepo copies what the restore needs into dir, the new cluster's account's own: a
// snapshot's repository whole, or the source's repository's catalogues, the set that
// precedes the target and the WAL after it. Root copies files and reads no content;
// pgBackRest then reads them as the new cluster's account. It returns the stanza and set.
func (m *Manager) stageRepo(ctx context.Context, req RestoreRequest, a account, dir string) (string, string, error) {
	if req.SnapshotID != "" {
		rec, err := m.readRecord(req.SnapshotID)
		if err != nil {
			return "", "", err
		}
		// Its repository whole, through the same link-proof staging as a source's: a
		// local snapshot is root's, but the staging directory is the new account's.
		var src repoSource = localRepo{dir: m.snapshotPath(req.SnapshotID)}
		if m.asRoot() {
			src = m.snapshotObjects(req.SnapshotID)
		}
		files, err := src.files(ctx, "")
		if err == nil {
			files = slices.DeleteFunc(files, func(f repoFile) bool { return f.rel == snapshotMeta })
			err = m.stageFiles(ctx, src, dir, files, a)
		}
		if err != nil {
			return "", "", fmt.Errorf("backup: staging snapshot %s: %w", req.SnapshotID, err)
		}
		return rec.Source, rec.Label, nil
	}
	stanza := req.SourceResourceID
	src := m.sourceRepo(stanza)
	// The catalogues first, to choose the set.
	for _, sub := range []string{"backup/" + stanza, "archive/" + stanza} {
		d, err := openStageDir(dir, filepath.FromSlash(sub), a)
		if err != nil {
			return "", "", err
		}
		d.Close()
	}
	for _, f := range []string{"backup/%s/backup.info", "backup/%s/backup.info.copy", "archive/%s/archive.info", "archive/%s/archive.info.copy"} {
		rel := fmt.Sprintf(f, stanza)
		err := m.stageFiles(ctx, src, dir, []repoFile{{rel: rel}}, a)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("backup: staging %s: %w", rel, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "backup", stanza, "backup.info")); err != nil {
		return "", "", ErrNoBackup
	}
	conf := filepath.Join(filepath.Dir(dir), "catalogue.conf")
	if err := writeFileAs(conf, []byte(renderConf(filepath.Dir(dir), []repo{{path: dir, pass: m.cipherPass(stanza)}})), a.uid, a.gid, 0o600); err != nil {
		return "", "", err
	}
	in, err := m.readInfo(ctx, conf, stanza, a)
	os.Remove(conf)
	if err != nil {
		return "", "", err
	}
	set := setFor(in, req)
	if set == nil {
		if len(setsOf(in, nil)) == 0 {
			return "", "", ErrNoBackup
		}
		return "", "", ErrNotRestorable
	}
	setFiles, err := src.files(ctx, "backup/"+stanza+"/"+set.Label)
	if err != nil {
		return "", "", fmt.Errorf("backup: listing set %s: %w", set.Label, err)
	}
	if err := m.stageFiles(ctx, src, dir, setFiles, a); err != nil {
		return "", "", fmt.Errorf("backup: staging set %s: %w", set.Label, err)
	}
	if err := m.stageWAL(ctx, src, dir, stanza, *set, req, a); err != nil {
		return "", "", err
	}
	return stanza, set.Label, nil
}

// setFor is the automated set a point-in-time restore starts from: the last one that
// ended by the target.
func setFor(in infoJSON, req RestoreRequest) *Set {
	var set *Set
	for _, s := range setsOf(in, nil) {
		if s.Kind == KindAutomated && (req.Latest || !s.Stop.After(req.Time)) {
			s := s
			set = &s
		}
	}
	return set
}

// stageWAL copies the timeline histories and the WAL segments from the set's first on:
// all of them for the latest restorable time; for a time target, those archived by then
// and the next two (the first commit after the target is in the segment being written at
// the target). Copying too few is never silent: PostgreSQL then ends recovery before the
// target, which recover handles (the state at the target is the end of that WAL).
func (m *Manager) stageWAL(ctx context.Context, src repoSource, dir, stanza string, set Set, req RestoreRequest, a account) error {
	all, err := src.files(ctx, "archive/"+stanza)
	if err != nil {
		return fmt.Errorf("backup: listing WAL: %w", err)
	}
	var segs []repoFile
	for _, f := range all {
		rest := strings.TrimPrefix(f.rel, "archive/"+stanza+"/")
		if !strings.Contains(rest, "/") { // archive.info: staged already
			continue
		}
		name := path.Base(f.rel)
		switch {
		case strings.HasSuffix(name, ".history"):
			segs = append(segs, repoFile{rel: f.rel}) // zero time: always copied
		case len(name) >= 24 && name[8:24] >= set.ArchiveStart[8:]:
			segs = append(segs, f)
		}
	}
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].mt.Before(segs[j].mt) })
	var want []repoFile
	extra := 2
	for _, s := range segs {
		if !req.Latest && !s.mt.IsZero() && s.mt.After(req.Time) {
			if extra == 0 {
				continue
			}
			extra--
		}
		want = append(want, s)
	}
	if err := m.stageFiles(ctx, src, dir, want, a); err != nil {
		return fmt.Errorf("backup: staging WAL: %w", err)
	}
	return nil
}

func mkdirAllAs(dir string, a account) error {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	if err := mkdirAllAs(filepath.Dir(dir), a); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("backup: %w", err)
	}
	return os.Lchown(dir, a.uid, a.gid)
}

// recover runs PostgreSQL on the restored data, as the new cluster's account, until it
// has replayed to the target and promoted: no TCP, its socket in the staging directory,
// no archiving (the source's archive_command is in the restored configuration), trust
// for local logins (only the account and root reach that socket). Then req.Rekey, a
// checkpoint, and a clean stop.
func (m *Manager) recover(ctx context.Context, req RestoreRequest, a account, stage, data string) error {
	// The new cluster's own socket directory (short enough for a socket address, its
	// account's alone), else one in the staging directory.
	sock := req.Into.SocketDir
	if sock == "" || len(sock)+len("/.s.PGSQL.5432") > maxSocketPath {
		sock = filepath.Join(stage, "sock")
	}
	hba := filepath.Join(stage, "hba.conf")
	if err := writeFileAs(hba, []byte("local all all trust\n"), a.uid, a.gid, 0o600); err != nil {
		return err
	}
	logPath := filepath.Join(stage, "recovery.log")
	for attempt := 0; attempt < 2; attempt++ {
		err := m.runRecovery(ctx, req, a, data, sock, hba, logPath)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errEndedBeforeTarget) || attempt > 0 {
			return err
		}
		if err := dropRecoveryTarget(filepath.Join(data, "postgresql.auto.conf"), a); err != nil {
			return err
		}
		m.log.Info("restore: the WAL ends before the target time; recovering to its end", "cluster", req.Into.ResourceID)
	}
	return nil
}

var errEndedBeforeTarget = errors.New("backup: recovery ended before the target")

// maxSocketPath bounds a unix socket's path (sun_path is 108 bytes with its NUL).
const maxSocketPath = 107

func (m *Manager) postgresBin() (string, error) {
	for _, d := range []string{m.o.PGBinDir, "/usr/lib/postgresql/15/bin"} {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "postgres")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("backup: no postgres binary (set Options.PGBinDir)")
}

func (m *Manager) runRecovery(ctx context.Context, req RestoreRequest, a account, data, sock, hba, logPath string) error {
	bin, err := m.postgresBin()
	if err != nil {
		return err
	}
	logf, err := createBelow(filepath.Dir(logPath), filepath.Base(logPath))
	if err != nil {
		return err
	}
	defer logf.Close()
	port := "5432"
	cmd := exec.Command(bin, "-D", data, "-c", "listen_addresses=", "-c", "port="+port,
		"-c", "unix_socket_directories="+sock, "-c", "unix_socket_permissions=0700",
		"-c", "hba_file="+hba, "-c", "ssl=off", "-c", "archive_mode=off",
		"-c", "logging_collector=off", "-c", "hot_standby=off")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if a.setuid {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), Groups: []uint32{uint32(a.gid)}}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("backup: starting recovery: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGINT) // fast shutdown: a checkpoint, then exit
		select {
		case <-exited:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			<-exited
		}
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			cmd.Process.Kill()
			<-exited
			return ctx.Err()
		case err := <-exited:
			tail := tailOf(logf)
			if strings.Contains(tail, endedBeforeTarget) {
				return errEndedBeforeTarget
			}
			return fmt.Errorf("backup: recovery ended (%v); its log ends:\n%s", err, tail)
		case <-t.C:
		}
		conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=rdsadmin dbname=postgres sslmode=disable connect_timeout=5", sock, port))
		if err != nil {
			continue // still starting or replaying
		}
		var inRecovery bool
		err = conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery)
		if err == nil && inRecovery {
			conn.Close(ctx)
			continue
		}
		if err == nil {
			err = finishRecovery(ctx, conn, req)
		}
		conn.Close(ctx)
		stop()
		if err != nil {
			return fmt.Errorf("backup: after recovery: %w", err)
		}
		return nil
	}
}

// finishRecovery gives the promoted server the new cluster's secrets and drops the
// restore's settings.
func finishRecovery(ctx context.Context, conn *pgx.Conn, req RestoreRequest) error {
	if req.Rekey != nil {
		if err := req.Rekey(ctx, conn); err != nil {
			return err
		}
	}
	for _, s := range []string{"restore_command", "recovery_target_time", "recovery_target_action", "recovery_target"} {
		if _, err := conn.Exec(ctx, "ALTER SYSTEM RESET "+s); err != nil {
			return err
		}
	}
	_, err := conn.Exec(ctx, "CHECKPOINT")
	return err
}

// dropRecoveryTarget removes the recovery target from postgresql.auto.conf.
func dropRecoveryTarget(path string, a account) error {
	return rewriteBelow(filepath.Dir(path), filepath.Base(path), a, func(b []byte) []byte {
		var out bytes.Buffer
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			l := sc.Text()
			if t := strings.TrimSpace(l); strings.HasPrefix(t, "recovery_target_time") || strings.HasPrefix(t, "recovery_target_action") {
				continue
			}
			out.WriteString(l + "\n")
		}
		return out.Bytes()
	})
}
