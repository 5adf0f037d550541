package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

// What Borealis itself (root, not a cluster's account) does in an S3 bucket: remove a
// deleted cluster's stanza, remove and copy snapshot repositories. Each runs pgBackRest
// as root with a configuration of its own, 0600 in a 0700 directory under Root, made for
// the one command and removed after it; root never decrypts what it moves (repo-get and
// repo-put --raw), so the cipher pass in that configuration is never used.

var (
	archiveIDRE = regexp.MustCompile(`^[0-9]{1,3}-[0-9]{1,9}$`)
	segmentRE   = regexp.MustCompile(`^[0-9A-F]{24}$`)
)

// adminName is Root's directory for those configurations (root's alone, 0700).
const adminName = ".admin"

// snapshotKey is where snapshot id's repository lives in the bucket, relative to the
// configured prefix: its stanza is the snapshotted cluster's, as in a local snapshot.
func snapshotKey(id string) string { return snapshotsName + "/" + id }

// s3Prefix is the configured path in the bucket, "/" for none.
func (m *Manager) s3Prefix() string {
	return "/" + strings.Trim(path.Clean("/"+m.o.S3.Prefix), "/")
}

// s3SnapshotRepo is snapshot id's repository in the bucket, with stanza's cipher pass.
func (m *Manager) s3SnapshotRepo(stanza, id string) (repo, error) {
	r, err := m.clusterRepo(stanza)
	if err != nil {
		return repo{}, err
	}
	r.path = path.Join(m.s3Prefix(), snapshotKey(id))
	return r, nil
}

// s3SnapshotSource is the repository, stanza and set a restore from snapshot id reads.
func (m *Manager) s3SnapshotSource(id string) (string, string, repo, error) {
	rec, err := m.readRecord(id)
	if err != nil {
		return "", "", repo{}, err
	}
	r, err := m.s3SnapshotRepo(rec.Source, id)
	return rec.Source, rec.Label, r, err
}

// adminConf writes a configuration whose repo1 is the bucket at repoPath, in a fresh
// directory under Root, and returns its path and a function that removes it.
func (m *Manager) adminConf(repoPath, stanza string) (string, func(), error) {
	base := filepath.Join(m.o.Root, adminName)
	if err := os.Mkdir(base, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", nil, fmt.Errorf("backup: %w", err)
	}
	dir, err := os.MkdirTemp(base, "op-")
	if err != nil {
		return "", nil, fmt.Errorf("backup: %w", err)
	}
	done := func() { os.RemoveAll(dir) }
	r, err := m.clusterRepo(stanza)
	if err != nil {
		done()
		return "", nil, err
	}
	r.path = repoPath
	conf := filepath.Join(dir, confName)
	if err := writeFileAs(conf, []byte(renderConf(dir, []repo{r})), os.Geteuid(), os.Getegid(), 0o600); err != nil {
		done()
		return "", nil, err
	}
	return conf, done, nil
}

// s3StanzaDelete removes stanza's archive and backups from the repository at repoPath in
// the bucket (pgBackRest's stanza-delete, after its stop; --force: no server of it runs,
// and pg1-path names none). Idempotent: a stanza already gone is a success.
func (m *Manager) s3StanzaDelete(ctx context.Context, repoPath, stanza string) error {
	conf, done, err := m.adminConf(repoPath, stanza)
	if err != nil {
		return err
	}
	defer done()
	if _, err := m.rootRun(ctx, conf, "--stanza="+stanza, "stop"); err != nil {
		return err
	}
	_, err = m.rootRun(ctx, conf, "--stanza="+stanza, "--force", "--pg1-path="+filepath.Join(filepath.Dir(conf), "no-server"), "stanza-delete")
	return err
}

// s3Remove removes everything below key (relative to the prefix) in the bucket.
func (m *Manager) s3Remove(ctx context.Context, key string) error {
	conf, done, err := m.adminConf(m.s3Prefix(), "admin")
	if err != nil {
		return err
	}
	defer done()
	_, err = m.rootRun(ctx, conf, "--recurse", "repo-rm", key)
	return err
}

// s3Files lists the files below key (relative to the prefix), relative to key.
func (m *Manager) s3Files(ctx context.Context, conf, key string) ([]string, error) {
	out, err := m.rootRun(ctx, conf, "--recurse", "--output=json", "repo-ls", key)
	if err != nil {
		return nil, err
	}
	var ls map[string]struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(out, &ls); err != nil {
		return nil, fmt.Errorf("backup: pgbackrest repo-ls: %w", err)
	}
	var files []string
	for name, e := range ls {
		if e.Type == "file" {
			files = append(files, name)
		}
	}
	sort.Strings(files)
	return files, nil
}

// s3Copy copies every file below from to the same name below to (keys relative to the
// prefix), byte for byte: repo-get --raw piped into repo-put --raw, so that nothing is
// decrypted on the way.
func (m *Manager) s3Copy(ctx context.Context, from, to string) error {
	conf, done, err := m.adminConf(m.s3Prefix(), "admin")
	if err != nil {
		return err
	}
	defer done()
	files, err := m.s3Files(ctx, conf, from)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("backup: %s holds no file", from)
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.s3CopyFile(ctx, conf, from+"/"+f, to+"/"+f); err != nil {
			return err
		}
	}
	return nil
}

// rootCmd is pgBackRest run as serve's own user with conf and args (the command, then
// its parameters, last).
func (m *Manager) rootCmd(ctx context.Context, conf string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, m.bin, append([]string{"--config=" + conf}, args...)...)
	c.Dir = "/"
	c.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return c
}

// rootRun runs rootCmd and returns its stdout; its error is a *runError naming the
// command (pgBackRest's message holds no secret: the keys are in conf).
func (m *Manager) rootRun(ctx context.Context, conf string, args ...string) ([]byte, error) {
	c := m.rootCmd(ctx, conf, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.Bytes(), &runError{command: commandOf(args), err: err, msg: lastOf(errb.String(), 2000)}
	}
	return out.Bytes(), nil
}

// commandOf is the pgBackRest command among args: the first that is no option.
func commandOf(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

func lastOf(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

func (m *Manager) s3CopyFile(ctx context.Context, conf, from, to string) error {
	get, put := m.rootCmd(ctx, conf, "--raw", "repo-get", from), m.rootCmd(ctx, conf, "--raw", "repo-put", to)
	var getErr, putErr bytes.Buffer
	get.Stderr, put.Stderr = &getErr, &putErr
	pipe, err := get.StdoutPipe()
	if err != nil {
		return err
	}
	put.Stdin = pipe
	if err := get.Start(); err != nil {
		return fmt.Errorf("backup: pgbackrest repo-get: %w", err)
	}
	if err := put.Start(); err != nil {
		get.Process.Kill()
		get.Wait()
		return fmt.Errorf("backup: pgbackrest repo-put: %w", err)
	}
	perr := put.Wait()
	gerr := get.Wait()
	if gerr != nil {
		return &runError{command: "repo-get", err: gerr, msg: lastOf(getErr.String(), 2000)}
	}
	if perr != nil {
		return &runError{command: "repo-put", err: perr, msg: lastOf(putErr.String(), 2000)}
	}
	return nil
}

// dropUnsealed removes what a failed attempt at snapshot id left in the bucket, unless it
// was sealed. A failure here is logged: taking or deleting the snapshot removes it again.
func (m *Manager) dropUnsealed(ctx context.Context, id string) {
	if _, err := m.readRecord(id); err == nil || ctx.Err() != nil {
		return
	}
	if err := m.s3Remove(ctx, snapshotKey(id)); err != nil {
		m.log.Warn("removing an unfinished snapshot from the bucket", "snapshot", id, "err", err)
	}
}

// s3ArchivedAt is when segment reached the bucket (its object's time, to the second, as
// S3 keeps it): archivedAt for a repository in a bucket.
func (m *Manager) s3ArchivedAt(ctx context.Context, resourceID, archiveID, segment string) (time.Time, bool) {
	// Both come from the repository, which the cluster's account writes: they name a path
	// root lists and a pattern, so only their own forms pass.
	if !archiveIDRE.MatchString(archiveID) || !segmentRE.MatchString(segment) {
		return time.Time{}, false
	}
	conf, done, err := m.adminConf(m.repoPath(resourceID), resourceID)
	if err != nil {
		return time.Time{}, false
	}
	defer done()
	out, err := m.rootRun(ctx, conf, "--output=json", "--filter=^"+segment, "repo-ls",
		"archive/"+resourceID+"/"+archiveID+"/"+segment[:16])
	if err != nil {
		m.log.Debug("reading when WAL reached the bucket", "cluster", resourceID, "err", err)
		return time.Time{}, false
	}
	var ls map[string]struct {
		Type string `json:"type"`
		Time int64  `json:"time"`
	}
	if err := json.Unmarshal(out, &ls); err != nil {
		return time.Time{}, false
	}
	var t time.Time
	for _, e := range ls {
		if at := time.Unix(e.Time, 0); e.Type == "file" && at.After(t) {
			t = at
		}
	}
	return t.UTC(), !t.IsZero()
}
